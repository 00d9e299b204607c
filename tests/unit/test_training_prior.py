"""Prior data for ranker v2 (MovieLens histories as extra EASE users): what it adds, what it never adds,
and where it comes from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from movierec.catalog.movielens_stream import movie_ids
from movierec.config import Settings
from movierec.evaluation.interactions import load_prior
from movierec.models.ranking import InteractionLog
from movierec.models.ranking import Interaction
from movierec.training.families import SIDE_WEIGHTS, V2_GRID, v2_spec
from movierec.training.job import training_prior
from movierec.training.model import FitParams, fit_collab
from movierec.training.prior import usable_prior
from tests.fixtures.training import tiny_index

FIT = FitParams(lam=1.0, min_count=2, neighbours=4)


def _h(*movies: str, t0: float = 0.0) -> tuple[Interaction, ...]:
    return tuple(Interaction(m, t0 + n) for n, m in enumerate(movies))


#: Own data: a-b and c-d go together, e with both; f is followed by a, never seen with c.
TRAIN = {1: _h("a", "b", "e"), 2: _h("a", "b", "e"), 3: _h("c", "d", "e"), 4: _h("c", "d", "e"), 5: _h("f", "a"),
         6: _h("f", "a", "b")}  # fmt: skip
#: The prior says f goes with c: many users, at other times than the training data's.
PRIOR = {-u: _h("f", "c", t0=1e6 + 10 * u) for u in range(1, 6)}


def _neighbours(model, movie: str) -> list[str]:
    pos = model.vocab.position[movie]
    return [model.vocab.items[j] for j, w in zip(model.cf_idx[pos], model.cf_w[pos]) if j >= 0 and w > 0]


def test_a_prior_teaches_pairs_the_own_data_never_shows() -> None:
    without = fit_collab(TRAIN, FIT)
    assert _neighbours(without, "f")[0] == "a"
    with_prior = fit_collab(TRAIN, replace(FIT, prior_weight=1.0), PRIOR)
    assert _neighbours(with_prior, "f")[0] == "c"
    assert with_prior.info["prior_users"] == 5 and with_prior.info["prior_interactions"] == 10


def test_weight_zero_is_exactly_the_model_without_prior() -> None:
    plain, zero = fit_collab(TRAIN, FIT), fit_collab(TRAIN, FIT, PRIOR)  # prior_weight defaults to 0
    assert plain.vocab.items == zero.vocab.items and zero.info["prior_users"] == 0
    np.testing.assert_array_equal(plain.vocab.counts, zero.vocab.counts)
    for name in ("cf_idx", "cf_w", "seq_idx", "seq_w"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(zero, name))


def test_transitions_are_learned_from_the_own_data_only() -> None:
    """The prior's f -> c order must not reach the "watched next" lists: MovieLens' bulk rating
    sessions are not a course user's sequence."""
    model = fit_collab(TRAIN, replace(FIT, prior_weight=1.0), PRIOR)
    pos = model.vocab.position
    nxt = [model.vocab.items[j] for j in model.seq_idx[pos["f"]] if j >= 0]
    assert "c" not in nxt and nxt[0] == "a"


def test_a_prior_that_is_the_training_data_itself_is_not_used() -> None:
    """make up replays MovieLens into the running system with MovieLens' timestamps: one shared (movie,
    time) pair means the training data is the prior's data set, whose other users are the replay's
    future; none of it may be used (and a fit with it is the fit without it)."""
    replayed = {**TRAIN, 7: PRIOR[-1][:1]}  # user -1's first movie at its time, ingested under another id
    assert usable_prior(PRIOR, replayed) == {}
    assert fit_collab(replayed, replace(FIT, prior_weight=1.0), PRIOR).info["prior_users"] == 0
    assert set(usable_prior(PRIOR, TRAIN)) == set(PRIOR)
    assert set(usable_prior({1: _h("x", "y", t0=5e6), -1: PRIOR[-1]}, TRAIN)) == {-1}  # an id the training data uses


def test_the_v2_grid_tries_every_point_without_and_with_the_prior() -> None:
    """Without a prior: each point without and with side information; with one: without the prior, with
    it, and with it and side information."""
    index = tiny_index(np.eye(6, dtype=np.float32), k=2)
    assert all("prior_weight" not in point for point in v2_spec(index).grid)
    grid = v2_spec(index, prior=PRIOR).grid
    n = 2 + len(SIDE_WEIGHTS)
    assert len(grid) == n * len(V2_GRID)
    assert [(p["prior_weight"], p["side_weight"]) for p in grid[:n]] == [(0.0, 0.0), (1.0, 0.0), *((1.0, w) for w in SIDE_WEIGHTS)]
    assert all({k: v for k, v in p.items() if k not in ("prior_weight", "side_weight")} == V2_GRID[0] for p in grid[:n])


def test_load_prior_speaks_stream_ids_under_negative_user_ids(data_dir: Path) -> None:
    prior = load_prior(Settings(data_dir=data_dir))
    assert len(prior) == 610 and all(u < 0 for u in prior)
    assert sum(len(h) for h in prior.values()) == 100_836
    movies = {i.movie_id for h in prior.values() for i in h}
    assert "toy+story+1995" in movies and "the+shawshank+redemption+1994" in movies
    # Titles the TMDB links miss land on the course id the stream speaks, not on an id no stream has.
    star_wars = sum(i.movie_id == "star+wars+1977" for h in prior.values() for i in h)
    assert star_wars == 251 and "star+wars+episode+iv+-+a+new+hope+1977" not in movies
    # The replay writes its own stream: its ids are the linked or course-style ones, as before.
    assert movie_ids(Settings(data_dir=data_dir))[260] == "star+wars+episode+iv+-+a+new+hope+1977"


def test_training_prior_follows_the_setting_and_survives_missing_files(data_dir: Path, tmp_path: Path) -> None:
    course = InteractionLog(TRAIN, (), source="dynamodb")
    assert training_prior("movielens", Settings(data_dir=data_dir), course) is None  # MovieLens is the data itself
    assert training_prior("dynamodb", Settings(data_dir=data_dir, train_prior="none"), course) is None
    assert training_prior("dynamodb", Settings(data_dir=tmp_path), course) is None  # logged, training goes on
    assert len(training_prior("dynamodb", Settings(data_dir=data_dir), course) or {}) == 610
    with pytest.raises(ValueError, match="MOVIEREC_TRAIN_PRIOR"):
        training_prior("dynamodb", Settings(data_dir=data_dir, train_prior="imdb"), course)


def test_training_prior_is_none_for_ingested_movielens(data_dir: Path) -> None:
    """Decided once for the whole log: ingested MovieLens (one replayed user is enough) gets no prior at
    all, so the tuner's grid is not doubled by weight-1 points that every fit would refuse."""
    prior = load_prior(Settings(data_dir=data_dir))
    replayed = InteractionLog({**TRAIN, 42: prior[-1][:3]}, (), source="dynamodb")  # MovieLens user 1, as ingested
    assert training_prior("dynamodb", Settings(data_dir=data_dir), replayed) is None
