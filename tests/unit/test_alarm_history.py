"""On AWS, `movierec monitor` reads alarm changes from CloudWatch's DescribeAlarmHistory (moto has no such API).

The items below have the shape AWS documents for ``AlarmHistoryItems`` (``HistoryData`` is a JSON string
with ``oldState``/``newState``); this checks our reading of it. It did not run against AWS here.
"""

from __future__ import annotations

import datetime as dt
import json

from infra.monitor import aws_history_changes


def _item(name: str, kind: str, at: int, old: str, new: str) -> dict:
    data = {"version": "1.0", "oldState": {"stateValue": old, "stateReason": "..."},
            "newState": {"stateValue": new, "stateReason": "Threshold Crossed: 3 out of the last 5 datapoints"}}
    return {"AlarmName": name, "AlarmType": "MetricAlarm", "HistoryItemType": kind,
            "Timestamp": dt.datetime.fromtimestamp(at, dt.timezone.utc), "HistoryData": json.dumps(data),
            "HistorySummary": f"Alarm updated from {old} to {new}"}


def test_state_updates_of_our_alarms_oldest_first() -> None:
    items = [
        _item("p-stream-availability", "StateUpdate", 200, "ALARM", "OK"),
        _item("p-stream-availability", "StateUpdate", 100, "OK", "ALARM"),
        _item("p-stream-availability", "Action", 101, "OK", "ALARM"),  # the SNS publish: not a state change
        _item("someone-elses-alarm", "StateUpdate", 150, "OK", "ALARM"),
        {"AlarmName": "p-stream-availability", "HistoryItemType": "StateUpdate", "HistoryData": "not json",
         "Timestamp": dt.datetime.fromtimestamp(300, dt.timezone.utc)},
    ]
    got = aws_history_changes(items, {"p-stream-availability"})
    assert [(c["at"], c["from"], c["state"], c["notified"]) for c in got] == [
        (100.0, "OK", "ALARM", None), (200.0, "ALARM", "OK", None)]
