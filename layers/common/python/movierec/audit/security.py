"""Security audit statistics: rating spam (shilling), scraping / enumeration, stream injection.

Pure functions over rows (no I/O). The same functions answer ``movierec audit security`` over the whole
record and, restricted to the most recent window, give the live metrics of the audit function
(:func:`live_signals`), so the command and the alarm can never disagree about what they count.

**Shilling.** A campaign pushes one movie with many high ratings from accounts that have no other life:
new accounts (rating within ``new_account_s`` of their first event) or low-activity ones (at most
``low_activity_ratings`` ratings in all). Per movie and time window (``window_s`` long, starting every
half window so a burst is never split in two) we count the distinct such accounts rating the movie
``>= high_rating`` (``x``) and compare with the movie's baseline: its share of all HIGH ratings in the record
(by every account, smoothed) times the number of such suspicious high ratings in that window over all movies (``lam``).
The score is ``(x - lam) / sqrt(lam + 1)``, a Poisson-like standard score that stays finite for movies
nobody rated before; a flag also needs the burst to be most of the movie's high ratings (``min_share``). Why a share and not the movie's own count per window: a system whose real users
are mostly new (the course stream has ~one rating per user) would otherwise flag every popular movie;
a popular movie's share keeps its expected count high, a pushed obscure movie's is near zero.

**Scraping.** From the answer log: per caller address, distinct user ids asked for in a window (one
client enumerating other users' recommendations), and per user, requests in a window far above the
median user of that window (someone polling one account).

**Injection.** Quarantined lines by reason per time bucket; a bucket whose count of one reason is far
above that reason's median bucket is a spike.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from movierec.metrics import HOT_USERS, SCRAPING_CALLERS, SHILLING_SUSPECTS
from movierec.models.audit import ApiCall, RatingRow, RejectRow


@dataclass(frozen=True)
class ShillingParams:
    """Thresholds of the shilling detector (defaults: see docs/audits.md for why)."""

    window_s: float = 3600.0
    high_rating: float = 4.0
    low_activity_ratings: int = 5
    new_account_s: float = 86_400.0
    min_accounts: int = 10
    min_score: float = 8.0
    #: Share of the movie's high ratings (in the whole record) that the window's suspicious accounts gave.
    min_share: float = 0.5
    smoothing: float = 1.0


@dataclass(frozen=True)
class ShillingFlag:
    """The most suspicious window of one movie."""

    movie_id: str
    start: float
    end: float
    accounts: int  #: distinct suspicious accounts that rated it high in the window (x)
    expected: float  #: the baseline (lam)
    score: float
    share: float  #: x / all high ratings of the movie: near 1 for a pushed movie, small for a popular one
    users: tuple[int, ...]


def account_profile(ratings: Iterable[RatingRow], first_seen: Mapping[int, float]) -> tuple[dict[int, int], dict[int, float]]:
    """Ratings per account, and each account's first event (its first rating when ``first_seen`` lacks it)."""
    counts: Counter[int] = Counter()
    first: dict[int, float] = dict(first_seen)
    for r in ratings:
        counts[r.user_id] += 1
        if r.at < first.get(r.user_id, math.inf):
            first[r.user_id] = r.at
    return dict(counts), first


def suspicious(r: RatingRow, counts: Mapping[int, int], first: Mapping[int, float], p: ShillingParams) -> bool:
    """A high rating by a new or low-activity account."""
    if r.rating < p.high_rating:
        return False
    return counts.get(r.user_id, 0) <= p.low_activity_ratings or r.at - first.get(r.user_id, r.at) <= p.new_account_s


def shilling_windows(
    ratings: Sequence[RatingRow], first_seen: Mapping[int, float], p: ShillingParams = ShillingParams()
) -> list[ShillingFlag]:
    """Every (movie, window) with at least one suspicious rating, scored; the best window per movie first.

    Returned sorted by score, highest first; :func:`shilling` keeps those over the thresholds.
    """
    counts, first = account_profile(ratings, first_seen)
    totals = Counter(r.movie_id for r in ratings if r.rating >= p.high_rating)
    n_all, n_movies = sum(totals.values()), max(len(totals), 1)
    step = p.window_s / 2
    cells: dict[tuple[str, int], set[int]] = defaultdict(set)
    per_window: Counter[int] = Counter()
    for r in ratings:
        if not suspicious(r, counts, first, p):
            continue
        k = math.floor(r.at / step)
        for w in (k - 1, k):  # the two half-overlapping windows that contain r.at
            if r.user_id not in cells[(r.movie_id, w)]:
                cells[(r.movie_id, w)].add(r.user_id)
                per_window[w] += 1
    best: dict[str, ShillingFlag] = {}
    for (movie, w), users in cells.items():
        share = (totals[movie] + p.smoothing) / (n_all + p.smoothing * n_movies)
        lam = per_window[w] * share
        x = len(users)
        score = (x - lam) / math.sqrt(lam + 1.0)
        flag = ShillingFlag(movie, w * step, w * step + p.window_s, x, lam, score, x / totals[movie], tuple(sorted(users)))
        if movie not in best or (score, -flag.start) > (best[movie].score, -best[movie].start):
            best[movie] = flag
    return sorted(best.values(), key=lambda f: (-f.score, f.movie_id))


def shilling(ratings: Sequence[RatingRow], first_seen: Mapping[int, float], p: ShillingParams = ShillingParams()) -> list[ShillingFlag]:
    """Movies whose best window passes every threshold (:func:`is_flagged`)."""
    return [f for f in shilling_windows(ratings, first_seen, p) if is_flagged(f, p)]


def is_flagged(f: ShillingFlag, p: ShillingParams) -> bool:
    """At least ``min_accounts`` accounts, a score of at least ``min_score``, and at least ``min_share`` of
    the movie's high ratings: the popular movies an "average attack" rates alongside its target (to look
    like a normal user) get the same burst, but it is a small part of their ratings."""
    return f.accounts >= p.min_accounts and f.score >= p.min_score and f.share >= p.min_share


def flagged_pairs(flags: Iterable[ShillingFlag]) -> set[tuple[int, str]]:
    """The (user, movie) ratings behind the flags: what the training mitigation leaves out."""
    return {(u, f.movie_id) for f in flags for u in f.users}


# ---- scraping / enumeration --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScrapingParams:
    window_s: float = 300.0
    #: A caller asking for more distinct users than this in one window is enumerating.
    max_users_per_caller: int = 100
    #: A user asked for at least this often in a window, and ``rate_factor`` x the window's median user.
    min_requests: int = 20
    rate_factor: float = 10.0


@dataclass(frozen=True)
class CallerFlag:
    caller: str
    start: float
    distinct_users: int
    requests: int


@dataclass(frozen=True)
class HotUserFlag:
    user_id: int
    start: float
    requests: int
    median: float


@dataclass(frozen=True)
class ScrapingReport:
    callers: list[CallerFlag]
    hot_users: list[HotUserFlag]
    #: Largest number of distinct users one caller asked for in one window (whether flagged or not).
    max_distinct_users: int
    #: Answers without a recorded caller (logged before the caller address was recorded).
    unknown_caller: int


def scraping(calls: Sequence[ApiCall], p: ScrapingParams = ScrapingParams(), origin: float = 0.0) -> ScrapingReport:
    """Enumerating callers and over-polled users, per window ``(origin + k W, origin + (k+1) W]``, W = ``window_s``."""
    by_caller: dict[tuple[str, int], set[int]] = defaultdict(set)
    caller_requests: Counter[tuple[str, int]] = Counter()
    per_user: dict[int, Counter[int]] = defaultdict(Counter)
    unknown = 0
    for c in calls:
        w = math.ceil((c.at - origin) / p.window_s) - 1
        per_user[w][c.user_id] += 1
        if c.caller is None:
            unknown += 1
            continue
        by_caller[(c.caller, w)].add(c.user_id)
        caller_requests[(c.caller, w)] += 1
    callers = [
        CallerFlag(caller, origin + w * p.window_s, len(users), caller_requests[(caller, w)])
        for (caller, w), users in by_caller.items()
        if len(users) > p.max_users_per_caller
    ]
    hot: list[HotUserFlag] = []
    for w, counts in per_user.items():
        median = statistics.median(counts.values())
        for user, n in counts.items():
            if n >= p.min_requests and n >= p.rate_factor * median:
                hot.append(HotUserFlag(user, origin + w * p.window_s, n, median))
    return ScrapingReport(
        sorted(callers, key=lambda f: (-f.distinct_users, f.start)),
        sorted(hot, key=lambda f: (-f.requests, f.start)),
        max((len(u) for u in by_caller.values()), default=0),
        unknown,
    )


# ---- stream injection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectSpike:
    reason: str
    start: float
    count: int
    median: float


@dataclass(frozen=True)
class RejectReport:
    bucket_s: float
    #: bucket start -> reason -> quarantined lines
    counts: dict[float, dict[str, int]]
    spikes: list[RejectSpike]


def rejections(rows: Iterable[RejectRow], bucket_s: float = 3600.0, min_count: int = 20, factor: float = 10.0) -> RejectReport:
    """Quarantined lines per reason per bucket; a spike is ``>= min_count`` and ``>= factor`` x the median
    bucket of that reason (buckets between the first and last reject count, empty ones as 0)."""
    grid: dict[int, Counter[str]] = defaultdict(Counter)
    for r in rows:
        grid[math.floor(r.at / bucket_s)][r.reason] += 1
    spikes: list[RejectSpike] = []
    if grid:
        span = range(min(grid), max(grid) + 1)
        for reason in sorted({reason for c in grid.values() for reason in c}):
            series = [grid[b][reason] if b in grid else 0 for b in span]
            median = statistics.median(series)
            spikes += [
                RejectSpike(reason, b * bucket_s, n, median)
                for b, n in zip(span, series)
                if n >= min_count and n >= factor * max(median, 1.0)
            ]
    counts = {b * bucket_s: dict(sorted(c.items())) for b, c in sorted(grid.items())}
    return RejectReport(bucket_s, counts, spikes)


# ---- live signals ------------------------------------------------------------------------------------


def live_signals(
    ratings: Sequence[RatingRow],
    first_seen: Mapping[int, float],
    calls: Sequence[ApiCall],
    now: float,
    shill: ShillingParams = ShillingParams(),
    scrape: ScrapingParams = ScrapingParams(),
) -> dict[str, float]:
    """The audit metrics of the most recent window (what the scheduled audit function emits).

    - ``ShillingSuspects``: movies flagged in a window that ends within one window of the newest rating
      (the data's own clock: a replay of old data is judged at its own time, live data at the wall clock);
    - ``ScrapingCallers`` / ``ScrapingMaxDistinctUsers``: enumerating callers, and the largest distinct-user
      count of one caller, in the answer log's last ``scrape.window_s`` before ``now``;
    - ``HotUsers``: users asked for far above the median in that window.
    """
    newest = max((r.at for r in ratings), default=None)
    recent_flags = [] if newest is None else [f for f in shilling(ratings, first_seen, shill) if f.end >= newest - shill.window_s]
    # One window that ends now (not a clock-aligned one), as the alarm evaluator's rolling windows do.
    origin = now - scrape.window_s
    report = scraping([c for c in calls if origin < c.at <= now], scrape, origin)
    return {
        SHILLING_SUSPECTS: float(len(recent_flags)),
        SCRAPING_CALLERS: float(len(report.callers)),
        "ScrapingMaxDistinctUsers": float(report.max_distinct_users),
        HOT_USERS: float(len(report.hot_users)),
    }
