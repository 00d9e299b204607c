"""Baselines run through the Ranker interface; the runner scores them and writes the report files."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from movierec.evaluation import baselines, interactions, report
from movierec.evaluation.offline import ModelSpec, default_specs, evaluate, run_offline
from movierec.evaluation.scoring import SHORT, VALIDATION, choose_params
from movierec.evaluation.split import leave_last_out, short_validation, validation
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.popular import PopularRanker

from tests.fixtures.eval import log_from, taste_log
def _history(*movies: str) -> list[Interaction]:
    return [Interaction(m, float(i)) for i, m in enumerate(movies)]


def test_popular_counts_training_users_and_skips_the_history() -> None:
    train = {1: _history("a", "b"), 2: _history("a", "c"), 3: _history("a", "c"), 4: _history("d")}
    ranker = PopularRanker.from_training(train, ["a", "b", "c", "d", "e"])
    assert [s.movie_id for s in ranker.rank(_history("c"), 10)] == ["a", "b", "d", "e"]
    assert [s.score for s in ranker.rank([], 2)] == [3.0, 2.0]


def test_random_is_deterministic_and_excludes_the_history() -> None:
    catalog = [str(i) for i in range(100)]
    ranker = baselines.RandomRanker(catalog, seed=1)
    history = _history("1", "2", "3")
    first = ranker.rank(history, 20)
    assert first == ranker.rank(list(reversed(history)), 20)
    assert len(first) == 20 and not {"1", "2", "3"} & {s.movie_id for s in first}


@pytest.mark.parametrize("build", [baselines.item_knn, baselines.als], ids=["itemknn", "als"])
def test_implicit_baselines_learn_the_taste_groups(build) -> None:
    split = leave_last_out(taste_log())
    kwargs = {"factors": 4, "seed": 0, "iterations": 10} if build is baselines.als else {"neighbours": 5}
    ranker = build(split.train, split.catalog, **kwargs)
    recs = ranker.rank(_history("a1", "a2", "a3"), 3)
    assert recs and {s.movie_id for s in recs} <= {"a4", "a5", "b1", "b2", "b3", "b4", "b5", "z"}
    assert recs[0].movie_id in {"a4", "a5"}
    assert ranker.rank(_history("unknown-movie"), 3) == []


def test_als_is_reproducible_to_the_digit() -> None:
    split = leave_last_out(taste_log())
    runs = [baselines.als(split.train, split.catalog, factors=4, seed=3).rank(_history("b1", "b2"), 5) for _ in range(2)]
    assert runs[0] == runs[1]


def test_evaluate_scores_every_model_on_the_same_cases() -> None:
    log = log_from({1: [("a", 1), ("b", 2)], 2: [("a", 1), ("c", 2)], 3: [("b", 1), ("a", 2)], 4: [("d", 1)]})
    split = leave_last_out(log, min_movies=2)  # targets: 1 -> b, 2 -> c, 3 -> a; train popularity a:2 b:1 d:1
    results = evaluate({"popular": PopularRanker.from_training(split.train, split.catalog)}, split, (1, 2), progress=False)
    # user 1 (history a) gets [b, d]: hit at 1; user 2 (a) gets [b, d]: miss; user 3 (b) gets [a, d]: hit at 1
    assert results.models["popular"].ranks == [1, None, 1]
    m = results.metrics("popular", 2)
    assert m["hit_rate"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx(3 / 4)  # a, b, d of a, b, c, d


class _Leaky:
    """A ranker that breaks the contract by returning the history: the runner must count it."""

    name = "leaky"

    def rank(self, history, k):
        return [Scored(i.movie_id, 1.0) for i in history][:k]


def test_history_returned_by_a_ranker_is_counted_not_hidden() -> None:
    split = leave_last_out(taste_log())
    results = evaluate({"leaky": _Leaky()}, split, (10,), progress=False)
    assert results.models["leaky"].history_leaks > 0
    assert results.metrics("leaky", 10)["hit_rate"] == 0.0


def test_run_offline_writes_table_and_plots(tmp_path: Path) -> None:
    specs = default_specs()
    specs["itemknn"] = ModelSpec(build=specs["itemknn"].build, grid=({"neighbours": 2}, {"neighbours": 5}))
    specs["als"] = ModelSpec(build=specs["als"].build, grid=({"factors": 4, "seed": 0},))
    run = run_offline(taste_log(16), specs, quick=True, progress=False, served="popular")
    report.write(run, tmp_path, command="movierec eval offline --quick")
    assert [r.split.name.split("(")[0] for r in run.results] == ["leave-last-out", "last-5", "global-time"]
    text = (tmp_path / "offline.md").read_text()
    for name in ("random", "itemknn", "als"):
        assert f"| {name} |" in text
    assert "| **popular** (served) |" in text and "popular - model: HR@20" in text
    assert "neighbours=2" in text and "neighbours=5" in text  # the tuning trail is reported
    assert "Protocols: leave-last-out, last-5, global-time" in text and "`movierec eval offline --quick`" in text
    with pytest.raises(ValueError, match="unknown protocol"):
        run_offline(taste_log(16), specs, protocols=("leave-one-in",), progress=False)
    for png in ("hit_rate_vs_k.png", "coverage.png", "popularity.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_movielens_leave_last_out_popular_baseline(data_dir: Path) -> None:
    """The one real-data check: the published shape of ml-latest-small and the popularity baseline."""
    log = interactions.load_movielens()
    assert (len(log.users), log.n_interactions, len(log.catalog)) == (610, 100836, 9742)
    split = leave_last_out(log)
    results = evaluate({"popular": PopularRanker.from_training(split.train, split.catalog)}, split, (20,), progress=False)
    assert len(split.cases) == 610
    assert results.metrics("popular", 20)["hit_rate"] == pytest.approx(42 / 610)


def test_paired_difference_is_served_minus_model_per_case_with_a_user_bootstrap() -> None:
    log = log_from({u: [("a", 1), ("b", 2), (("c" if u % 2 else "d"), 3)] for u in range(10)} | {99: [("c", 1), ("d", 2), ("b", 3)]})
    split = leave_last_out(log)
    popular = PopularRanker.from_training(split.train, split.catalog)
    results = evaluate({"popular": popular, "random": baselines.RandomRanker(split.catalog, seed=0)}, split, (1, 2), progress=False)
    d = results.paired("popular", "random", 2)
    expected = results.metrics("popular", 2)["hit_rate"] - results.metrics("random", 2)["hit_rate"]
    assert d["hit_rate"] == pytest.approx(expected)
    assert d["hit_rate_low"] <= d["hit_rate"] <= d["hit_rate_high"]
    same = results.paired("popular", "popular", 2)
    assert (same["hit_rate"], same["hit_rate_low"], same["hit_rate_high"]) == (0.0, 0.0, 0.0)


def test_a_coverage_floor_chooses_the_best_point_that_reaches_it() -> None:
    """Selection is by validation NDCG@20 among the points whose validation coverage@20 reaches the spec's
    ``min_coverage``; when none does, the floor is ignored rather than leaving the model without a choice."""
    log = taste_log(24)
    val = validation(leave_last_out(replace(log, catalog=log.catalog + tuple(f"x{i}" for i in range(300)))))

    def build(train, catalog, kind: str):
        return PopularRanker.from_training(train, catalog) if kind == "popular" else baselines.RandomRanker(catalog, seed=0)

    grid = ({"kind": "popular"}, {"kind": "random"})
    plain, trail = choose_params("m", ModelSpec(build=build, grid=grid), val, progress=False)
    narrow, wide = trail
    assert plain == {"kind": "popular"} and narrow.score > wide.score and narrow.coverage < wide.coverage
    floor = (narrow.coverage + wide.coverage) / 2
    assert choose_params("m", ModelSpec(build=build, grid=grid, min_coverage=floor), val, progress=False)[0] == {"kind": "random"}
    unreachable = ModelSpec(build=build, grid=grid, min_coverage=wide.coverage + 0.01)
    assert choose_params("m", unreachable, val, progress=False)[0] == {"kind": "popular"}


def test_the_refinement_stage_tries_variants_of_the_best_grid_points_only() -> None:
    """``ModelSpec.refine``'s variants of the ``refine_top`` best grid points are scored after the grid and
    join the choice (a variant wins when it alone reaches the coverage floor); the worse points get none."""
    log = taste_log(24)
    val = validation(leave_last_out(replace(log, catalog=log.catalog + tuple(f"x{i}" for i in range(300)))))

    def build(train, catalog, depth: int, wide: bool = False):
        return baselines.RandomRanker(catalog, seed=depth) if wide else PopularRanker.from_training(train, catalog)

    grid = ({"depth": 1}, {"depth": 2}, {"depth": 3})  # equal scores: the first two are "the best two"
    spec = ModelSpec(build=build, grid=grid, refine=lambda p: ({**p, "wide": True},), refine_top=2)
    chosen, trail = choose_params("m", spec, val, progress=False)
    assert [t.params for t in trail] == [*grid, {**grid[0], "wide": True}, {**grid[1], "wide": True}]
    assert chosen == grid[0]  # by NDCG: the popular list; the random variants are worse
    floor = max(t.coverage for t in trail[:3]) + 1e-9  # only the refined (random) answers reach it
    chosen, _ = choose_params("m", replace(spec, min_coverage=floor), val, progress=False)
    assert chosen.get("wide") is True


def test_the_short_history_stage_chooses_what_newcomers_get_on_their_histories_alone() -> None:
    """``ModelSpec.short``'s variants of the chosen point are scored beside it on the 1-2-movie split
    (marked as such in the trail) and the best there is taken; without that split there is no such stage,
    and a variant no better there leaves the main choice as it was."""
    log = taste_log(24)
    top = [m for m, _ in Counter(i.movie_id for h in log.users.values() for i in h).most_common(3)]
    newcomers = {100 + u: tuple(Interaction(top[(u + j) % 3], float(j)) for j in range(2 + u % 2)) for u in range(12)}
    split = leave_last_out(replace(log, users={**log.users, **newcomers}, catalog=log.catalog + tuple(f"x{i}" for i in range(300))))
    val, short = validation(split), short_validation(split)
    assert len(short.cases) == 12

    def build(train, catalog, depth: int, popular_short: bool = False):
        return PopularRanker.from_training(train, catalog) if popular_short else baselines.RandomRanker(catalog, seed=depth)

    grid = ({"depth": 1}, {"depth": 2})
    spec = ModelSpec(build=build, grid=grid, short=lambda p: ({**p, "popular_short": True},))
    main, trail = choose_params("m", spec, val, progress=False)
    assert [t.on for t in trail] == [VALIDATION, VALIDATION]
    chosen, trail = choose_params("m", spec, val, progress=False, short=short)
    assert chosen == {**main, "popular_short": True}
    assert [(t.params, t.on) for t in trail[2:]] == [(main, SHORT), (chosen, SHORT)] and trail[3].score > trail[2].score
    same = replace(spec, short=lambda p: ({**p, "depth": p["depth"]},))  # a variant that answers alike
    assert choose_params("m", same, val, progress=False, short=short)[0] == main
