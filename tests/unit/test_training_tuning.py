"""``movierec train``'s tuner and gate: tuning never reads a test target; the gate makes the candidate
beat the current version AND the best baseline."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

import numpy as np
import pytest

from movierec.evaluation import baselines
from movierec.evaluation.interactions import InteractionLog, build_log
from movierec.evaluation.scoring import SHORT, ModelSpec
from movierec.evaluation.split import leave_last_out
from movierec.models.cancel import Cancelled
from movierec.models.ranking import Interaction
from movierec.ranking.popular import PopularRanker
from movierec.training.ease import EaseRanker
from movierec.training.families import POPULAR_BELOW, SIDE_WEIGHTS, FitCache, refinements, split_params, v2_spec
from movierec.training.gate import decide, fresh_holdout, run_gate
from movierec.training.model import FitParams
from movierec.training.tuning import tune
from tests.fixtures.training import tiny_index

MOVIES = 12


def _log(users: int = 40, seed: int = 1) -> InteractionLog:
    """Two taste groups (m0..m5, m6..m11) watched in a loose order, ties in time seeded."""
    rng = random.Random(seed)
    rows = []
    for u in range(users):
        first = 0 if u % 2 == 0 else 6
        movies = [f"m{first + i}" for i in range(6)]
        rng.shuffle(movies)
        rows += [(u, Interaction(m, float(100 * u + n), rating=4.0)) for n, m in enumerate(movies[: rng.randint(3, 6)])]
    return build_log(rows, [f"x{i}" for i in range(200)], source="test", tie_seed=0)  # + 200 movies nobody watched


def _specs() -> dict[str, ModelSpec]:
    vectors = np.array([[1.0, 0.0, 0.1 * i] if i < 6 else [0.0, 1.0, 0.1 * i] for i in range(MOVIES)], np.float32)
    grid = tuple({"lam": lam, "min_count": 2, "tau": tau, "beta": beta} for lam in (1.0, 10.0) for tau, beta in ((10.0, 1.0), (1e6, 0.0)))
    return {
        "popular": ModelSpec(build=lambda train, catalog, **p: PopularRanker.from_training(train, catalog)),
        "markov": ModelSpec(build=lambda train, catalog, **p: baselines.MarkovRanker.fit(train, catalog, **p),
                            grid=({"last": 1}, {"last": 3})),  # fmt: skip
        "ease": ModelSpec(build=lambda train, catalog, **p: EaseRanker.fit(train, catalog, min_count=2, **p),
                          grid=({"lam": 1.0}, {"lam": 10.0})),  # fmt: skip
        "collab-v2": v2_spec(tiny_index(vectors, k=4), grid=grid),
    }


def test_the_tuner_never_reads_a_test_target() -> None:
    """Change every test target (each user's last movie, and when it happened) to something else: the
    tuning, fed the holdout's training part, must not change by a digit. Its validation cases are
    training movies, never a test target."""
    log = _log()
    holdout = fresh_holdout(log, None)
    first = tune(holdout.train, log.catalog, _specs(), budget_s=600)
    poisoned = InteractionLog(
        users={u: h[:-1] + (replace(h[-1], movie_id=f"x{u}", last_seen=h[-1].last_seen + 1),)
               if len(h) >= 3 else h for u, h in log.users.items()},
        catalog=log.catalog, source="test")  # fmt: skip
    other = fresh_holdout(poisoned, None)
    assert {(c.user_id, c.target) for c in other.cases}.isdisjoint({(c.user_id, c.target) for c in holdout.cases})
    assert other.train == holdout.train
    again = tune(other.train, poisoned.catalog, _specs(), budget_s=600)
    assert again.to_dict() | {"seconds": 0} == first.to_dict() | {"seconds": 0}
    assert set(first.grid) == {"popular", "markov", "ease", "collab-v2"} and len(first.grid["collab-v2"]) == (
        4 * (1 + len(SIDE_WEIGHTS)) + 3 * len(refinements({})) + 1 + len(POPULAR_BELOW))
    # 4 points x side weights; refinements x best 3; the chosen point and its short-history answers
    assert first.best_baseline in {"popular", "markov", "ease"} and first.params in [t.params for t in first.grid["collab-v2"]]


def test_the_time_box_stops_the_search_after_each_familys_first_point() -> None:
    log = _log()
    tuning = tune(leave_last_out(log).train, log.catalog, _specs(), budget_s=0.0)
    short = {name: [t for t in trail if t.on == SHORT] for name, trail in tuning.grid.items()}
    assert all(len(trail) - len(short[name]) == 1 for name, trail in tuning.grid.items())
    # v2: 4 points x side weights, one tried; no refinement; its short-history stage runs all the same
    assert len(short["collab-v2"]) == 1 + len(POPULAR_BELOW) and not any(short[n] for n in ("popular", "markov", "ease"))
    assert tuning.skipped == {"markov": 1, "ease": 1, "collab-v2": 4 * (1 + len(SIDE_WEIGHTS)) - 1}


def test_a_stop_cancels_the_search_before_its_next_point() -> None:
    """The search is minutes; a scheduled retrain's stop must not wait for its end (``make up``'s
    Ctrl-C budget is 15 s): set during a point, the search stops before the next one."""
    log = _log()
    stop, built = threading.Event(), []
    specs = _specs()

    def build(train, catalog, **params):  # type: ignore[no-untyped-def]
        built.append(params)
        stop.set()  # "Ctrl-C" while the first Markov point is being scored
        return baselines.MarkovRanker.fit(train, catalog, **params)

    specs["markov"] = replace(specs["markov"], build=build)
    with pytest.raises(Cancelled, match="while tuning markov"):
        tune(leave_last_out(log).train, log.catalog, specs, budget_s=600, stop=stop)
    assert built == [{"last": 1}]


def test_the_fit_cache_belongs_to_its_owner() -> None:
    train = leave_last_out(_log()).train
    a, b = FitCache(), FitCache()
    fit, _ = split_params({"lam": 10.0, "min_count": 2, "tau": 5.0})
    assert fit == FitParams(lam=10.0, min_count=2)
    assert a.fit(train, fit) is a.fit(train, fit)
    assert b.fit(train, fit) is not a.fit(train, fit)  # no fit shared through the process


def test_decide_needs_the_current_version_and_the_best_baseline_beaten() -> None:
    cand, cur, base = {"hit_rate": 0.2, "ndcg": 0.1}, {"hit_rate": 0.1, "ndcg": 0.05}, {"hit_rate": 0.25, "ndcg": 0.09}
    refused = decide(cand, cur, cases=100, baseline=base, baseline_name="ease")
    assert not refused.promote and refused.reason == "hit_rate@20 0.2000 < baseline ease 0.2500"
    assert refused.baseline == base and refused.baseline_name == "ease"
    assert decide(cand, cur, cases=100, baseline={"hit_rate": 0.2, "ndcg": 0.1}).promote
    assert decide(cand, None, cases=100, baseline={"hit_rate": 0.1, "ndcg": 0.1}).promote


def test_the_gate_rejects_a_candidate_that_beats_the_current_version_but_not_the_best_baseline() -> None:
    log = _log(60)
    holdout = fresh_holdout(log, None)
    current = baselines.RandomRanker(log.catalog, seed=0)
    candidate = PopularRanker.from_training(holdout.train, log.catalog)
    ease = EaseRanker.fit(holdout.train, log.catalog, lam=1.0, min_count=2)
    refused = run_gate(candidate, current, holdout, baseline=("ease", ease))
    assert refused.candidate["ndcg"] >= refused.current["ndcg"]  # it does beat the current version ...
    assert not refused.promote and "< baseline ease" in refused.reason  # ... but not the best baseline
    assert "< current" not in refused.reason
    assert run_gate(ease, current, holdout, baseline=("popular", candidate)).promote


def test_learned_specs_build_ease_and_v2_from_training_data_only() -> None:
    from movierec.training.families import learned_specs

    log = _log()
    split = leave_last_out(log)
    vectors = np.eye(MOVIES, dtype=np.float32)
    specs = learned_specs(tiny_index(vectors, k=3))
    assert set(specs) == {"ease", "collab-v2"}
    ease = specs["ease"].build(split.train, split.catalog, lam=10.0, min_count=2)
    v2 = specs["collab-v2"].build(split.train, split.catalog, lam=10.0, min_count=2, tau=1e6, beta=0.0)
    history = split.cases[0].history
    for ranker in (ease, v2):
        ids = [s.movie_id for s in ranker.rank(history, 5)]
        assert ids and not {i.movie_id for i in history} & set(ids)
