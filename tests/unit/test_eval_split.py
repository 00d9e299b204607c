"""Splits: the right target, ties broken by movie id, and no test item ever leaks into history or training."""

from __future__ import annotations

import pytest

from movierec.evaluation.interactions import build_log
from movierec.evaluation.split import (
    PROTOCOLS, Split, cut_time, global_time, last_n, leave_last_out, random_held_out, short_validation, validation,
)  # fmt: skip
from movierec.models.ranking import Interaction

from tests.fixtures.eval import log_from, taste_log


def _busy_log(users: int = 40, seed: int = 3):
    """Users of 1..12 movies from a small catalog at overlapping times, many ties in time (seeded order)."""
    import random

    rng = random.Random(seed)
    rows = []
    for u in range(users):
        for _ in range(rng.randint(1, 12)):
            rows.append((u, Interaction(f"m{rng.randint(0, 30)}", float(rng.randint(0, 50)))))
    return build_log(rows, source="test", tie_seed=0)
def _assert_no_leak(split: Split) -> None:
    targets_of: dict[int, set[str]] = {}
    for case in split.cases:
        targets_of.setdefault(case.user_id, set()).add(case.target)
        assert case.target not in {i.movie_id for i in case.history}
    for user, targets in targets_of.items():
        assert not targets & {i.movie_id for i in split.train[user]}, (split.name, user)


def test_leave_last_out_takes_the_last_and_breaks_time_ties_by_movie_id() -> None:
    # user 1: "9" and "10" at the same last time -> numeric order puts 10 last; user 2 has one movie only.
    log = log_from({1: [("5", 1.0), ("10", 7.0), ("9", 7.0)], 2: [("5", 3.0)], 3: [("b", 2.0), ("a", 2.0)]})
    split = leave_last_out(log, min_movies=2)
    assert [(c.user_id, c.target, [i.movie_id for i in c.history]) for c in split.cases] == [
        (1, "10", ["5", "9"]),
        (3, "b", ["a"]),
    ]
    # the protocol's default: users with >= 3 distinct movies only; the others stay training data
    assert [c.user_id for c in leave_last_out(log).cases] == [1]
    assert [i.movie_id for i in leave_last_out(log).train[3]] == ["a", "b"]
    assert [i.movie_id for i in split.train[2]] == ["5"]  # too short to test, still training data
    _assert_no_leak(split)


def test_history_is_what_came_before_the_target() -> None:
    split = leave_last_out(taste_log())
    for case in split.cases:
        target_time = max(i.last_seen for i in split.train[case.user_id]) if case.history else 0
        assert all(i.last_seen <= target_time for i in case.history)
        assert case.history == split.train[case.user_id]
    _assert_no_leak(split)


def test_last_n_predicts_each_of_the_last_n_from_its_prefix() -> None:
    log = log_from({1: [(f"m{i}", float(i)) for i in range(8)], 2: [("x", 1.0), ("y", 2.0), ("w", 3.0)]})
    split = last_n(log, 5)
    ones = [c for c in split.cases if c.user_id == 1]
    assert [c.target for c in ones] == ["m3", "m4", "m5", "m6", "m7"]
    assert [len(c.history) for c in ones] == [3, 4, 5, 6, 7]
    assert [c.target for c in split.cases if c.user_id == 2] == ["y", "w"]  # never an empty history
    assert [i.movie_id for i in split.train[1]] == ["m0", "m1", "m2"]
    _assert_no_leak(split)


def test_random_held_out_is_seeded_and_holds_out_one_per_user() -> None:
    log = taste_log()
    a, b = random_held_out(log, seed=7), random_held_out(log, seed=7)
    assert a.cases == b.cases
    assert len(a.cases) == len(log.users)
    targets = {c.target for c in random_held_out(log, seed=1).cases} | {c.target for c in a.cases}
    assert len(targets) > 1
    for case in a.cases:
        assert len(case.history) == len(log.users[case.user_id]) - 1
    _assert_no_leak(a)


def test_validation_is_cut_from_training_only() -> None:
    split = leave_last_out(taste_log())
    val = validation(split)
    test_targets = {(c.user_id, c.target) for c in split.cases}
    assert not test_targets & {(c.user_id, c.target) for c in val.cases}
    for case in val.cases:
        assert case.target == split.train[case.user_id][-1].movie_id
        assert case.target not in {i.movie_id for i in val.train[case.user_id]}
    _assert_no_leak(val)


def test_validation_asks_only_histories_as_long_as_the_tests() -> None:
    """Validation cases come from training histories of ``MIN_MOVIES`` (3) movies or more, as the
    leave-last-out test's users; a shorter one stays whole in the validation's training data."""
    train = {1: tuple(Interaction(m, float(t)) for t, m in enumerate("abc")), 2: (Interaction("a", 1.0), Interaction("d", 2.0))}
    val = validation(Split("s", train, (), ("a", "b", "c", "d")))
    assert [(c.user_id, c.target, len(c.history)) for c in val.cases] == [(1, "c", 2)]
    assert val.train[2] == train[2] and [i.movie_id for i in val.train[1]] == ["a", "b"]


def test_short_validation_asks_the_histories_validation_leaves_out() -> None:
    """The short-history split: each training history of 2-3 movies gives its last movie as a case
    (histories of 1-2 movies), a longer or a 1-movie history stays whole; cut from training only."""
    train = {1: tuple(Interaction(m, float(t)) for t, m in enumerate("abcd")), 2: tuple(Interaction(m, float(t)) for t, m in enumerate("abc")),
             3: (Interaction("a", 1.0), Interaction("d", 2.0)), 4: (Interaction("b", 1.0),)}  # fmt: skip
    short = short_validation(Split("s", train, (), ("a", "b", "c", "d")))
    assert [(c.user_id, c.target, len(c.history)) for c in short.cases] == [(2, "c", 2), (3, "d", 1)]
    assert short.train[1] == train[1] and short.train[4] == train[4]
    assert [i.movie_id for i in short.train[2]] == ["a", "b"] and [i.movie_id for i in short.train[3]] == ["a"]
    split = leave_last_out(_busy_log())
    cut = short_validation(split)
    assert cut.cases and all(1 <= len(c.history) <= 2 for c in cut.cases)
    assert not {(c.user_id, c.target) for c in split.cases} & {(c.user_id, c.target) for c in cut.cases}
    _assert_no_leak(cut)


def test_global_time_trains_before_the_cut_and_predicts_after_it() -> None:
    log = log_from({1: [("a", 1.0), ("b", 2.0), ("c", 5.0), ("d", 6.0)], 2: [("a", 1.0), ("e", 3.0)],
                    3: [("c", 5.0), ("b", 7.0)]})  # fmt: skip
    split = global_time(log, cut=5.0, n=5)
    assert {u: [i.movie_id for i in h] for u, h in split.train.items()} == {1: ["a", "b"], 2: ["a", "e"], 3: []}
    # user 1 is asked for c (from a, b) then d (from a, b, c); user 2 has nothing after; user 3 nothing before
    assert [(c.user_id, c.target, [i.movie_id for i in c.history]) for c in split.cases] == [
        (1, "c", ["a", "b"]), (1, "d", ["a", "b", "c"])]
    assert all(i.last_seen < 5.0 for h in split.train.values() for i in h)
    assert [c.target for c in global_time(log, cut=5.0, n=1).cases] == ["c"]


def test_the_default_cut_leaves_the_given_share_after_it() -> None:
    log = log_from({1: [(f"m{i}", float(i)) for i in range(10)], 2: [(f"m{i}", float(i) + 0.5) for i in range(10)]})
    t = cut_time(log, 0.1)
    after = sum(1 for h in log.users.values() for i in h if i.last_seen >= t)
    assert after == 2


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_no_protocol_leaks_a_target_into_training_data_or_the_history(protocol: str) -> None:
    """For every protocol (and its validation split): no case's target is in the history the ranker is
    given, nor in that user's training data; and no training history holds a movie from the future of a
    test case of the temporal protocols."""
    log = _busy_log()
    split = PROTOCOLS[protocol](log)
    assert split.cases
    _assert_no_leak(split)
    _assert_no_leak(validation(split))
    val = validation(split)
    test_targets = {(c.user_id, c.target) for c in split.cases}
    assert not test_targets & {(u, i.movie_id) for u, h in val.train.items() for i in h}
    assert not test_targets & {(c.user_id, c.target) for c in val.cases}
    if protocol != "random-held-out":  # the temporal protocols: training data ends before every target
        for case in split.cases:
            target_at = next(i.last_seen for i in log.users[case.user_id] if i.movie_id == case.target)
            assert all(i.last_seen <= target_at for i in case.history)
    if protocol == "global-time":  # one cut for all: no training interaction of ANY user at or after it
        first_target = min(next(i.last_seen for i in log.users[c.user_id] if i.movie_id == c.target) for c in split.cases)
        assert all(i.last_seen < first_target for h in split.train.values() for i in h)
