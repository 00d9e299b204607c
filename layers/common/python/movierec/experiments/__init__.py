"""Experiments on live traffic: pure assignment (:mod:`.assign`), statistics (:mod:`.stats`), per-arm
analysis and guardrails over the answer log (:mod:`.analysis`), the report (:mod:`.report`). The store is
``movierec.dal.experiment_store``; :mod:`.guard` is the one job here that does I/O (the canary rollback)."""
