"""Tables objects: each keeps its own names, endpoint and timeouts; none changes another or the schemas."""

from __future__ import annotations

import dataclasses

from movierec import gauges
from movierec.config import Settings
from movierec.dal.history import get_states, save_histories
from movierec.dal.tables import ALL_MODELS, JOB_TIMEOUTS, HistoryItem, Tables, Timeouts
from movierec.models.state import HistoryState
from movierec.serving.api import REQUEST_PATH_TIMEOUTS


def _client_config(model: type) -> tuple[float, float, int]:
    """What botocore really uses for this model's calls: connect/read timeouts, total attempts."""
    config = model._get_connection().connection.client.meta.config
    return config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]


def test_request_path_and_job_tables_keep_their_own_timeouts(isolated: Settings) -> None:
    request = Tables(isolated, REQUEST_PATH_TIMEOUTS)
    job = Tables(isolated)
    state = {"heat+1995": HistoryState(frozenset({1}), 1, first_seen=1, last_seen=1)}
    save_histories(job, {7: state})  # a job writes, the request path reads: both really talk to moto
    assert get_states(request, 7) == state
    gauges.sample(isolated)  # a job entry point building tables of its own in the same process
    elsewhere = Tables(dataclasses.replace(isolated, prefix="other"), Timeouts(connect_s=7, read_s=9, retries=5))
    assert elsewhere.history.Meta.table_name == "other-history"

    short = (REQUEST_PATH_TIMEOUTS.connect_s, REQUEST_PATH_TIMEOUTS.read_s, REQUEST_PATH_TIMEOUTS.retries + 1)
    # job defaults, with the read timeout the test settings set for a loaded machine (aws_read_timeout_s)
    long = (JOB_TIMEOUTS.connect_s, isolated.aws_read_timeout_s or JOB_TIMEOUTS.read_s, JOB_TIMEOUTS.retries + 1)
    for bound in request.all():
        assert bound.Meta.table_name == isolated.table(bound.Meta.logical)
        assert _client_config(bound) == short
    for bound in job.all():
        assert _client_config(bound) == long
    assert _client_config(elsewhere.history) == (7, 9, 6)
    assert request.history is not job.history and request.history._connection is not job.history._connection
    # the schema models stay unbound: nothing process-wide was changed
    assert all(model.Meta.table_name == "unbound" and model._connection is None for model in ALL_MODELS)
    assert issubclass(request.history, HistoryItem)
