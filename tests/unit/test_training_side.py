"""Side information for ranker v2 (release-era and genre pseudo-users in EASE's Gram matrix): where the
features come from, what they add, and that weight 0 is exactly the model without them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from movierec.models.movie import Movie
from movierec.models.ranking import Interaction
from movierec.training.families import SIDE_WEIGHTS, V2_GRID, v2_spec
from movierec.training.model import FitParams, fit_collab
from movierec.training.side import ERA_YEARS, add_side_gram, side_features
from tests.fixtures.training import tiny_index

FIT = FitParams(lam=1.0, min_count=2, neighbours=4)

MOVIES = [Movie(id="a", title="A", year=1994, genres=("Drama",)), Movie(id="b", title="B", year=1995, genres=("Drama",)),
          Movie(id="c", title="C", year=2017, genres=("Action",)), Movie(id="d", title="D", year=2016, genres=("Action",)),
          Movie(id="e", title="E", year=None, genres=()), Movie(id="f", title="F", year=2016, genres=("Action",))]  # fmt: skip


def _h(*movies: str) -> tuple[Interaction, ...]:
    return tuple(Interaction(m, float(n)) for n, m in enumerate(movies))


def _index():
    return tiny_index(np.eye(len(MOVIES), dtype=np.float32), k=2, movies=MOVIES)


def _neighbours(model, movie: str) -> list[str]:
    pos = model.vocab.position[movie]
    return [model.vocab.items[j] for j, w in zip(model.cf_idx[pos], model.cf_w[pos]) if j >= 0 and w > 0]


def test_side_features_are_the_index_columns_era_bins_and_genres() -> None:
    features = side_features(_index())
    assert features["a"] == (f"era:{1994 // ERA_YEARS}", "genre:Drama")
    assert features["e"] == ()  # no year, no genres: no pseudo-user sees it
    assert features["f"] == (f"era:{2016 // ERA_YEARS}", "genre:Action")
    assert features["c"][0] == features["d"][0] == features["f"][0]  # 2016 and 2017 share a 3-year bin


def test_add_side_gram_adds_weight_per_shared_feature() -> None:
    gram = np.zeros((3, 3), dtype=np.float32)
    add_side_gram(gram, ["x", "y", "z"], {"x": ("g1", "g2"), "y": ("g1",), "q": ("g2",)}, 2.0)
    np.testing.assert_array_equal(gram, [[4, 2, 0], [2, 2, 0], [0, 0, 0]])  # q is not in the vocabulary


#: f is seen with a (a drama of another era) twice, with c and d (its era and genre, Action) never.
TRAIN = {1: _h("a", "b"), 2: _h("a", "b"), 3: _h("c", "d"), 4: _h("c", "d"), 5: _h("f", "a"), 6: _h("f", "a"),
         7: _h("e", "b"), 8: _h("e", "d")}  # fmt: skip


def test_side_information_gives_a_movie_neighbours_of_its_era_and_genre() -> None:
    side = side_features(_index())
    assert _neighbours(fit_collab(TRAIN, FIT), "f") == ["a", "e", "c"]  # d never, c behind e
    with_side = fit_collab(TRAIN, replace(FIT, side_weight=5.0), side=side)
    assert _neighbours(with_side, "f") == ["a", "c", "d"]  # the data's own evidence first, then era and genre mates


def test_weight_zero_is_exactly_the_model_without_side_information() -> None:
    plain, zero = fit_collab(TRAIN, FIT), fit_collab(TRAIN, FIT, side=side_features(_index()))
    for name in ("cf_idx", "cf_w", "seq_idx", "seq_w"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(zero, name))


def test_a_side_weight_without_features_is_refused() -> None:
    with pytest.raises(ValueError, match="side features"):
        fit_collab(TRAIN, replace(FIT, side_weight=5.0))


def test_the_v2_grid_tries_every_point_without_and_with_side_information() -> None:
    grid = v2_spec(_index()).grid
    assert len(grid) == (1 + len(SIDE_WEIGHTS)) * len(V2_GRID)
    assert grid[: 1 + len(SIDE_WEIGHTS)] == tuple({**V2_GRID[0], "side_weight": w} for w in (0.0, *SIDE_WEIGHTS))
