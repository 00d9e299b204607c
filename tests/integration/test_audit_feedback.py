"""The feedback-loop audit: concentration from version to version is found on injected answer logs and
not on stable ones; the share of recommended watches by period; the closed-loop simulation over the real
training and ranking code shows concentration growing, and the popularity penalty keeps it bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.audit.feedback import exposure_by_version, share_by_day, share_by_version, trend
from movierec.audit.simulate import SimParams, genre_index, simulate
from movierec.catalog.movielens import load_movielens_genres
from movierec.config import Settings
from movierec.evaluation.interactions import load_movielens
from movierec.evaluation.online import Request, Watch

DAY = 86_400.0
T0 = 1_700_000_000.0


def _answers(version: str, day: int, pool: int, n: int = 50) -> list[Request]:
    """``n`` answers of 20 movies drawn in turn from the first ``pool`` movies."""
    return [Request(u, T0 + day * DAY + u, "api", 200, tuple(f"m{(u * 7 + j) % pool}" for j in range(20)), None, version)
            for u in range(n)]  # fmt: skip


def test_concentrating_versions_are_detected_and_stable_ones_are_not() -> None:
    shrinking = [a for i, pool in enumerate((400, 200, 100, 50)) for a in _answers(f"v{i}", i, pool)]
    versions = exposure_by_version(shrinking, catalog_size=1000)
    assert [v.version for v in versions] == ["v0", "v1", "v2", "v3"]
    assert [v.distinct for v in versions] == [363, 200, 100, 50]
    assert trend([v.gini for v in versions], 0.005).rising
    assert versions[-1].head_share > versions[0].head_share
    stable = [a for i in range(4) for a in _answers(f"v{i}", i, 300)]
    assert not trend([v.gini for v in exposure_by_version(stable, catalog_size=1000)], 0.005).rising


def test_share_of_recommended_watches_per_day_and_version() -> None:
    def recs(d: int, u: int) -> tuple[str, ...]:
        return tuple(f"d{d}-u{u}-{j}" for j in range(20))

    requests = [Request(u, T0 + d * DAY + u, "api", 200, recs(d, u), None, f"v{d}") for d in range(4) for u in range(10)]
    # Day d: user u watches d of their 20 recommended movies (within W) and 3 others.
    watches = [Watch(u, recs(d, u)[j], T0 + d * DAY + u + 60, 1) for d in range(4) for u in range(10) for j in range(d)]
    watches += [Watch(u, f"other{d}-{j}", T0 + d * DAY + u + 60, 1) for d in range(4) for u in range(10) for j in range(3)]
    by_day = share_by_day(requests, watches)
    assert [round(share, 4) for _, share, _ in by_day] == [0.0, 0.25, 0.4, 0.5]
    assert trend([share for _, share, _ in by_day]).rising
    assert [round(share, 4) for _, share, _ in share_by_version(requests, watches)] == [0.0, 0.25, 0.4, 0.5]
    assert not trend([0.3, 0.3, 0.3, 0.3]).rising and not trend([0.5]).rising


#: Seeds of the closed-loop test: seed 0 is checked run by run (the detector on one run, as the CLI reports
#: it), and all of them on the Gini averaged per cycle. One run is chaotic — a retrain on slightly different
#: watches moves many answers, and so do the last bits of the fit's floating point on another machine —
#: so the penalised arm's Gini rise over the cycles ranges from -0.011 to +0.004 by seed, near the
#: detector's tolerance (0.005), while the unmitigated arm's stays at +0.009..+0.015 (docs/audits.md).
SEEDS = (0, 1, 2, 3)


@pytest.mark.slow
def test_closed_loop_simulation_concentrates_and_the_penalty_bounds_it(data_dir: Path) -> None:
    """Bounded (150 users, 4 cycles of 6 visits, 4 seeds; the docs show 200 x 5, one seed): real MovieLens
    users, the real training (fit_collab) and ranking (CollabRanker) code, the genre index the CLI builds."""
    settings = Settings(data_dir=data_dir)
    log, index = load_movielens(settings), genre_index(load_movielens_genres(settings))
    arms: dict[float, list[list[float]]] = {0.0: [], 0.5: []}
    for seed in SEEDS:
        for penalty, runs in arms.items():
            run = simulate(log, index, SimParams(users=150, cycles=4, steps=6, seed=seed, penalty=penalty))
            assert {r.version for r in run.requests} == {f"cycle-{c}" for c in range(4)}
            assert len(run.requests) == 150 * 4 * 6 and len(run.watches) > 0.9 * len(run.requests)
            runs.append([v.gini for v in exposure_by_version(run.requests, run.catalog_size)])
    first, first_bounded = arms[0.0][0], arms[0.5][0]
    assert trend(first, 0.005).rising
    assert not trend(first_bounded, 0.005).rising and max(first_bounded) < min(first)
    gini, bounded = ([sum(cycle) / len(SEEDS) for cycle in zip(*arms[p])] for p in (0.0, 0.5))
    print("mean gini without mitigation", gini, "with the popularity penalty", bounded)
    assert trend(gini, 0.005).rising and not trend(bounded, 0.005).rising
    assert max(max(run) for run in arms[0.5]) < min(min(run) for run in arms[0.0])


def test_feedback_command_reads_the_answer_log_and_history_tables(isolated: Settings, tmp_path: Path) -> None:
    """On the local stack's tables: two versions, the second showing fewer movies, watches that follow."""
    from movierec.dal.history import save_histories
    from movierec.dal.tables import Tables
    from movierec.models.state import HistoryState
    from infra.cli import main

    tables = Tables(isolated)
    with tables.recommendations.batch_write() as batch:
        for day, pool in enumerate((300, 60)):
            for u in range(1, 31):
                at = T0 + day * DAY + u
                ids = ",".join(f"m{(u * 7 + j) % pool}" for j in range(20))
                batch.save(tables.recommendations(u, f"{int(at * 1000):013d}#api#t-{day}-{u}", at=at, source="api",
                                              status=200, movie_ids=ids, version=f"v{day}"))  # fmt: skip
    save_histories(tables, {u: {f"m{(u * 7) % 60}": HistoryState(minutes=frozenset({1}), max_minute=1, first_seen=T0 + DAY + u + 5,
                                                          last_seen=T0 + DAY + u + 5)} for u in range(1, 31)})  # fmt: skip
    assert main(["audit", "feedback", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "audit-feedback.md").read_text()
    assert "| v0 |" in text and "| v1 |" in text and "**CONCENTRATING**" in text
    assert "60 answers, 30 watches" in text
