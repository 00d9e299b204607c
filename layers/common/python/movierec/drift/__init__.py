"""Data drift: one window of the stream against a reference window (:mod:`.stats` pure, :mod:`.job` I/O)."""
