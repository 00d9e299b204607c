"""Movie metadata from every source, normalised into :class:`movierec.models.movie.Movie`.

- :mod:`.course`: the course movie API's records (``catalog/movies.jsonl`` or live responses);
- :mod:`.movielens`: MovieLens ``movies.csv``, joined to course records through ``ml_to_course_ids.csv``;
- :mod:`.derived`: a record from the stream's movie id alone, for movies no catalog knows;
- :mod:`.movie_api`: the live course movie API client (timeouts, retries, cache);
- :mod:`.resolve`: a record for any movie id, from the best source available.
"""
