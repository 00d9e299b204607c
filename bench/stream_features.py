"""Which model features beat plain EASE on the course stream — measured on VALIDATION only.

Leave-last-out over the course stream (users with >= 3 movies), then the validation split cut from its
training part (each user's last training movie); nothing here reads a test target. For each idea the
best validation NDCG@20 / HR@20 over a small grid is printed beside plain EASE's (bootstrap over users
for the paired difference). Ideas (issue 14, item 4):

- rating-aware history weights (course users rate what they watched: a low rating pulls less);
- watch length (minutes watched; a movie watched for 1 minute pulls less than one watched long);
- recency of popularity (what was popular in the last days before the request, blended in);
- EASE + first-order Markov (successors of the last movie, blended in);
- recency of the user's own history (exp decay over positions, ranker v2's tau).

``--prior`` instead measures MovieLens as prior data (:mod:`movierec.training.prior`) on the validation
splits of leave-last-out AND last-5: EASE over the stream plus the prior at several weights and lambdas,
the prior of liked movies only, and the prior with the ideas above stacked on it; then EASE + prior
against the popular list by the length of the history (1-2, 3-5, 6+ movies), the measurement behind
ranker v2's ``popular_below``.

``--side`` measures, on the same two validation splits, what the course stream itself suggests: its
frequent users look like MovieLens users whose ratings are replayed in random order (a user's movies all
come from one release era), so (a) an era penalty — candidates released more than ``slack`` years after
the newest movie of the history lose ``penalty`` (scores are unit-scaled) — and (b) side information as
pseudo-users of EASE's Gram matrix (one per 3-year release bin and one per catalog genre, weight ``w``:
``G += w * F^T F``, the closed-form side-information EASE of Jeunen et al. 2020), both on EASE + prior.

``--v2`` measures ideas on ranker v2 itself, as served (over the course catalog's embedded index, read from
``MOVIEREC_INDEX_CACHE``: built, about 12 minutes, when missing), on the same two validation splits, each
against the point the tuner chose on the stream's leave-last-out (2026-12-03): knobs beyond the tuner's
grid (larger lambdas, neighbour lists pruned shorter or longer than the 100 served, a smaller or larger
vocabulary, low ratings not discounted or up-weighted, side weight 20), MovieLens' genres as
side features of the movies the course catalog has no genres for (43% of the leave-last-out targets are
such movies), the prior cut into 50-movie time slices (so its long histories co-occur like the
stream's short ones), and recent popularity blended in (what helped plain EASE, above: does it still help
once the prior is in?).

``--profile`` measures the course user profile (``catalog/users.csv``: gender, occupation, age band) for users
with a history, on the same two validation splits: each profile value a pseudo-movie in dense EASE + prior
(a column of the user's row, weight ``w``, so the fit learns what each group watches beyond its
members' histories), then the same token rows blended into ranker v2 as served.

Run: ``PYTHONPATH=layers/common/python python bench/stream_features.py [--prior | --side | --v2 | --extra |
--profile]``; prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from movierec.catalog.course import load_course_catalog  # noqa: E402
from movierec.catalog.movielens import load_movielens_catalog  # noqa: E402
from movierec.catalog.derived import movie_from_id  # noqa: E402
from movierec.catalog.users import read_profiles  # noqa: E402
from movierec.evaluation.cold import GROUPINGS  # noqa: E402
from movierec.models.audit import UserProfile  # noqa: E402
from movierec.evaluation import metrics  # noqa: E402
from movierec.evaluation.baselines import MarkovRanker  # noqa: E402
from movierec.evaluation.interactions import TIE_SEED, load_prior, load_stream  # noqa: E402
from movierec.evaluation.scoring import evaluate  # noqa: E402
from movierec.evaluation.served import catalog_index  # noqa: E402
from movierec.evaluation.split import Split, last_n, leave_last_out, validation  # noqa: E402
from movierec.training.ease import ease_weights  # noqa: E402
from movierec.training.prior import gram_with_prior  # noqa: E402
from movierec.ranking.popular import PopularRanker  # noqa: E402
from movierec.ranking.vocabulary import user_item_matrix  # noqa: E402
from movierec.ranking.scores import scored_top  # noqa: E402
from movierec.training.ease import fit_ease  # noqa: E402
from movierec.training.families import FitCache, v2_spec  # noqa: E402
from movierec.training.side import add_side_gram, side_features  # noqa: E402

DAY = 86400.0


class Recent:
    """What the whole stream watched in the days before a moment: training interactions only, by time."""

    def __init__(self, train, position, n: int) -> None:
        ev = sorted((i.last_seen, position[i.movie_id]) for h in train.values() for i in h if i.movie_id in position)
        self._t = np.array([t for t, _ in ev])
        self._j = np.array([j for _, j in ev], dtype=np.int64)
        self._n = n

    def log_counts(self, now: float, days: float) -> np.ndarray:
        """log(1 + watchers) of every row over ``(now - days, now]``."""
        lo, hi = np.searchsorted(self._t, [now - days * DAY, now], side="right")
        return np.log1p(np.bincount(self._j[lo:hi], minlength=self._n).astype(np.float64))


class Boosted:
    """Ranker v2 as served plus ``weight`` x a unit-scaled signal of the history (``signal(history)``, one
    value per index row): recent popularity (:meth:`trending`, the blend that helped plain EASE) or the era
    kernel (:meth:`era`)."""

    def __init__(self, ranker, signal, weight: float, name: str) -> None:
        self.name, self._ranker, self._signal, self._weight = name, ranker, signal, weight
        self._scores = ranker.scores
        ranker.scores = self._blended  # rank() (its long-tail places) then reads the blended scores

    @classmethod
    def trending(cls, ranker, train, weight: float, days: float, name: str) -> "Boosted":
        """Log watchers of the ``days`` before the newest movie of the history."""
        recent = Recent(train, ranker.index.row_of, len(ranker.index))
        return cls(ranker, lambda history: recent.log_counts(max(i.last_seen for i in history), days), weight, name)

    @classmethod
    def era(cls, ranker, weight: float, bw: float, name: str) -> "Boosted":
        """:func:`era_signal` over the index's ``year`` column."""
        years = np.array([y or np.nan for y in ranker.index.column("year").to_pylist()], dtype=np.float64)
        return cls(ranker, lambda history: era_signal(years, history, bw), weight, name)

    def _blended(self, history):
        scores = self._scores(history)
        if not history:
            return scores
        extra = self._signal(history)
        return scores + self._weight * extra / max(np.abs(extra).max(), 1e-12)

    def rank(self, history, k):
        return self._ranker.rank(history, k)


def era_signal(years: np.ndarray, history, bw: float) -> np.ndarray:
    """log of a Gaussian kernel density (width ``bw`` years) of ``years`` (one per candidate, NaN when
    unknown: the average density) around the history's release years; zeros when none is known."""
    known = np.array([y for i in history if (y := movie_from_id(i.movie_id).year)], dtype=np.float64)
    if not len(known):
        return np.zeros(len(years))
    d = (years[:, None] - known[None, :]) / bw
    density = np.exp(-0.5 * d * d).mean(axis=1)
    return np.log(np.where(np.isnan(density), np.nanmean(density), density) + 1e-3)


class Blend:
    """EASE scores of a weighted history, plus optional blended signals (all unit-scaled)."""

    def __init__(self, vocab, b, train, name="blend", rating_low=None, low_weight=1.0, minutes=None, tau=None,
                 trend=0.0, trend_days=7.0, markov=0.0, era_slack=None, era_penalty=0.0):
        self.name = name
        self.vocab, self.b = vocab, b
        self.rating_low, self.low_weight, self.minutes, self.tau = rating_low, low_weight, minutes, tau
        self.trend, self.trend_days, self.markov = trend, trend_days, markov
        self.era_slack, self.era_penalty = era_slack, era_penalty
        self._year = (np.array([movie_from_id(m).year or 0 for m in vocab.items], dtype=np.float64)
                      if era_slack is not None else None)  # fmt: skip
        self._recent = Recent(train, vocab.position, len(vocab))
        self._mk = MarkovRanker.fit(train, vocab.items) if markov else None

    def _unit(self, v):
        m = np.abs(v).max()
        return v / m if m > 0 else v

    def rank(self, history, k):
        pos = self.vocab.position
        known = [i for i in history if i.movie_id in pos]
        if not known:
            return []
        rows = np.array([pos[i.movie_id] for i in known])
        w = np.ones(len(known))
        if self.rating_low is not None:
            w *= np.array([self.low_weight if i.rating is not None and i.rating <= self.rating_low else 1.0 for i in known])
        if self.minutes is not None:
            w *= np.array([min(1.0, max(i.max_minute, 1) / self.minutes) if i.rating is None else 1.0 for i in known])
        if self.tau is not None:
            order = np.argsort([i.last_seen for i in known], kind="stable")
            back = np.empty(len(known))
            back[order] = np.arange(len(known) - 1, -1, -1)
            w *= np.exp(-back / self.tau)
        scores = self._unit((self.b[rows] * w[:, None]).sum(axis=0, dtype=np.float64))
        now = max(i.last_seen for i in history)
        if self.trend:
            scores = scores + self.trend * self._unit(self._recent.log_counts(now, self.trend_days))
        if self._mk is not None:
            mk = np.zeros(len(self.vocab))
            for s in self._mk.rank(history, 200):
                mk[pos[s.movie_id]] = s.score
            scores = scores + self.markov * self._unit(np.maximum(mk - 1.0, 0.0))  # transition counts only
        if self._year is not None:
            newest = max((movie_from_id(i.movie_id).year or 0 for i in history), default=0)
            if newest:
                scores = scores - self.era_penalty * (self._year > newest + self.era_slack)
        scores[rows] = -np.inf
        return scored_top(self.vocab.items, scores, k)


def _table(rankers: dict, val: Split, reference: str) -> None:
    out = evaluate(rankers, val, (20,), progress=False)
    print(f"| model | HR@20 | NDCG@20 | cov@20 | idea - {reference}: HR@20 [95% CI] | NDCG@20 [95% CI] |")
    print("|---|---|---|---|---|---|")
    for name in rankers:
        m, d = out.metrics(name, 20), out.paired(name, reference, 20)
        print(f"| {name} | {m['hit_rate']:.4f} | {m['ndcg']:.4f} | {m['coverage']:.4f} | {d['hit_rate']:+.4f} "
              f"[{d['hit_rate_low']:+.4f}, {d['hit_rate_high']:+.4f}] | {d['ndcg']:+.4f} [{d['ndcg_low']:+.4f}, {d['ndcg_high']:+.4f}] |")


def prior_ideas(log) -> None:
    """MovieLens as prior data for EASE, on the validation splits of leave-last-out and last-5."""
    prior = load_prior()
    liked = {u: tuple(i for i in h if i.rating is not None and i.rating >= 3.5) for u, h in prior.items()}

    def ease(val: Split, source, weight: float, lam: float, name: str, **extra) -> Blend:
        vocab, gram, _ = gram_with_prior(val.train, source, weight, 3, 10_000)
        return Blend(vocab, ease_weights(gram, lam), val.train, name=name, **extra)

    for label, split in (("leave-last-out", leave_last_out(log)), ("last-5", last_n(log, 5))):
        val = validation(split)
        print(f"\nvalidation of {label}: {len(val.cases)} cases")
        rankers = {"ease": ease(val, None, 0.0, 1000.0, "ease")}
        for weight, lam in ((1.0, 1000.0), (0.5, 1000.0), (2.0, 1000.0), (1.0, 500.0), (1.0, 2000.0)):
            name = f"+ prior x{weight:g} (lambda {lam:g})"
            rankers[name] = ease(val, prior, weight, lam, name)
        rankers["+ prior of liked movies (>= 3.5)"] = ease(val, liked, 1.0, 1000.0, "liked")
        base = ease(val, prior, 1.0, 1000.0, "base")
        for name, extra in {"+ prior + trending 7 days (0.4)": dict(trend=0.4, trend_days=7.0),
                            "+ prior + trending 3 days (0.2)": dict(trend=0.2, trend_days=3.0),
                            "+ prior + rating-aware (<=2 -> 0.5)": dict(rating_low=2.0, low_weight=0.5)}.items():  # fmt: skip
            rankers[name] = Blend(base.vocab, base.b, val.train, name=name, **extra)
        _table(rankers, val, "ease")
        by_length = evaluate({"ease + prior": base, "popular": PopularRanker.from_training(val.train, val.catalog)},
                             val, (20,), progress=False)  # fmt: skip
        for low, high in ((1, 2), (3, 5), (6, 10**9)):
            part = by_length.subset(lambda c, low=low, high=high: low <= len(c.history) <= high, f"{low}-{high} movies")
            a, p, d = part.metrics("ease + prior", 20), part.metrics("popular", 20), part.paired("ease + prior", "popular", 20)
            print(f"histories of {low}-{high if high < 10**9 else 'more'} movies: {len(part.split.cases)} cases, "
                  f"HR@20 ease + prior {a['hit_rate']:.4f}, popular {p['hit_rate']:.4f}, "
                  f"difference {d['hit_rate']:+.4f} [{d['hit_rate_low']:+.4f}, {d['hit_rate_high']:+.4f}]")


def side_ideas(log) -> None:
    """Era penalty and side-information pseudo-users on EASE + prior (validation of both splits)."""
    prior = load_prior()
    genres = {m.id: m.genres for m in load_course_catalog().movies}

    def pseudo_users(items, key) -> sp.csr_matrix:
        groups: dict[object, list[int]] = {}
        for j, m in enumerate(items):
            for g in key(m):
                groups.setdefault(g, []).append(j)
        r = [k for k, js in enumerate(groups.values()) for _ in js]
        c = [j for js in groups.values() for j in js]
        return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(groups), len(items)))

    for label, split in (("leave-last-out", leave_last_out(log)), ("last-5", last_n(log, 5))):
        val = validation(split)
        print(f"\nvalidation of {label}: {len(val.cases)} cases")
        vocab, gram, _ = gram_with_prior(val.train, prior, 1.0, 3, 10_000)
        year = pseudo_users(vocab.items, lambda m: [y // 3] if (y := movie_from_id(m).year) else [])
        genre = pseudo_users(vocab.items, lambda m: genres.get(m, ()))
        base = Blend(vocab, ease_weights(gram, 1000.0), val.train, name="ease + prior")
        rankers = {"ease + prior": base}
        for slack, penalty in ((0, 0.3), (1, 0.3), (1, 2.0), (2, 2.0), (4, 2.0)):
            name = f"+ era penalty (slack {slack}, {penalty:g})"
            rankers[name] = Blend(vocab, base.b, val.train, name=name, era_slack=slack, era_penalty=penalty)
        for name, (wy, wg, lam) in {"+ year bins w5": (5.0, 0.0, 1000.0), "+ year bins w20": (20.0, 0.0, 1000.0),
                                    "+ genres w5": (0.0, 5.0, 1000.0), "+ genres w20": (0.0, 20.0, 1000.0),
                                    "+ year bins + genres w5": (5.0, 5.0, 1000.0),
                                    "+ year bins + genres w20": (20.0, 20.0, 1000.0),
                                    "+ year bins + genres w20, lambda 2000": (20.0, 20.0, 2000.0)}.items():  # fmt: skip
            side = gram + wy * (year.T @ year).toarray() + wg * (genre.T @ genre).toarray()
            rankers[name] = Blend(vocab, ease_weights(side, lam), val.train, name=name)
        _table(rankers, val, "ease + prior")


#: Ranker v2 as the tuner chose it on the stream's leave-last-out (reports/offline-stream.md, 2026-12-03; its
#: short-history choice, popular_below 2, never acts on these splits' 3+-movie histories).
V2_CHOSEN = dict(lam=3000.0, tau=1e6, beta=0.0, prior_weight=1.0, side_weight=10.0, long_tail=1)


def v2_ideas(log) -> None:
    """Ideas on ranker v2 as served (validation of both splits), each against the chosen point."""
    index, _ = catalog_index("course", extra_ids=log.catalog, progress=False)
    prior = load_prior()
    side = side_features(index)
    ml_genres = {m.id: m.genres for m in load_movielens_catalog(load_course_catalog().movies)}
    no_genre = {m for m, f in side.items() if not any(x.startswith("genre:") for x in f)}
    side_ml = {m: f + tuple(f"ml-genre:{g}" for g in ml_genres.get(m, ())) if m in no_genre else f for m, f in side.items()}
    sliced = {-(10**7) - k: chunk for k, chunk in enumerate(
        h[i:i + 50] for h in prior.values() for i in range(0, len(h), 50))}  # fmt: skip
    cache = FitCache()
    plain, with_ml_genres = v2_spec(index, None, cache=cache, prior=prior), v2_spec(index, None, prior=prior, side=side_ml)
    ideas = {
        "v2 as chosen (lambda 3000, prior, side 10, 1 long-tail place)": (plain, {}),
        "no long-tail place": (plain, dict(long_tail=0)),
        "lambda 5000": (plain, dict(lam=5000.0)),
        "lambda 10000": (plain, dict(lam=10000.0)),
        "lambda 5000, side 20": (plain, dict(lam=5000.0, side_weight=20.0)),
        "neighbour lists of 50": (plain, dict(neighbours=50)),
        "neighbour lists of 200": (plain, dict(neighbours=200)),
        "neighbour lists of 400": (plain, dict(neighbours=400)),
        "movies with 2+ users in the model (3 served)": (plain, dict(min_count=2)),
        "movies with 5+ users in the model": (plain, dict(min_count=5)),
        "low ratings not discounted (low_weight 1)": (plain, dict(low_weight=1.0)),
        "low ratings up-weighted (low_weight 1.5)": (plain, dict(low_weight=1.5)),
        "MovieLens genres for movies without catalog genres": (with_ml_genres, {}),
        "prior in 50-movie time slices": (v2_spec(index, None, prior=sliced), {}),
    }
    for label, split in (("leave-last-out", leave_last_out(log)), ("last-5", last_n(log, 5))):
        val = validation(split)
        print(f"\nvalidation of {label}: {len(val.cases)} cases")
        rankers = {name: spec.build(val.train, val.catalog, **{**V2_CHOSEN, **knobs}) for name, (spec, knobs) in ideas.items()}
        for weight, days in ((0.1, 7.0), (0.3, 7.0), (0.3, 14.0)):
            name = f"+ trending {days:g} days (x{weight:g})"
            rankers[name] = Boosted.trending(plain.build(val.train, val.catalog, **V2_CHOSEN), val.train, weight, days, name)
        for weight, bw in ((0.2, 2.0), (0.4, 2.0), (0.7, 1.0)):
            name = f"+ era kernel (x{weight:g}, width {bw:g} years)"
            rankers[name] = Boosted.era(plain.build(val.train, val.catalog, **V2_CHOSEN), weight, bw, name)
        _table(rankers, val, next(iter(ideas)))


class EraKernel:
    """The unit-scaled EASE scores of one or more weight matrices summed, plus ``gain`` x the unit-scaled
    :func:`era_signal` (kernel width ``bw`` years)."""

    def __init__(self, vocab, bs, name: str, gain: float = 0.0, bw: float = 2.0) -> None:
        self.name, self.vocab, self.bs, self.gain, self.bw = name, vocab, bs, gain, bw
        self._year = np.array([movie_from_id(m).year or np.nan for m in vocab.items], dtype=np.float64)

    def rank(self, history, k):
        pos = self.vocab.position
        rows = sorted({pos[i.movie_id] for i in history if i.movie_id in pos})
        if not rows:
            return []
        scores = np.zeros(len(self.vocab))
        for b in self.bs:
            part = b[rows].sum(axis=0, dtype=np.float64)
            scores += part / max(np.abs(part).max(), 1e-12)
        if self.gain:
            era = era_signal(self._year, history, self.bw)
            scores += self.gain * era / max(np.abs(era).max(), 1e-12)
        scores[rows] = -np.inf
        return scored_top(self.vocab.items, scores, k)


def extra_ideas(log) -> None:
    """Length-weighted prior rows, an era kernel, a lambda ensemble, no short histories in the Gram matrix,
    language pseudo-users: each on dense EASE + prior (lambda 1000), validation of both splits."""
    prior = load_prior()
    language = {m.id: (f"lang:{m.original_language}",) for m in load_course_catalog().movies if m.original_language}

    def gram(vocab, rows, weight_of):
        """``X^T W X`` of ``rows`` over ``vocab``, each user's row weighted by ``weight_of(len(history))``."""
        x = user_item_matrix(rows, vocab)
        w = np.array([weight_of(len(h)) for h in rows.values()], dtype=np.float32)
        return (x.T @ sp.diags(w) @ x).toarray()

    for label, split in (("leave-last-out", leave_last_out(log)), ("last-5", last_n(log, 5))):
        val = validation(split)
        print(f"\nvalidation of {label}: {len(val.cases)} cases")
        base_vocab, base, extra = gram_with_prior(val.train, prior, 1.0, 3, 10_000)
        own = gram(base_vocab, val.train, lambda n: 1.0)
        b = {lam: ease_weights(base, lam) for lam in (300.0, 1000.0, 3000.0)}
        rankers = {"ease + prior": EraKernel(base_vocab, [b[1000.0]], "ease + prior")}
        for a, weight, lam in ((0.5, 1.0, 300.0), (0.5, 1.0, 1000.0), (1.0, 1.0, 100.0), (1.0, 3.0, 300.0), (1.5, 3.0, 300.0)):
            name = f"prior rows x min(1, (15/n)^{a:g}), prior weight {weight:g}, lambda {lam:g}"
            g = own + weight * gram(base_vocab, extra, lambda n, a=a: min(1.0, (15.0 / n) ** a))
            rankers[name] = EraKernel(base_vocab, [ease_weights(g, lam)], name)
        for gain, bw in ((0.4, 2.0), (0.7, 1.0), (1.0, 1.0)):
            name = f"+ era kernel (gain {gain:g}, width {bw:g} years)"
            rankers[name] = EraKernel(base_vocab, [b[1000.0]], name, gain, bw)
        rankers["lambdas 300 + 1000 + 3000"] = EraKernel(base_vocab, list(b.values()), "lambdas")
        long_only = {u: h for u, h in val.train.items() if len(h) >= 3}
        g = base - own + gram(base_vocab, long_only, lambda n: 1.0)
        rankers["users with < 3 movies out of the Gram matrix"] = EraKernel(base_vocab, [ease_weights(g, 1000.0)], "long")
        for weight in (5.0, 20.0):
            g = base.copy()
            add_side_gram(g, base_vocab.items, language, weight)
            name = f"+ original-language pseudo-users, weight {weight:g}"
            rankers[name] = EraKernel(base_vocab, [ease_weights(g, 1000.0)], name)
        _table(rankers, val, "ease + prior")


class ProfileTokens:
    """Each validation user's profile values as pseudo-movies (``gender:F``, ``occupation:scientist`` ...)."""

    def __init__(self, groupings: tuple[str, ...], profiles: dict[int, UserProfile]) -> None:
        self.groupings, self._profiles = groupings, profiles

    def of(self, user_id: int) -> list[str]:
        p = self._profiles.get(user_id)
        return [] if p is None else [f"{g}:{v}" for g in self.groupings if (v := GROUPINGS[g](p)) is not None]

    def fit(self, vocab, base, train, weight: float, lam: float) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """Dense EASE over ``[X | sqrt(weight) U]`` (``U`` the users x tokens matrix of ``train``, ``base``
        the movies' Gram matrix): each token's position, the movies' weights, and the tokens' weight rows
        over the movies, scaled so that a user's token adds ``sqrt(weight)`` x its row."""
        x = user_item_matrix(train, vocab)
        tokens = sorted({t for u in train for t in self.of(u)})
        column = {t: j for j, t in enumerate(tokens)}
        cells = [(r, column[t]) for r, u in enumerate(train) for t in self.of(u)]
        u = sp.csr_matrix((np.ones(len(cells), np.float32), tuple(zip(*cells))), shape=(x.shape[0], len(tokens)))
        n, root = len(vocab), np.float32(np.sqrt(weight))
        g = np.zeros((n + len(tokens),) * 2, np.float32)
        g[:n, :n] = base
        g[:n, n:] = (x.T @ u).toarray() * root
        g[n:, :n] = g[:n, n:].T
        g[n:, n:] = (u.T @ u).toarray() * np.float32(weight)
        b = ease_weights(g, lam)
        return column, b[:n, :n], b[n:, :n] * root


class WithProfile:
    """A per-case ranker (the profile is the case's user's, which a history alone does not carry): the
    history's EASE rows plus the rows of the user's profile tokens (:meth:`ProfileTokens.fit`)."""

    def __init__(self, vocab, b, tokens: ProfileTokens, column: dict[str, int], rows: np.ndarray, name: str) -> None:
        self.vocab, self.b, self.tokens, self.column, self.rows, self.name = vocab, b, tokens, column, rows, name

    def __call__(self, case):
        own = [self.column[t] for t in self.tokens.of(case.user_id) if t in self.column]
        return _Scored(self, self.rows[own].sum(axis=0, dtype=np.float64) if own else 0.0)


class _Scored:
    def __init__(self, model: WithProfile, extra) -> None:
        self.model, self.extra = model, extra

    def rank(self, history, k):
        m = self.model
        rows = sorted({m.vocab.position[i.movie_id] for i in history if i.movie_id in m.vocab.position})
        if not rows:
            return []
        scores = m.b[rows].sum(axis=0, dtype=np.float64) + self.extra
        scores[rows] = -np.inf
        return scored_top(m.vocab.items, scores, k)


def profile_ideas(log) -> None:
    """The user profile as pseudo-movies of dense EASE + prior, then blended into ranker v2 as served."""
    prior, profiles = load_prior(), read_profiles()
    index, _ = catalog_index("course", extra_ids=log.catalog, progress=False)
    plain = v2_spec(index, None, cache=FitCache(), prior=prior)
    for label, split in (("leave-last-out", leave_last_out(log)), ("last-5", last_n(log, 5))):
        val = validation(split)
        print(f"\nvalidation of {label}: {len(val.cases)} cases (dense EASE + prior, lambda 1000)")
        vocab, base, _ = gram_with_prior(val.train, prior, 1.0, 3, 10_000)
        b = ease_weights(base, 1000.0)
        rankers = {"ease + prior": EraKernel(vocab, [b], "ease + prior")}
        for groupings in (("age",), ("gender",), ("occupation",), ("gender", "occupation"), ("age", "gender", "occupation")):
            tokens = ProfileTokens(groupings, profiles)
            for weight in (0.3, 1.0, 2.0, 5.0):
                name = f"+ {' + '.join(groupings)} pseudo-movies, weight {weight:g}"
                column, b_movies, rows = tokens.fit(vocab, base, val.train, weight, 1000.0)
                rankers[name] = WithProfile(vocab, b_movies, tokens, column, rows, name)
        _table(rankers, val, "ease + prior")
        print(f"\nvalidation of {label}: ranker v2 as chosen, + the gender and occupation token rows (weight 1), unit-scaled")
        tokens = ProfileTokens(("gender", "occupation"), profiles)
        column, _, rows = tokens.fit(vocab, base, val.train, 1.0, 1000.0)
        on_index = np.zeros((len(column), len(index)))
        where = np.array([index.row_of.get(m, -1) for m in vocab.items])
        on_index[:, where[where >= 0]] = rows[:, where >= 0]
        v2 = {"v2 as chosen": plain.build(val.train, val.catalog, **V2_CHOSEN)}
        for blend in (0.1, 0.2, 0.4):
            v2[f"+ profile rows x{blend:g}"] = ProfileBoosted(plain.build(val.train, val.catalog, **V2_CHOSEN), tokens,
                                                              column, on_index, blend)  # fmt: skip
        _table(v2, val, "v2 as chosen")


class ProfileBoosted:
    """A per-case ranker: ranker v2 as served plus ``blend`` x the unit-scaled profile token rows of the
    case's user (:class:`Boosted` reads the user this sets before each case)."""

    def __init__(self, ranker, tokens: ProfileTokens, column: dict[str, int], rows: np.ndarray, blend: float) -> None:
        self._user = 0
        signal = lambda history: rows[[column[t] for t in tokens.of(self._user) if t in column]].sum(axis=0)  # noqa: E731
        self._boosted = Boosted(ranker, signal, blend, f"+ profile rows x{blend:g}")

    def __call__(self, case):
        self._user = case.user_id
        return self._boosted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--prior", action="store_true", help="MovieLens as prior data (both validation splits)")
    mode.add_argument("--side", action="store_true", help="era penalty and side-information pseudo-users on EASE + prior")
    mode.add_argument("--v2", action="store_true", help="ideas on ranker v2 as served (embedded index), both validation splits")
    mode.add_argument("--extra", action="store_true", help="length-weighted prior rows, era kernel, lambda ensemble, ... on EASE + prior")
    mode.add_argument("--profile", action="store_true", help="the user profile as pseudo-movies of EASE + prior, then blended into v2")
    args = parser.parse_args()
    started = time.perf_counter()
    log = load_stream(tie_seed=TIE_SEED)
    modes = {"prior": prior_ideas, "side": side_ideas, "v2": v2_ideas, "extra": extra_ideas, "profile": profile_ideas}
    ideas = next((fn for flag, fn in modes.items() if getattr(args, flag)), None)  # the flags exclude each other
    if ideas is not None:
        ideas(log)
        print(f"took {time.perf_counter() - started:.0f} s")
        return
    val = validation(leave_last_out(log))
    print(f"course stream: validation of leave-last-out, {len(val.cases)} cases")
    fits = {}
    for lam in (300.0, 1000.0, 3000.0, 10000.0):
        fits[lam] = fit_ease(val.train, lam)
    rankers = {f"ease lam={lam:g}": Blend(*fits[lam], val.train) for lam in fits}
    res = evaluate(rankers, val, (20,), progress=False)
    best_lam = max(fits, key=lambda lam: res.metrics(f"ease lam={lam:g}", 20)["ndcg"])
    vocab, b = fits[best_lam]
    ideas = {
        "rating-aware (<=2 -> 0.2)": dict(rating_low=2.0, low_weight=0.2),
        "rating-aware (<=3 -> 0.5)": dict(rating_low=3.0, low_weight=0.5),
        "watch length (min(1, minutes/60))": dict(minutes=60.0),
        "watch length (min(1, minutes/20))": dict(minutes=20.0),
        "recency of history (tau 5)": dict(tau=5.0),
        "recency of history (tau 20)": dict(tau=20.0),
        "trending 7 days (0.1)": dict(trend=0.1, trend_days=7.0),
        "trending 7 days (0.3)": dict(trend=0.3, trend_days=7.0),
        "trending 1 day (0.3)": dict(trend=0.3, trend_days=1.0),
        "trending 7 days (0.6)": dict(trend=0.6, trend_days=7.0),
        "trending 14 days (0.3)": dict(trend=0.3, trend_days=14.0),
        "trending 30 days (0.3)": dict(trend=0.3, trend_days=30.0),
        "trending 7 days (0.3) + rating-aware (<=3 -> 0.5)": dict(trend=0.3, trend_days=7.0, rating_low=3.0, low_weight=0.5),
        "+ markov (0.3)": dict(markov=0.3),
        "+ markov (1.0)": dict(markov=1.0),
    }
    rankers = {"ease": Blend(vocab, b, val.train)} | {n: Blend(vocab, b, val.train, name=n, **p) for n, p in ideas.items()}
    out = evaluate(rankers, val, (20,), progress=False)
    print(f"EASE lambda grid (validation NDCG@20): " + ", ".join(f"{lam:g}: {res.metrics(f'ease lam={lam:g}', 20)['ndcg']:.4f}" for lam in fits))
    print(f"ideas on EASE lambda {best_lam:g}:")
    print("| model | HR@20 | NDCG@20 | idea - EASE: NDCG@20 [95% CI] |")
    print("|---|---|---|---|")
    for name in rankers:
        m = out.metrics(name, 20)
        d = out.paired(name, "ease", 20)
        print(f"| {name} | {m['hit_rate']:.4f} | {m['ndcg']:.4f} | {d['ndcg']:+.4f} [{d['ndcg_low']:+.4f}, {d['ndcg_high']:+.4f}] |")
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
