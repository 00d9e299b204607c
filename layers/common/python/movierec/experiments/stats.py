"""The statistics of an A/B comparison of conversion rates (treatment minus control).

- :func:`two_proportion_ztest`: the classical pooled z-test, valid for ONE look at a fixed sample size.
- :func:`bootstrap_diff`: a percentile interval of the difference that resamples USERS, not requests:
  one user's requests are correlated (same tastes, same history), so treating them as independent would
  make the interval too narrow.
- :func:`msprt`: the mixture sequential probability ratio test (normal mixture over the difference, as in
  Johari, Pekelis & Walsh, "Always valid inference"): its p-value and confidence interval stay valid when
  the experiment is looked at every hour and stopped whenever they say so.
- :func:`sample_size`: users per arm needed to detect a stated minimum absolute effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as st


@dataclass(frozen=True)
class ZTest:
    diff: float
    z: float
    p_value: float


def two_proportion_ztest(x_c: int, n_c: int, x_t: int, n_t: int) -> ZTest:
    """Pooled two-sided z-test of p_t - p_c = 0 (``x`` successes out of ``n``)."""
    if n_c == 0 or n_t == 0:
        return ZTest(0.0, 0.0, 1.0)
    p_c, p_t = x_c / n_c, x_t / n_t
    pooled = (x_c + x_t) / (n_c + n_t)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    if se == 0:
        return ZTest(p_t - p_c, 0.0, 1.0)
    z = (p_t - p_c) / se
    return ZTest(p_t - p_c, z, float(2 * st.norm.sf(abs(z))))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def bootstrap_diff(control: Sequence[tuple[int, int]], treatment: Sequence[tuple[int, int]],
                   resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:  # fmt: skip
    """Interval of sum(x)/sum(n) treatment minus control, resampling users; each user is ``(x, n)``."""
    c, t = np.asarray(control, dtype=float).reshape(-1, 2), np.asarray(treatment, dtype=float).reshape(-1, 2)
    if len(c) == 0 or len(t) == 0 or c[:, 1].sum() == 0 or t[:, 1].sum() == 0:
        return Interval(0.0, 0.0, 0.0)
    estimate = t[:, 0].sum() / t[:, 1].sum() - c[:, 0].sum() / c[:, 1].sum()
    rng = np.random.default_rng(seed)

    def rates(a: np.ndarray) -> np.ndarray:
        # One multinomial draw per resample: how often each user is picked; rate = sum x / sum n.
        counts = rng.multinomial(len(a), np.full(len(a), 1 / len(a)), size=resamples)
        n = counts @ a[:, 1]
        return np.divide(counts @ a[:, 0], n, out=np.zeros(resamples), where=n > 0)

    diffs = rates(t) - rates(c)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


@dataclass(frozen=True)
class Sequential:
    """One look of the mSPRT: the likelihood ratio, the always-valid p-value and interval so far."""

    diff: float
    likelihood_ratio: float
    #: min over all looks so far of 1/ratio (capped at 1): never decreases validity by looking again.
    p_value: float
    low: float
    high: float


def msprt(looks: Sequence[tuple[int, int, int, int]], tau: float = 0.05, alpha: float = 0.05) -> list[Sequential]:
    """The mSPRT at each look ``(x_c, n_c, x_t, n_t)`` (cumulative counts, in time order).

    The difference's estimate d has (normal approximation) variance V = p_t q_t / n_t + p_c q_c / n_c.
    With a N(0, tau^2) mixture over the true difference, the ratio of "some difference" to "none" is
    sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2))); rejecting when it reaches 1/alpha at any
    look keeps the false-positive rate below alpha. The matching confidence sequence is
    d +- sqrt(V (V + tau^2) / tau^2 * (log((V + tau^2) / V) - 2 log alpha)). ``tau`` is the size of
    difference one expects (absolute conversion points); it tunes power, not validity.
    """
    out: list[Sequential] = []
    p_running = 1.0
    for x_c, n_c, x_t, n_t in looks:
        if n_c == 0 or n_t == 0:
            out.append(Sequential(0.0, 1.0, p_running, -1.0, 1.0))
            continue
        p_c, p_t = x_c / n_c, x_t / n_t
        d = p_t - p_c
        # A rate of exactly 0 or 1 has no sampling variance estimate: shrink it by half a success.
        v = sum(max(p * (1 - p), 0.25 / n ** 2) / n for p, n in ((p_c, n_c), (p_t, n_t)))
        t2 = tau * tau
        log_ratio = 0.5 * math.log(v / (v + t2)) + d * d * t2 / (2 * v * (v + t2))
        ratio = math.exp(min(log_ratio, 700.0))
        p_running = min(p_running, 1.0 / ratio if ratio > 0 else 1.0, 1.0)
        half = math.sqrt(v * (v + t2) / t2 * (math.log((v + t2) / v) - 2 * math.log(alpha)))
        out.append(Sequential(d, ratio, p_running, d - half, d + half))
    return out


def sample_size(p_control: float, min_effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Users per arm for a two-sided two-proportion test to detect ``p_control -> p_control + min_effect``."""
    p_t = p_control + min_effect
    if not (0 < p_control < 1 and 0 < p_t < 1) or min_effect == 0:
        raise ValueError(f"need 0 < p < 1 for both arms and a non-zero effect, got {p_control} and {p_t}")
    z_a, z_b = st.norm.ppf(1 - alpha / 2), st.norm.ppf(power)
    p_bar = (p_control + p_t) / 2
    n = (z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p_control * (1 - p_control) + p_t * (1 - p_t))) ** 2
    return math.ceil(n / min_effect ** 2)
