"""Experiments, the pure part: hash assignment and the statistics (checked by simulation, not by rote)."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.evaluation.online import Request, Watch
from movierec.experiments import stats
from movierec.experiments.analysis import analyse, arm_of, check_guardrails
from movierec.experiments.assign import assign, bucket
from movierec.models.experiment import CONTROL, TREATMENT, Experiment, Guardrails

USERS = range(20_000)


def _exp(name: str = "e", share: float = 0.3, salt: str = "s1", **kw) -> Experiment:
    return Experiment(name, "vA", "vB", share, salt, 0.0, **kw)


def test_assignment_is_deterministic_sticky_and_honours_the_share() -> None:
    e = _exp()
    arms = [assign(e, u).arm for u in USERS]
    assert arms == [assign(_exp(), u).arm for u in USERS]  # same config, another process: same arms
    share = arms.count(TREATMENT) / len(arms)
    assert share == pytest.approx(0.3, abs=0.015)
    # Growing the share only moves control users into treatment (a canary ramp keeps its users).
    wider = _exp(share=0.5)
    assert all(assign(wider, u).arm == TREATMENT for u, a in zip(USERS, arms) if a == TREATMENT)
    assert {assign(e, u).version for u in USERS} == {"vA", "vB"}


def test_assignments_of_two_experiments_are_independent() -> None:
    a, b = _exp("a", 0.5, "salt-a"), _exp("b", 0.5, "salt-b")
    in_a = np.array([assign(a, u).arm == TREATMENT for u in USERS])
    in_b = np.array([assign(b, u).arm == TREATMENT for u in USERS])
    # P(treatment in b | treatment in a) = P(treatment in b | control in a) = 0.5
    assert in_b[in_a].mean() == pytest.approx(0.5, abs=0.02)
    assert in_b[~in_a].mean() == pytest.approx(0.5, abs=0.02)
    assert 0.0 <= min(bucket("x", u) for u in USERS) and max(bucket("x", u) for u in USERS) < 1.0


def test_ztest_matches_the_textbook_value() -> None:
    # 200/1000 vs 250/1000: pooled p = 0.225, se = sqrt(.225*.775*2/1000) = 0.018675, z = 2.6774
    z = stats.two_proportion_ztest(200, 1000, 250, 1000)
    assert z.diff == pytest.approx(0.05) and z.z == pytest.approx(2.6774, abs=1e-3)
    assert z.p_value == pytest.approx(0.00742, abs=1e-4)


def test_sample_size_gives_the_promised_power() -> None:
    n = stats.sample_size(0.1, 0.03)
    rng = np.random.default_rng(1)
    runs = 2000
    rejected = sum(stats.two_proportion_ztest(rng.binomial(n, 0.1), n, rng.binomial(n, 0.13), n).p_value < 0.05
                   for _ in range(runs))  # fmt: skip
    assert rejected / runs == pytest.approx(0.8, abs=0.04)
    with pytest.raises(ValueError):
        stats.sample_size(0.0, 0.02)


def _null_runs(rng: np.random.Generator, runs: int, looks: int, per_look: int, p: float = 0.2):
    for _ in range(runs):
        c = np.cumsum(rng.binomial(per_look, p, looks))
        t = np.cumsum(rng.binomial(per_look, p, looks))
        n = per_look * np.arange(1, looks + 1)
        yield [(int(c[i]), int(n[i]), int(t[i]), int(n[i])) for i in range(looks)]


def test_msprt_stays_valid_when_looked_at_every_hour_and_peeking_ztest_does_not() -> None:
    rng = np.random.default_rng(7)
    msprt_fp = peeking_fp = 0
    runs = 400
    for looks in _null_runs(rng, runs, looks=48, per_look=100):
        msprt_fp += stats.msprt(looks)[-1].p_value < 0.05
        peeking_fp += any(stats.two_proportion_ztest(*look).p_value < 0.05 for look in looks)
    assert msprt_fp / runs <= 0.05
    assert peeking_fp / runs > 0.15  # why a fixed-sample test must not be read every hour


def test_msprt_detects_a_real_difference_and_its_interval_covers_it() -> None:
    rng = np.random.default_rng(3)
    c = np.cumsum(rng.binomial(200, 0.2, 40))
    t = np.cumsum(rng.binomial(200, 0.26, 40))
    seq = stats.msprt([(int(c[i]), 200 * (i + 1), int(t[i]), 200 * (i + 1)) for i in range(40)])
    assert seq[-1].p_value < 0.05 and seq[-1].low <= 0.06 <= seq[-1].high
    assert all(a.p_value >= b.p_value for a, b in zip(seq, seq[1:]))  # running minimum


def test_bootstrap_resamples_users_so_clustered_requests_widen_the_interval() -> None:
    rng = np.random.default_rng(5)
    # 100 users per arm, 20 requests each; a user converts on all or none of them (strong clustering).
    c = [(20 * int(rng.random() < 0.3), 20) for _ in range(100)]
    t = [(20 * int(rng.random() < 0.3), 20) for _ in range(100)]
    users = stats.bootstrap_diff(c, t, seed=1)
    flat = stats.bootstrap_diff([(x, 1) for x, n in c for x in [1] * x + [0] * (n - x)],
                                [(x, 1) for x, n in t for x in [1] * x + [0] * (n - x)], seed=1)  # fmt: skip
    assert users.low <= users.estimate <= users.high
    assert users.estimate == pytest.approx(flat.estimate)
    assert (users.high - users.low) > 3 * (flat.high - flat.low)


def test_analysis_counts_arms_conversion_and_minutes() -> None:
    e = _exp()
    requests = [
        Request(1, 100.0, "api", 200, ("m1", "m2"), 10.0, "vA", "e", CONTROL),
        Request(2, 100.0, "api", 200, ("m1",), 20.0, "vB", "e", TREATMENT),
        Request(2, 200.0, "api", 500, (), 30.0, "vB", "e", TREATMENT),
        Request(3, 100.0, "stream:replay-vB", 200, ("m3",), 15.0),  # a looped-replay answer of vB
        Request(4, 100.0, "api", 200, ("m1",), 10.0, "vA", "other", CONTROL),  # another experiment
    ]
    watches = [Watch(1, "m2", 150.0, 40), Watch(2, "m1", 50.0, 10), Watch(3, "m3", 100.0 + 3600, 7)]
    assert [arm_of(r, e) for r in requests] == [CONTROL, TREATMENT, TREATMENT, TREATMENT, None]
    a = analyse(e, requests, watches, window_h=24, looks=2, resamples=200)
    c, t = a.arms[CONTROL], a.arms[TREATMENT]
    assert (c.requests, c.answered, c.converted, c.watch_minutes) == (1, 1, 1, 40)
    # user 2 watched m1 BEFORE it was recommended: no conversion; user 3 converted within W.
    assert (t.requests, t.errors, t.answered, t.converted, t.watch_minutes, t.users) == (3, 1, 2, 1, 7, 2)
    assert a.ztest.diff == pytest.approx(0.5 - 1.0) and len(a.looks) == 2


def test_guardrails_need_enough_requests_then_catch_errors_and_latency() -> None:
    e = _exp(canary=True, guardrails=Guardrails(max_error_rate_increase=0.01, max_p99_ratio=1.5,
                                                p99_slack_ms=50, min_requests=20))  # fmt: skip

    def rows(arm: str, n: int, status: int, ms: float) -> list[Request]:
        return [Request(u, 1.0, "api", status, ("m",) if status == 200 else (), ms, "v", "e", arm) for u in range(n)]

    assert not check_guardrails(e, rows(CONTROL, 30, 200, 10) + rows(TREATMENT, 5, 500, 10)).breached
    errors = check_guardrails(e, rows(CONTROL, 30, 200, 10) + rows(TREATMENT, 25, 200, 10) + rows(TREATMENT, 5, 500, 10))
    assert errors.breached and "error rate" in errors.reason
    slow = check_guardrails(e, rows(CONTROL, 30, 200, 100) + rows(TREATMENT, 30, 200, 260))
    assert slow.breached and "p99" in slow.reason
    assert not check_guardrails(e, rows(CONTROL, 30, 200, 100) + rows(TREATMENT, 30, 200, 190)).breached
