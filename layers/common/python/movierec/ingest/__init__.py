"""Ingest's orchestration: fold records (logic), read and write items exactly once (dal)."""
