"""Cold users: who is cold, what each candidate list ranks, back-off to global, and a tuner blind to test targets."""

from __future__ import annotations

import random

from movierec.evaluation.cold import (
    DAY, age_band, as_served, before, blend, cold_split, demographic, openers, run_cold, trending, watched,
)  # fmt: skip
from movierec.evaluation.interactions import build_log
from movierec.evaluation.scoring import ModelSpec, evaluate
from movierec.evaluation.split import Case, Split, cut_time
from movierec.models.audit import UserProfile
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.popular import PopularRanker

from tests.fixtures.eval import log_from


def _ids(ranker, history=(), k: int = 3) -> list[str]:
    return [s.movie_id for s in ranker.rank(history, k)]


def test_a_user_with_three_movies_before_the_cut_is_not_cold() -> None:
    log = log_from({
        1: [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 11.0)],           # 3 before: not cold
        2: [("a", 1.0), ("b", 2.0), ("c", 12.0), ("d", 13.0)],          # 2 before: one case
        3: [("a", 11.0), ("b", 12.0), ("c", 13.0), ("d", 14.0)],        # none before: three cases
        4: [("a", 1.0)],                                                 # nothing after: no case
    })  # fmt: skip
    split = cold_split(log, cut=10.0)
    assert [(c.user_id, [i.movie_id for i in c.history], c.target) for c in split.cases] == [
        (2, ["a", "b"], "c"),
        (3, [], "a"),
        (3, ["a"], "b"),
        (3, ["a", "b"], "c"),
    ]
    assert {u: [i.movie_id for i in h] for u, h in split.train.items()} == {1: ["a", "b", "c"], 2: ["a", "b"], 3: [], 4: ["a"]}


def test_before_drops_everything_at_or_after_the_cut() -> None:
    log = log_from({1: [("a", 1.0), ("b", 10.0)], 2: [("c", 11.0)]})
    assert {u: [i.movie_id for i in h] for u, h in before(log, 10.0).users.items()} == {1: ["a"], 2: []}
    assert before(log, 10.0).catalog == log.catalog


def test_trending_counts_the_window_before_the_newest_training_movie_and_breaks_ties_by_all_time() -> None:
    day = DAY
    train = {
        1: (Interaction("old", 0.0), Interaction("new", 30 * day)),
        2: (Interaction("old", 1.0), Interaction("tie", 29 * day)),
        3: (Interaction("old", 2.0), Interaction("new", 29.5 * day)),
        4: (Interaction("tie", 3.0),),
    }
    catalog = ("old", "new", "tie", "never")
    # Last 2 days: new 2 users, tie 1 (user 2), old 0; "tie" beats "old" in the window, "old" beats "never"
    # by all-time count.
    assert _ids(trending(train, catalog, days=2.0), k=4) == ["new", "tie", "old", "never"]
    # A window over everything is plain popularity: old 3, new 2, tie 2 (catalog order), never 0.
    assert _ids(trending(train, catalog, days=365.0), k=4) == ["old", "new", "tie", "never"]


def _profiles(**gender: str) -> dict[int, UserProfile]:
    return {int(u[1:]): UserProfile(30, "writer", g) for u, g in gender.items()}


def test_a_small_group_and_a_user_without_a_profile_get_the_global_list() -> None:
    # Women (users 1, 2) watch "f"; men (3, 4, 5) watch "m" and "x". Globally "m" and "x" lead.
    train = {1: (Interaction("f", 1.0),), 2: (Interaction("f", 1.0),),
             3: (Interaction("m", 1.0), Interaction("x", 2.0)), 4: (Interaction("m", 1.0), Interaction("x", 2.0)),
             5: (Interaction("m", 1.0), Interaction("x", 2.0))}  # fmt: skip
    catalog = ("f", "m", "x")
    profiles = _profiles(u1="F", u2="F", u3="M", u4="M", u5="M", u9="F")
    lists = demographic(train, catalog, profiles, "gender", min_size=2)
    assert _ids(lists(Case(9, (), "f"))) == ["f", "m", "x"]  # a new woman: the women's list, padded globally
    assert _ids(lists(Case(7, (), "f"))) == ["m", "x", "f"]  # no profile: global
    small = demographic(train, catalog, profiles, "gender", min_size=3)  # 2 women < 3: back off
    assert _ids(small(Case(9, (), "f"))) == ["m", "x", "f"]
    assert _ids(small(Case(3, (), "f"))) == ["m", "x", "f"]  # the men's own list (3 >= 3)
    # evaluate takes the per-case choice: the new woman's target "f" is first with min_size 2, third with 3.
    split = cold_split(log_from({9: [("f", 5.0)]}, catalog), cut=5.0)
    split = type(split)(split.name, train, split.cases, catalog)
    assert evaluate({"own": lists, "backed off": small}, split, (3,), progress=False).models["own"].ranks == [1]
    assert evaluate({"backed off": small}, split, (3,), progress=False).models["backed off"].ranks == [3]


def test_watched_counts_watches_only_and_breaks_ties_by_all_time() -> None:
    train = {
        1: (Interaction("rated", 1.0, rating=5.0), Interaction("seen", 2.0, watch_count=3)),
        2: (Interaction("rated", 1.0, rating=4.0), Interaction("both", 2.0, rating=3.0, watch_count=1)),
        3: (Interaction("rated", 1.0, rating=2.0), Interaction("seen", 2.0, max_minute=9, watch_count=1)),
        4: (Interaction("both", 1.0, rating=4.0),),
    }
    catalog = ("rated", "both", "seen", "never")
    # Watches: seen 2 users, both 1 (user 2; user 4 only rated it), rated 0; "rated" (3 users in all)
    # still beats "never" by all-time count.
    assert _ids(watched(train, catalog), k=4) == ["seen", "both", "rated", "never"]
    # Without a single watch (MovieLens ratings) it is the popular list.
    ratings_only = {u: tuple(Interaction(i.movie_id, i.last_seen, rating=3.0) for i in h) for u, h in train.items()}
    assert _ids(watched(ratings_only, catalog), k=4) == _ids(PopularRanker.from_training(ratings_only, catalog), k=4)


def test_openers_count_each_users_earliest_movies_and_break_ties_by_all_time() -> None:
    train = {
        1: (Interaction("start", 1.0), Interaction("late", 5.0), Interaction("later", 6.0)),
        2: (Interaction("late", 7.0), Interaction("start", 2.0)),  # not in time order: earliest is "start"
        3: (Interaction("tied-a", 3.0), Interaction("tied-b", 3.0), Interaction("late", 8.0)),
    }
    catalog = ("later", "late", "tied-b", "tied-a", "start", "never")
    # First movies: start 2 users, tied-a 1 (equal times keep the history's order); then all-time counts
    # (late 3 users, later 1, tied-b 1: catalog order) and "never".
    assert _ids(openers(train, catalog, first=1), k=6) == ["start", "tied-a", "late", "later", "tied-b", "never"]
    # First two: start 2, late 2 (users 1 and 2) -> all-time breaks it (late 3 > start 2); tied-a, tied-b 1.
    assert _ids(openers(train, catalog, first=2), k=6) == ["late", "start", "tied-b", "tied-a", "later", "never"]
    # Counting every movie, it is the popular list.
    assert _ids(openers(train, catalog, first=3), k=6) == _ids(PopularRanker.from_training(train, catalog), k=6)


def test_blend_adds_trending_to_the_group_list() -> None:
    train = {1: (Interaction("f", 1.0),), 2: (Interaction("f", 1.0),), 3: (Interaction("hot", 10 * DAY),)}
    profiles = _profiles(u1="F", u2="F", u3="M", u9="F")
    lists = blend(train, ("f", "hot", "z"), profiles, "gender", min_size=2, days=1.0)
    # Women: f 1.0 (their top) + 0 recent; hot 0 + 1.0 recent; tie broken by all-time (f 2 > hot 1).
    assert _ids(lists(Case(9, (), "f"))) == ["f", "hot", "z"]
    # Global part for a small group: f 1.0 + 0, hot 0.5 + 1.0 -> hot first.
    assert _ids(lists(Case(3, (), "f"))) == ["hot", "f", "z"]


def test_age_bands() -> None:
    assert [age_band(a) for a in (None, 8, 18, 24, 25, 44, 54, 55, 90)] == [
        None, "<18", "18-24", "18-24", "25-34", "35-44", "45-54", "55+", "55+"]  # fmt: skip


def _mixed_log(swap_after: float | None = None, seed: int = 5):
    """60 users over 100 days, a third arriving late with few movies; with ``swap_after`` every movie at or
    after that time is replaced by one nobody else has (the test targets change, nothing before them; the
    catalog names every replacement either way, as a real catalog knows its movies before anyone watches)."""
    rng = random.Random(seed)
    rows = []
    for u in range(60):
        start = rng.uniform(0, 100) if u % 3 == 0 else rng.uniform(0, 40)
        for n, m in enumerate(rng.sample(range(13), rng.randint(1, 6))):  # distinct: nothing folds
            t = (start + 7 * n + rng.random()) * DAY
            movie = f"m{m}"
            if swap_after is not None and t >= swap_after:
                movie = f"other{u}-{n}"
            rows.append((u, Interaction(movie, t)))
    catalog = [f"m{i}" for i in range(13)] + [f"other{u}-{n}" for u in range(60) for n in range(6)]
    return build_log(rows, catalog, source="test", tie_seed=0)


def test_the_tuner_never_reads_a_test_target() -> None:
    log = _mixed_log()
    cut = cut_time(log, 0.2)
    swapped = _mixed_log(swap_after=cut)
    assert cut_time(swapped, 0.2) == cut
    profiles = {u: UserProfile(20 + u % 40, "writer" if u % 2 else "artist", "F" if u % 3 else "M") for u in range(60)}
    a, b = run_cold(log, profiles, after=0.2), run_cold(swapped, profiles, after=0.2)
    assert len(a.validation.split.cases) >= 5 and len(a.test.split.cases) >= 5 and len(a.tuning["trending"]) > 1
    assert a.validation_cut < cut and all(c.target.startswith("m") for c in a.validation.split.cases)
    assert a.params == b.params and a.tuning == b.tuning
    assert {n: m.ranks for n, m in a.validation.models.items()} == {n: m.ranks for n, m in b.validation.models.items()}
    assert [c.target for c in a.test.split.cases] != [c.target for c in b.test.split.cases]  # the test did change
    assert set(a.test.models) == {"popular", "trending", "watched", "openers", "demo-age", "demo-occupation", "demo-gender", "blend"}


def test_as_served_answers_a_user_with_a_known_movie_by_the_main_ranker_else_popular() -> None:
    """What serving does for a cold user, as a candidate: the main ranker only when the history holds a
    movie of its index; a subset of the results keeps exactly the answers of the cases it keeps."""
    main = PopularRanker([Scored("z", 1.0)], "main")
    spec = as_served(ModelSpec(build=lambda train, catalog: main), frozenset({"a"}))
    served = spec.build({1: (Interaction("b", 1.0),)}, ("a", "b", "z"))
    known, unknown = Case(2, (Interaction("a", 1.0),), "z"), Case(3, (Interaction("q", 1.0),), "b")
    assert served(known) is main and served(unknown) is not main
    split = Split("s", {1: (Interaction("b", 1.0),)}, (known, unknown, Case(4, (), "b")), ("a", "b", "z"))
    results = evaluate({"served": served}, split, (20,), progress=False)
    assert results.metrics("served", 20)["hit_rate"] == 1.0  # z for the known user, b (popular) for the others
    part = results.subset(lambda c: bool(c.history), "with a movie")
    assert [c.user_id for c in part.split.cases] == [2, 3] and part.models["served"].recommended[0][0] == "z"
