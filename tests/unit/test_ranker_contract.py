"""One contract every ranker passes (as benfred/implicit holds all its models to one test).

The recommend function, the offline evaluation and the gate call rankers through one interface
(:class:`movierec.ranking.base.Ranker`), so each ranker must keep the same promises whatever it computes:
at most ``k`` answers, ``k`` when it has that many candidates, nothing the user has seen, ids unique and
best first, the same answer twice, and no failure on an empty history or on movie ids it never saw
(new movies appear in the stream all the time). Each ranker is built by its real code on the same small
log with two taste groups, the content and collaborative ones over a real (tiny) index version.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from movierec.evaluation import baselines
from movierec.evaluation.interactions import InteractionLog
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.base import Ranker
from movierec.ranking.collab import FoldIn
from movierec.ranking.content import ContentRanker
from movierec.ranking.popular import PopularRanker
from movierec.training.ease import EaseRanker
from movierec.training.job import ranker_for
from movierec.training.model import FitParams, fit_collab
from tests.fixtures.eval import log_from
from tests.fixtures.training import tiny_index

K = 3
MOVIES = 11  # m0..m4 group A, m5..m9 group B, m10 in the catalog but never watched


def _log() -> InteractionLog:
    events = {}
    for u in range(16):
        first = 0 if u % 2 == 0 else 5
        order = [0, 1, 2, 3, 4] if u % 4 < 2 else [1, 0, 3, 2, 4]
        events[u] = [(f"m{first + i}", 100.0 * u + n) for n, i in enumerate(order)]
    return log_from(events, catalog=(f"m{MOVIES - 1}",))


LOG = _log()
#: Each movie's vector: its group's direction plus a little of its own, so content similarity has structure.
VECTORS = np.array([[1.0, 0.0, 0.1 * i] if i < 5 else [0.0, 1.0, 0.1 * i] for i in range(MOVIES)], np.float32)


def _index():
    return tiny_index(VECTORS, k=4)


BUILDERS: dict[str, Callable[[], Ranker]] = {
    "random": lambda: baselines.RandomRanker(LOG.catalog, seed=0),
    "popular-baseline": lambda: PopularRanker.from_training(LOG.users, LOG.catalog),
    "markov": lambda: baselines.MarkovRanker.fit(LOG.users, LOG.catalog),
    "popular-served": lambda: PopularRanker.from_sources(_index(), [Scored("m4", 9.0), Scored("m9", 8.0)]),
    "itemknn": lambda: baselines.item_knn(LOG.users, LOG.catalog, neighbours=5),
    "als": lambda: baselines.als(LOG.users, LOG.catalog, factors=4, seed=0),
    "ease": lambda: EaseRanker.fit(LOG.users, LOG.catalog, lam=10.0),
    "content-v1": lambda: ContentRanker(_index()),
    "collab-v2": lambda: ranker_for(_index(), fit_collab(LOG.users, FitParams(lam=10.0, min_count=2)), FoldIn()),
}
#: A user of both tastes part-way through: two movies of each group seen, three of each left (and m10).
SEEN = [Interaction(f"m{i}", last_seen=float(n), rating=4.0) for n, i in enumerate([0, 5, 1, 6])]
UNKNOWN = [Interaction("never+seen+2031", last_seen=1.0), Interaction("another+new+2031", last_seen=2.0, rating=5.0)]


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def ranker(kind: str) -> Ranker:
    return BUILDERS[kind]()


def _check(answer: list[Scored], history: list[Interaction]) -> None:
    ids = [s.movie_id for s in answer]
    assert len(ids) <= K and len(set(ids)) == len(ids)
    assert not {i.movie_id for i in history} & set(ids), "a movie the user saw was recommended"
    scores = [s.score for s in answer]
    assert scores == sorted(scores, reverse=True), "not best first"


def test_k_answers_none_seen_best_first(ranker: Ranker) -> None:
    answer = ranker.rank(SEEN, K)
    _check(answer, SEEN)
    assert len(answer) == K  # 6 co-watched candidates remain: every ranker has at least K of them
    assert isinstance(ranker.name, str) and ranker.name


def test_deterministic(ranker: Ranker) -> None:
    assert ranker.rank(SEEN, K) == ranker.rank(SEEN, K)
    assert ranker.rank(list(reversed(SEEN)), K) == ranker.rank(SEEN, K)  # the order given does not matter


def test_same_answer_from_a_fresh_build(kind: str, ranker: Ranker) -> None:
    assert BUILDERS[kind]().rank(SEEN, K) == ranker.rank(SEEN, K)


@pytest.mark.parametrize("history", [[], UNKNOWN, SEEN + UNKNOWN], ids=["empty", "only-unknown", "with-unknown"])
def test_empty_and_unknown_histories_are_answered(ranker: Ranker, history: list[Interaction]) -> None:
    answer = ranker.rank(history, K)
    _check(answer, history)
    assert all(s.movie_id.startswith("m") for s in answer)  # only movies it knows
