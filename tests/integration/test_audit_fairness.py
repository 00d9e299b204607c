"""The fairness audit: a group served worse is found (disjoint intervals), equal groups are not; exposure
figures on lists that echo the charts and on spread lists; conversion per group by the online join."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from movierec.audit.fairness import age_band, exposure, gap, gini, offline_by_group, online_by_group
from movierec.evaluation.online import Request, Watch
from movierec.models.audit import UserProfile


def _profiles(n: int) -> dict[int, UserProfile]:
    return {u: UserProfile(20 + u % 40, "scientist" if u % 3 else "artist", "F" if u % 2 else "M") for u in range(n)}


def test_a_group_served_worse_is_flagged_with_disjoint_intervals() -> None:
    profiles = _profiles(400)
    rng = random.Random(0)
    users = list(range(400))
    # Women's targets rank 1..10 in 60% of cases, men's in 10%: a real quality gap.
    ranks = [rng.randint(1, 10) if rng.random() < (0.6 if profiles[u].gender == "F" else 0.1) else None for u in users]
    figures = offline_by_group(ranks, users, profiles)["hit_rate"]["gender"]
    g = gap(figures)
    assert g is not None and (g.best.group, g.worst.group) == ("F", "M") and g.separated
    assert g.size == pytest.approx(g.best.value - g.worst.value) and 0.35 < g.size < 0.65


def test_equal_groups_are_not_flagged() -> None:
    profiles = _profiles(400)
    rng = random.Random(1)
    users = list(range(400))
    ranks = [rng.randint(1, 10) if rng.random() < 0.3 else None for _ in users]  # same quality for everyone
    for attribute, figures in offline_by_group(ranks, users, profiles)["hit_rate"].items():
        g = gap(figures)
        assert g is not None and not g.separated, attribute


def test_users_without_profile_form_no_group_and_age_bands() -> None:
    figures = offline_by_group([1, None, 1, None], [1, 2, 3, 4], {1: UserProfile(30, None, "F")})["hit_rate"]
    assert {f.group: f.users for f in figures["gender"]} == {"F": 1, "no profile": 3}
    assert [age_band(a) for a in (None, 12, 18, 24, 25, 44, 60)] == ["unknown", "<18", "18-24", "18-24", "25-34", "35-44", "55+"]
    zero = [f for f in offline_by_group([None] * 30, list(range(30)), {})["hit_rate"]["gender"]][0]
    assert (zero.value, zero.low, zero.high) == (0.0, 0.0, 0.1)  # no hit in 30 cases: rule of three, not [0, 0]


def test_exposure_of_chart_echo_and_of_spread_lists() -> None:
    catalog = [f"m{i}" for i in range(1000)]
    popularity = {m: 1000 - i for i, m in enumerate(catalog[:900])}  # m900.. are cold (no training user)
    echo = exposure([catalog[:20]] * 200, popularity, catalog)
    assert echo.top1_share == 0.5 and echo.top10_share == 1.0 and echo.gini > 0.97
    assert (echo.cold_movies, echo.cold_shown, echo.coverage) == (100, 0, 0.02)
    spread = exposure([catalog[i * 20 : i * 20 + 20] for i in range(50)] * 4, popularity, catalog)
    assert spread.gini == pytest.approx(0.0) and spread.coverage == 1.0
    assert spread.cold_shown == 100 and spread.cold_slot_share == pytest.approx(0.1)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75) and gini([]) == 0.0


def test_online_conversion_per_group_uses_the_online_join() -> None:
    profiles = {1: UserProfile(30, "scientist", "F"), 2: UserProfile(30, "artist", "M")}
    t = 1_700_000_000.0
    requests = [Request(u, t + i * 100_000, "api", 200, ("a", "b")) for u in (1, 2) for i in range(4)]
    watches = [Watch(1, "a", t + 10, 3), Watch(1, "b", t + 100_010, 3), Watch(2, "a", t + 90_000, 1)]  # user 2: too late
    by_gender = {f.group: f for f in online_by_group(requests, watches, profiles, 24.0)["gender"]}
    assert (by_gender["F"].value, by_gender["F"].cases) == (0.5, 4)
    assert by_gender["M"].value == 0.0


@pytest.mark.slow
def test_fairness_command_on_the_course_stream_samples(data_dir: Path, tmp_path: Path) -> None:
    from infra.cli import main

    assert main(["audit", "fairness", "--source", "samples", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "audit-fairness.md").read_text()
    assert "| gender | F |" in text and "HR@20 gaps" in text and "| ease |" in text
    assert (tmp_path / "audit-fairness.png").stat().st_size > 10_000


@pytest.mark.slow
def test_fairness_command_on_the_local_stack_tables(isolated, ml_built, slice_log, tmp_path: Path) -> None:
    """The running system's tables: histories of course users, the served ranker over the published index,
    online conversion from the answer log."""
    import dataclasses

    from movierec.dal.tables import Tables
    from movierec.index.publish import publish
    from infra.cli import main
    from tests.fixtures.training import write_histories

    publish(ml_built.folder, ml_built.manifest.version, isolated)
    course = dataclasses.replace(slice_log, users={1000 + u: h for u, h in slice_log.users.items()})  # course ids
    tables = Tables(isolated)
    write_histories(tables, course)
    with tables.recommendations.batch_write() as batch:
        for u, h in list(course.users.items())[:20]:  # an answer a second before each user's last movie
            at = h[-1].last_seen - 1
            batch.save(tables.recommendations(u, f"{int(at * 1000):013d}#api#t-{u}", at=at, source="api", status=200,
                                          movie_ids=",".join([h[-1].movie_id, *ml_built_ids(ml_built)[:19]])))  # fmt: skip
    assert main(["audit", "fairness", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "audit-fairness.md").read_text()
    assert "## content-v1: offline quality per user group" in text and "## Online conversion per user group" in text
    assert "| gender | M |" in text


def ml_built_ids(built) -> list[str]:
    from movierec.index.loaded import load_index

    return load_index(built.folder).ids
