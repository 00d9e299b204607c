"""The movie index: text per movie -> all-MiniLM-L6-v2 embeddings -> a LanceDB table.

One index version is a folder (locally, then under ``s3://<bucket>/index/<version>/``):

- ``movies.lance/``: the LanceDB table (id, title, year, genres, popularity features, text hash, vector,
  exact neighbour lists, and any extra columns a ranker needs) — the one artefact of record: searchable
  with LanceDB, and read by the recommend function with pylance (``import lance``; ``import lancedb``
  costs ~1.6 s, most of the 2 s cold-start budget, for a REST client serving never uses);
- ``manifest.json``: version, model, row count, source fingerprint, created at, code version, ranker.

Nothing here imports sentence-transformers or lancedb at module import: both are loaded lazily by the
functions that need them, so the serving path never pays for them.
"""
