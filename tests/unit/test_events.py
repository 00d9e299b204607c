"""events/ is what infra/events.py makes (the poller's own event code over real course lines), for every function."""

from __future__ import annotations

import base64
import json

from infra.cfn import load
from infra.events import EVENTS_DIR, SAMPLES, render, text
from infra.invoke import function_ids
from infra.requirements_gen import main as requirements_check
from movierec.logic.parser import parse_line
from movierec.models.events import Rejection


def test_regenerating_gives_the_committed_files(data_dir) -> None:
    rendered = render()
    assert sorted(rendered) == sorted(p.name for p in EVENTS_DIR.glob("*.json"))
    for name, event in rendered.items():
        assert (EVENTS_DIR / name).read_text() == text(event), f"events/{name} is stale: python -m infra.events"


def test_every_function_has_sample_events() -> None:
    assert set(SAMPLES) == set(function_ids(load()))
    for names in SAMPLES.values():
        assert all((EVENTS_DIR / n).is_file() for n in names)


def test_kafka_samples_carry_real_course_lines_of_both_sources(data_dir) -> None:
    msk = json.loads((EVENTS_DIR / "ingest-msk.json").read_text())
    smk = json.loads((EVENTS_DIR / "ingest-self-managed.json").read_text())
    assert (msk["eventSource"], smk["eventSource"]) == ("aws:kafka", "SelfManagedKafka")
    assert msk["records"] == smk["records"]
    lines = [base64.b64decode(r["value"]) for records in msk["records"].values() for r in records]
    parsed = [parse_line(line) for line in lines]
    assert any(isinstance(p, Rejection) for p in parsed) and sum(not isinstance(p, Rejection) for p in parsed) > 10


def test_function_requirements_are_pinned_from_constraints() -> None:
    assert requirements_check(["--check"]) == 0
