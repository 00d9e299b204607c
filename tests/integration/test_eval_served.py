"""The served ranker enters the offline comparison through the API's own registry and index code."""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.config import Settings
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.evaluation import report
from movierec.evaluation.interactions import load_dynamodb, with_catalog
from movierec.evaluation.offline import evaluate, run_offline
from movierec.evaluation.served import IdTranslatingRanker, published_index, served_specs
from movierec.evaluation.split import leave_last_out
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.registry import build_ranker
from movierec.dal.tables import Tables



class _Echo:
    """Inner ranker that records what it was asked and answers fixed index ids."""

    name = "echo"

    def __init__(self, answer: list[str]) -> None:
        self.answer, self.seen = answer, []

    def rank(self, history, k):
        self.seen.append([i.movie_id for i in history])
        return [Scored(m, 1.0) for m in self.answer][:k]


def test_translation_maps_history_in_and_answers_out() -> None:
    # MovieLens 6 and 7 are two records of one course movie: the answer names the first (6).
    inner = _Echo(["heat+1995", "ml:9", "toy+story+1995", "unknown"])
    ranker = IdTranslatingRanker(inner, {"6": "heat+1995", "7": "heat+1995", "9": "ml:9", "1": "toy+story+1995"})
    out = ranker.rank([Interaction("1", 1.0), Interaction("404", 2.0)], 10)
    assert inner.seen == [["toy+story+1995"]]  # unknown movies are not passed on
    assert [s.movie_id for s in out] == ["6", "9"]  # history (1) and ids outside MovieLens dropped
    assert ranker.shared == 1 and ranker.name == "echo"


@pytest.mark.slow
def test_content_ranker_from_the_registry_is_scored_by_the_runner(built: BuildResult) -> None:
    index = load_index(built.folder)
    ids = index.ids  # every row is a catalog movie, as in the MovieLens index
    to_index = {str(n): movie_id for n, movie_id in enumerate(ids)}
    ranker = IdTranslatingRanker(build_ranker(index), to_index)
    assert ranker.name == "content-v1"
    rows = [(u, Interaction(str(n), float(t))) for u in range(4) for t, n in enumerate(range(u, u + 6))]
    from movierec.evaluation.interactions import build_log

    split = leave_last_out(build_log(rows, to_index))
    results = evaluate({"content-v1": ranker}, split, (10,), progress=False)
    assert len(results.models["content-v1"].ranks) == 4
    assert results.models["content-v1"].history_leaks == 0
    assert all(len(r) == 10 for r in results.models["content-v1"].recommended)


@pytest.mark.slow
def test_dynamodb_source_uses_the_published_version(published: BuildResult, settings: Settings, tmp_path: Path, tables: Tables) -> None:
    ids = load_index(published.folder).ids
    save_histories(tables, {
        user: {m: HistoryState(frozenset({1}), 1, first_seen=t, last_seen=t) for t, m in enumerate(ids[user : user + 4])}
        for user in (1, 2, 3)
    })
    log = with_catalog(load_dynamodb(settings), published_index(settings).ids)
    assert len(log.catalog) == len(ids)
    specs = served_specs("dynamodb", settings)
    assert list(specs) == ["content-v1"]
    from movierec.evaluation.offline import default_specs

    run = run_offline(log, {**{k: v for k, v in default_specs().items() if k in ("random", "popular")}, **specs},
                      quick=True, progress=False)  # fmt: skip
    report.write(run, tmp_path)
    assert "| content-v1 |" in (tmp_path / "offline.md").read_text()
    assert run.results[0].models["content-v1"].history_leaks == 0


def test_cli_says_what_is_missing_without_an_index(isolated: Settings, capsys, tables: Tables) -> None:
    from infra.cli import main

    save_histories(tables, {1: {"heat+1995": HistoryState(frozenset({1}), 1, first_seen=1, last_seen=1)}})
    assert main(["eval", "offline", "--source", "dynamodb", "--out", "unused"]) == 1
    assert "no index published yet" in capsys.readouterr().out


@pytest.mark.slow
def test_dynamodb_source_refits_ranker_v2_instead_of_scoring_a_version_trained_on_the_targets(
    settings: Settings, ml_built: BuildResult, slice_log, tables: Tables, tmp_path: Path
) -> None:
    """A published collab-v2 version was fitted on every ingested interaction, the test targets too:
    `eval offline --source dynamodb` must refit v2 (and EASE) on each protocol's training data over the
    served version's rows, and not score that version as it is."""
    from infra.cli import main
    from movierec.index.publish import publish, set_pointer
    from movierec.training.job import train
    from tests.fixtures.training import write_histories

    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(tables, slice_log)
    trained = train(settings, source="dynamodb", promote=False)
    assert trained is not None
    set_pointer(trained.version, settings)
    out = tmp_path / "reports"
    assert main(["eval", "offline", "--source", "dynamodb", "--quick", "--protocol", "leave-last-out",
                 "--out", str(out)]) == 0  # fmt: skip
    text = (out / "offline-dynamodb.md").read_text()
    assert "| ease |" in text and "| **collab-v2** (served) |" in text
    assert "(served now)" not in text  # the trained version itself is not in the comparison
    assert "lam=" in text.split("- collab-v2:")[1].splitlines()[0]  # v2 tuned on validation, not fixed
