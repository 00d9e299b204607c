"""EASE, transitions and neighbour pruning against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.models.ranking import Interaction
from movierec.training.ease import EaseRanker, ease_weights, fit_ease
from movierec.training.topn import top_n_dense, top_n_sparse
from movierec.training.transitions import transition_matrix
from movierec.ranking.vocabulary import sequences, vocabulary


def _h(*movies: str) -> tuple[Interaction, ...]:
    return tuple(Interaction(m, float(t)) for t, m in enumerate(movies))


# Users: {a,b}, {b,c}, {a,b,c}. Gram = [[2,2,1],[2,3,2],[1,2,2]]; with lambda = 1:
# A = [[3,2,1],[2,4,2],[1,2,3]], det 16, P = A^-1 = [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]],
# B = -P / diag(P) = -2P with a zero diagonal = [[0,.5,0],[.5,0,.5],[0,.5,0]].
TRAIN = {1: _h("a", "b"), 2: _h("b", "c"), 3: _h("a", "b", "c")}
HAND_B = np.array([[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]], dtype=np.float32)


def test_ease_weights_match_the_hand_computed_case() -> None:
    gram = np.array([[2, 2, 1], [2, 3, 2], [1, 2, 2]], dtype=np.float32)
    np.testing.assert_allclose(ease_weights(gram, 1.0), HAND_B, atol=1e-6)
    with pytest.raises(ValueError):
        ease_weights(gram, 0.0)


def test_fit_ease_builds_the_gram_from_histories_and_ranks() -> None:
    vocab, b = fit_ease(TRAIN, lam=1.0, min_count=1)
    assert vocab.items == ("b", "a", "c")  # most popular first, ties by id
    order = [vocab.position[m] for m in "abc"]
    np.testing.assert_allclose(b[np.ix_(order, order)], HAND_B, atol=1e-6)
    ranker = EaseRanker(vocab, b)
    # history {a}: scores = B[a] -> b 0.5, c 0; a excluded
    assert [(s.movie_id, round(s.score, 6)) for s in ranker.rank(_h("a"), 5)] == [("b", 0.5), ("c", 0.0)]
    assert ranker.rank(_h("unknown"), 5) == []


def test_vocabulary_drops_movies_with_too_few_users() -> None:
    vocab = vocabulary(TRAIN, min_count=3)
    assert vocab.items == ("b",) and vocab.counts.tolist() == [3]
    assert [s.tolist() for s in sequences(TRAIN, vocab)] == [[-1, 0], [0, -1], [-1, 0, -1]]


def test_transitions_count_next_movies_by_distance_and_normalise_rows() -> None:
    # sequence a b c: a->b 1, b->c 1, a->c 1/2 (window 2); rows normalised: a -> b 2/3, c 1/3; b -> c 1
    t = transition_matrix([np.array([0, 1, 2])], 3, window=2).toarray()
    np.testing.assert_allclose(t, [[0, 2 / 3, 1 / 3], [0, 0, 1], [0, 0, 0]], atol=1e-6)
    # a cold movie (-1) breaks adjacency instead of linking its neighbours
    t = transition_matrix([np.array([0, -1, 2])], 3, window=1).toarray()
    assert not t.any()


def test_top_n_keeps_the_largest_positive_weights_in_order() -> None:
    w = np.array([[0.0, 0.3, -0.2, 0.3], [0.1, 0.0, 0.5, 0.2]], dtype=np.float32)
    idx, val = top_n_dense(w, 3)
    assert idx.tolist() == [[1, 3, -1], [2, 3, 0]]  # ties by column; negatives become padding
    np.testing.assert_allclose(val, [[0.3, 0.3, 0], [0.5, 0.2, 0.1]])
    wide_idx, _ = top_n_dense(w, 6)  # more neighbours asked than movies: padded to the asked width
    assert wide_idx.tolist() == [[1, 3, -1, -1, -1, -1], [2, 3, 0, -1, -1, -1]]
    from scipy.sparse import csr_matrix

    sidx, sval = top_n_sparse(csr_matrix(np.maximum(w, 0)), 3)
    assert sidx.tolist() == [[1, 3, -1], [2, 3, 0]] and np.allclose(sval, val)
