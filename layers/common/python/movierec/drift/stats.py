"""Drift of one window against a reference window, from what ingest stored (pure; no I/O).

Per (user, movie) the history holds the first time the user touched the movie, the latest rating and
its time, and the minutes watched, so per window we have: the ratings given, the watch minutes of the
pairs that started, how active the stream was, which users were new and which movies the index does
not know. Each feature gets the test that fits its type:

- ratings (categories 1-5): PSI and a chi-square test of the two count vectors;
- watch minutes (numeric): two-sample Kolmogorov-Smirnov;
- activity per minute, share of new users, share of watches of movies unseen in the index: the value in
  each window (shares are compared by their difference; activity by the ratio current / reference);
- quarantined lines by reason (Kafka record time in the window): counts per reason and a chi-square test;
- what we recommended (prediction drift, from the API's answers on their own serving clock): the
  popularity percentile of every recommended movie (1 = the most watched, 0 = never watched), compared by
  Kolmogorov-Smirnov, and the catalog coverage (distinct movies recommended / catalog size). A ranker
  drifting towards the head (a feedback loop) or to noise (a broken model) shows here before it shows in
  conversion.

PSI = sum((c - r) * ln(c / r)) over the bins' shares, with an epsilon for empty bins; the usual reading:
< 0.1 stable, 0.1-0.25 moderate, > 0.25 strong drift (the alarm threshold).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
from scipy import stats as st

from movierec.metrics import (
    DRIFT_ACTIVITY, DRIFT_NEW_USERS, DRIFT_RATING_PSI, DRIFT_RECO_COVERAGE, DRIFT_RECO_POPULARITY_KS, DRIFT_UNSEEN,
    DRIFT_WATCH_KS,
)  # fmt: skip
from movierec.models.audit import ServedAnswer
from movierec.models.state import HistoryState

RATINGS = (1, 2, 3, 4, 5)
_EPS = 1e-4


@dataclass
class WindowData:
    start: float
    end: float
    ratings: Counter[int] = field(default_factory=Counter)
    watch_minutes: list[int] = field(default_factory=list)
    pairs: int = 0  # (user, movie) pairs first seen in the window
    active_users: set[int] = field(default_factory=set)
    new_users: set[int] = field(default_factory=set)
    unseen_pairs: int = 0  # of ``pairs``: movies the index does not hold
    rejects: Counter[str] = field(default_factory=Counter)

    @property
    def minutes(self) -> float:
        return max((self.end - self.start) / 60.0, 1e-9)

    @property
    def activity_per_minute(self) -> float:
        return (self.pairs + sum(self.ratings.values())) / self.minutes

    @property
    def new_user_share(self) -> float:
        return len(self.new_users) / len(self.active_users) if self.active_users else 0.0

    @property
    def unseen_share(self) -> float:
        return self.unseen_pairs / self.pairs if self.pairs else 0.0


def window_data(histories: Iterable[tuple[int, Mapping[str, HistoryState]]], known_movies: set[str] | frozenset[str],
                start: float, end: float, rejects: Iterable[tuple[float, str]] = ()) -> WindowData:  # fmt: skip
    """The facts of ``[start, end)``: ``histories`` as ``scan_states`` yields them, ``rejects`` as (time, reason)."""
    w = WindowData(start, end)
    for user_id, states in histories:
        first = min((s.first_seen for s in states.values()), default=math.inf)
        for movie_id, s in states.items():
            if start <= s.first_seen < end:
                w.pairs += 1
                w.active_users.add(user_id)
                w.unseen_pairs += movie_id not in known_movies
                if s.minutes:
                    w.watch_minutes.append(len(s.minutes))
            if s.rating is not None and s.rated_at is not None and start <= s.rated_at < end:
                w.ratings[int(s.rating)] += 1
                w.active_users.add(user_id)
        if start <= first < end:
            w.new_users.add(user_id)
    w.rejects.update(reason for at, reason in rejects if start <= at < end)
    return w


@dataclass
class PredictionWindow:
    """What the API recommended in ``[start, end)`` (serving time)."""

    start: float
    end: float
    answers: int = 0
    percentiles: list[float] = field(default_factory=list)
    movies: set[str] = field(default_factory=set)

    def coverage(self, catalog_size: int) -> float:
        return len(self.movies) / catalog_size if catalog_size else 0.0


def popularity_percentiles(watchers: Mapping[str, float]) -> dict[str, float]:
    """Each movie's popularity percentile by watchers: 1.0 for the most watched, towards 0 for the least
    (ties share the better rank); a movie not listed is 0."""
    ranked = sorted(watchers.items(), key=lambda kv: -kv[1])
    n = len(ranked)
    out: dict[str, float] = {}
    previous, rank = None, 0
    for i, (movie, w) in enumerate(ranked):
        if w != previous:
            rank, previous = i, w
        out[movie] = 1.0 - rank / n
    return out


def prediction_window(answers: Iterable[ServedAnswer], percentile: Mapping[str, float], start: float,
                      end: float) -> PredictionWindow:  # fmt: skip
    w = PredictionWindow(start, end)
    for a in answers:
        if start <= a.at < end:
            w.answers += 1
            w.movies.update(a.movie_ids)
            w.percentiles.extend(percentile.get(m, 0.0) for m in a.movie_ids)
    return w


@dataclass(frozen=True)
class PredictionDrift:
    reference: PredictionWindow
    current: PredictionWindow
    catalog_size: int
    popularity_ks: float
    popularity_ks_p: float

    @property
    def coverage(self) -> float:
        return self.current.coverage(self.catalog_size)


def compare_predictions(reference: PredictionWindow, current: PredictionWindow, catalog_size: int) -> PredictionDrift:
    if reference.percentiles and current.percentiles:
        ks = st.ks_2samp(reference.percentiles, current.percentiles)
        stat, p = float(ks.statistic), float(ks.pvalue)
    else:
        stat, p = 0.0, 1.0
    return PredictionDrift(reference, current, catalog_size, stat, p)


def psi(reference: Mapping[int, int] | Mapping[str, int], current: Mapping, bins: Iterable) -> float:
    bins = list(bins)
    r = np.array([reference.get(b, 0) for b in bins], dtype=float)
    c = np.array([current.get(b, 0) for b in bins], dtype=float)
    if r.sum() == 0 or c.sum() == 0:
        return 0.0
    r, c = np.clip(r / r.sum(), _EPS, None), np.clip(c / c.sum(), _EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def chi_square_p(reference: Mapping, current: Mapping, bins: Iterable) -> float:
    """p-value of "same distribution" for two count vectors (bins empty in both are dropped)."""
    table = np.array([[reference.get(b, 0), current.get(b, 0)] for b in bins], dtype=float).reshape(-1, 2)
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or (table.sum(axis=0) == 0).any():
        return 1.0
    return float(st.chi2_contingency(table.T).pvalue)


@dataclass(frozen=True)
class DriftReport:
    reference: WindowData
    current: WindowData
    rating_psi: float
    rating_chi2_p: float
    minutes_ks: float
    minutes_ks_p: float
    activity_ratio: float
    new_user_share_diff: float
    unseen_share: float
    unseen_share_diff: float
    rejects_chi2_p: float
    #: Drift of what we recommended; None when the API served no answer in either window.
    predictions: PredictionDrift | None = None

    def metrics(self) -> dict[str, float]:
        """The figures emitted as CloudWatch metrics (function ``drift``)."""
        out = {
            DRIFT_RATING_PSI: round(self.rating_psi, 6),
            DRIFT_WATCH_KS: round(self.minutes_ks, 6),
            DRIFT_ACTIVITY: round(self.activity_ratio, 6),
            DRIFT_NEW_USERS: round(self.current.new_user_share, 6),
            DRIFT_UNSEEN: round(self.unseen_share, 6),
        }
        if self.predictions is not None:
            out.update({
                DRIFT_RECO_POPULARITY_KS: round(self.predictions.popularity_ks, 6),
                DRIFT_RECO_COVERAGE: round(self.predictions.coverage, 6),
            })  # fmt: skip
        return out


def compare(reference: WindowData, current: WindowData, predictions: PredictionDrift | None = None) -> DriftReport:
    if reference.watch_minutes and current.watch_minutes:
        ks = st.ks_2samp(reference.watch_minutes, current.watch_minutes)
        ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
    else:
        ks_stat, ks_p = 0.0, 1.0
    reasons = sorted(set(reference.rejects) | set(current.rejects))
    ref_rate = reference.activity_per_minute
    return DriftReport(
        reference, current,
        psi(reference.ratings, current.ratings, RATINGS), chi_square_p(reference.ratings, current.ratings, RATINGS),
        ks_stat, ks_p,
        current.activity_per_minute / ref_rate if ref_rate else 0.0,
        current.new_user_share - reference.new_user_share,
        current.unseen_share, current.unseen_share - reference.unseen_share,
        chi_square_p(reference.rejects, current.rejects, reasons),
        predictions,
    )  # fmt: skip


def format_report(r: DriftReport) -> str:
    ref, cur = r.reference, r.current

    def share(c: Counter) -> str:
        total = sum(c.values()) or 1
        return " ".join(f"{k}:{c.get(k, 0) / total:.2f}" for k in RATINGS)

    rows = [
        ("ratings (share 1..5)", share(ref.ratings), share(cur.ratings), f"PSI {r.rating_psi:.3f}, chi-square p {r.rating_chi2_p:.3g}"),
        ("watch minutes (median)", f"{np.median(ref.watch_minutes) if ref.watch_minutes else 0:g}",
         f"{np.median(cur.watch_minutes) if cur.watch_minutes else 0:g}", f"KS {r.minutes_ks:.3f}, p {r.minutes_ks_p:.3g}"),
        ("activity per minute", f"{ref.activity_per_minute:.2f}", f"{cur.activity_per_minute:.2f}", f"ratio {r.activity_ratio:.2f}"),
        ("share of new users", f"{ref.new_user_share:.3f}", f"{cur.new_user_share:.3f}", f"diff {r.new_user_share_diff:+.3f}"),
        ("share of watches of movies unseen in the index", f"{ref.unseen_share:.3f}", f"{cur.unseen_share:.3f}",
         f"diff {r.unseen_share_diff:+.3f}"),
        ("quarantined lines by reason", dict(ref.rejects) or "-", dict(cur.rejects) or "-", f"chi-square p {r.rejects_chi2_p:.3g}"),
    ]  # fmt: skip
    p = r.predictions
    if p is not None:
        def median(values: list[float]) -> str:
            return f"{np.median(values):.2f}" if values else "-"

        rows += [
            ("recommended movies' popularity percentile (median)", median(p.reference.percentiles),
             median(p.current.percentiles), f"KS {p.popularity_ks:.3f}, p {p.popularity_ks_p:.3g}"),
            ("catalog coverage of the answers", f"{p.reference.coverage(p.catalog_size):.3f}",
             f"{p.coverage:.3f}", f"{p.reference.answers} vs {p.current.answers} answers"),
        ]  # fmt: skip
    lines = ["| feature | reference | current | drift |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"
