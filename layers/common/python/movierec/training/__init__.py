"""Training the learned ranker (v2) from interactions, gating it, and publishing it as an index version.

- :mod:`~.vocabulary` — which movies get learned neighbours, and the user x movie matrix over them;
- :mod:`~.ease` — EASE (Steck 2019), closed form in numpy, and the EASE baseline ranker;
- :mod:`~.transitions` — "watched next" co-occurrence of consecutive movies in a user's history;
- :mod:`~.topn` — per-movie top-N lists, the only part of a model that serving reads;
- :mod:`~.model` — fitting both into those lists, laid onto an index version's rows as extra columns;
- :mod:`~.gate` — the offline gate: a new version becomes current only if it is at least as good;
- :mod:`~.job` — ``movierec train``: read, fit, gate, publish a new index version, promote or not;
- :mod:`~.families` — the model families (EASE, ranker v2's variants) as specs of the tuner and of
  ``movierec eval offline``;
- :mod:`~.tuning` — ``movierec train``'s validation split, time-boxed search and family choice.

Why EASE + transitions and not ALS: on the temporal protocols ALS (``implicit``) reached HR@20 0.131 and
plain EASE 0.138, while EASE neighbours folded in with recency weights plus "watched next" transitions
reached 0.187 (docs/evaluation.md, "Ranker v2").
"""
