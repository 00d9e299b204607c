"""Training the learned ranker (v2) from interactions, gating it, and publishing it as an index version.

- :mod:`~.vocabulary` — which movies get learned neighbours, and the user x movie matrix over them;
- :mod:`~.ease` — EASE (Steck 2019), closed form in numpy, and the EASE baseline ranker;
- :mod:`~.transitions` — "watched next" co-occurrence of consecutive movies in a user's history;
- :mod:`~.model` — fitting both into per-movie top-N neighbour lists (what serving needs, nothing more);
- :mod:`~.gate` — the offline gate: a new version becomes current only if it is at least as good;
- :mod:`~.job` — ``movierec train``: read, fit, gate, publish a new index version, promote or not.
"""
