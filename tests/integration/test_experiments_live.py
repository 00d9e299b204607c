"""Experiments against the real local stack: config in S3, the API serving two versions, the answer log,
the canary rollback with its metric and alarm."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.alarm_evaluator import AlarmEvaluator
from infra.cli import main as cli
from infra.emf import MetricsPublisher
from movierec import aws
from movierec.config import Settings, get_settings
from movierec.dal.experiment_store import ExperimentError, running_experiment, start_experiment, stop_experiment
from movierec.experiments.assign import assign
from movierec.experiments.guard import experiment_requests, guard
from movierec.index.build import BuildResult
from movierec.models.experiment import TREATMENT, Guardrails
from movierec.serving.api import VERSION_HEADER, build_api
from movierec.serving.experiments import EXPERIMENT_HEADER
from tests.fixtures.index import publish_copy
from tests.fixtures.ingest import wait_until
from tests.fixtures.timeouts import TEST_TIMEOUT_S
from tests.fixtures.observability import stats


def test_start_serves_both_arms_logs_them_and_stop_ends_it(
    observed: Settings, published: BuildResult, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOVIEREC_INDEX_REFRESH_S", "0.5")
    get_settings.cache_clear()
    s = get_settings()
    control = published.manifest.version
    treatment = publish_copy(published, s, tmp_path, "20250101T000000Z-7e5a7e57")
    api = build_api(s)
    assert api.get("1").headers.get(EXPERIMENT_HEADER) is None  # no experiment yet

    with pytest.raises(ExperimentError, match="not published"):
        start_experiment(s, "bad", control, "20990101T000000Z-00000000", 0.5)
    assert cli(["experiment", "start", "--name", "ab1", "--control", control, "--treatment", treatment,
                "--share", "0.5"]) == 0  # fmt: skip
    experiment = running_experiment(s)
    assert experiment is not None and experiment.treatment == treatment
    with pytest.raises(ExperimentError, match="running"):
        start_experiment(s, "ab2", control, treatment, 0.5)

    # The running API picks it up within its refresh period, without a restart.
    assert wait_until(lambda: EXPERIMENT_HEADER in api.get("1").headers, TEST_TIMEOUT_S)
    answers = {u: api.get(str(u)) for u in range(100)}
    for u, answer in answers.items():
        expected = assign(experiment, u)
        assert answer.status == 200
        assert answer.headers[EXPERIMENT_HEADER] == f"ab1/{expected.arm}"
        assert answer.headers[VERSION_HEADER] == expected.version
    assert {a.headers[VERSION_HEADER] for a in answers.values()} == {control, treatment}

    api.answer_log.close()
    logged = experiment_requests("ab1", s)
    by_user = {r.user_id: r for r in logged if r.at >= experiment.started_at}
    assert set(by_user) >= set(answers)
    assert all(by_user[u].arm == assign(experiment, u).arm and by_user[u].version == assign(experiment, u).version
               for u in answers)  # fmt: skip

    assert cli(["experiment", "status"]) == 0
    out = tmp_path / "reports"
    assert cli(["experiment", "report", "ab1", "--source", "api", "--out", str(out), "--looks", "4", "--emit"]) == 0
    text = (out / "experiment-ab1.md").read_text()
    assert f"| treatment | {treatment} |" in text and "mSPRT" in text and (out / "experiment-ab1.png").stat().st_size > 0
    # No user watched anything after these answers: both arms' conversion is 0, and it reached CloudWatch.
    assert stats(s, "ExperimentConversionControl", "experiment", "Maximum") == 0.0
    assert stats(s, "ExperimentConversionTreatment", "experiment", "Maximum") == 0.0

    assert cli(["experiment", "stop"]) == 0
    assert running_experiment(s) is None
    api2 = build_api(s, log_answers=False)  # a fresh process sees no experiment
    assert EXPERIMENT_HEADER not in api2.get("1").headers
    assert wait_until(lambda: EXPERIMENT_HEADER not in api.get("1").headers, TEST_TIMEOUT_S)
    assert api.get("1").headers[VERSION_HEADER] == control


def test_a_failing_canary_is_rolled_back_logged_and_alarmed(
    observed: Settings, published: BuildResult, settings: Settings, tmp_path: Path
) -> None:
    s = settings
    control = published.manifest.version
    # A treatment version this code cannot serve (its manifest names an unknown ranker): every answer fails.
    broken = publish_copy(published, s, tmp_path, "20250101T000000Z-b0b0b0b0", ranker="no-such-ranker")
    start_experiment(s, "canary1", control, broken, 0.2, canary=True, guardrails=Guardrails(min_requests=10))
    api = build_api(s)
    api.router.refresh()
    assert wait_until(lambda: api.router.assign(0) is not None, TEST_TIMEOUT_S)  # the router sees the canary
    experiment = running_experiment(s)
    assert experiment is not None
    treated = [u for u in range(150) if assign(experiment, u).arm == TREATMENT]
    # Treated users ask first: a cold API whose first request lands on the failing arm must still have
    # the current version's popular list to degrade to (this once answered 503, depending on the salt).
    answers = {u: api.get(str(u)) for u in treated + [u for u in range(150) if u not in treated]}
    statuses = {u: a.status for u, a in answers.items()}
    # The failing arm degrades to the popular list (a 200 for the user), and that is what the guard counts.
    assert len(treated) >= 10 and all(statuses[u] == 200 for u in treated)
    assert sum("X-Degraded" in answers[u].headers for u in treated) >= 10
    assert all(statuses[u] == 200 for u in statuses if u not in treated)
    api.answer_log.close()

    publisher = MetricsPublisher(s, interval_s=3600)
    publisher.start()
    try:
        outcome = guard(s)
    finally:
        publisher.stop()
    assert outcome.rolled_back and outcome.verdict is not None and "error rate" in outcome.verdict.reason
    assert running_experiment(s) is None
    assert outcome.experiment is not None and outcome.experiment.stop_reason.startswith("rollback: error rate")
    assert stats(s, "ExperimentRollback", "experiment", "Sum") == 1
    verdicts = {v.alarm: v for v in AlarmEvaluator(s).evaluate_once()}
    assert verdicts["experiment-rollback"].state == "ALARM"
    [alarm] = aws.client("cloudwatch", s).describe_alarms(AlarmNames=[f"{s.prefix}-experiment-rollback"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    # After the rollback everyone is served the current version again.
    api.router.refresh()
    assert all(api.get(str(u)).status == 200 for u in treated)
    with pytest.raises(ExperimentError):
        stop_experiment(s)
