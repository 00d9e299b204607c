"""The movie index: text per movie -> all-MiniLM-L6-v2 embeddings -> a LanceDB table (+ a serving snapshot).

One index version is a folder (locally, then under ``s3://<bucket>/index/<version>/``):

- ``movies.lance/``: the LanceDB table (id, title, year, genres, popularity features, text hash, vector,
  exact neighbour lists, and any extra columns a ranker needs) — the index of record, searchable with
  LanceDB;
- ``serving.arrow``: the same rows as one Arrow IPC file, which the recommend function reads with
  pyarrow alone (``import lancedb`` costs ~1.6 s here, most of the 2 s cold-start budget);
- ``manifest.json``: version, model, row count, source fingerprint, created at, code version, ranker.

Nothing here imports sentence-transformers or lancedb at module import: both are loaded lazily by the
functions that need them, so the serving path never pays for them.
"""
