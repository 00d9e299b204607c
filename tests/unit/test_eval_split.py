"""Splits: the right target, ties broken by movie id, and no test item ever leaks into history or training."""

from __future__ import annotations

from movierec.evaluation.split import Split, last_n, leave_last_out, random_held_out, validation

from tests.fixtures.eval import log_from, taste_log
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
    split = leave_last_out(log)
    assert [(c.user_id, c.target, [i.movie_id for i in c.history]) for c in split.cases] == [
        (1, "10", ["5", "9"]),
        (3, "b", ["a"]),
    ]
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
