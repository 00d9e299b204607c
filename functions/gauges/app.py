"""The gauges function: samples figures no request or batch produces (index age, quarantine size).

On AWS an EventBridge schedule invokes it (template.yaml); locally ``make up`` invokes it in-process
every minute (``infra/scheduled.py``). Either way its metrics leave as EMF, like the other functions'.
"""

from __future__ import annotations

from typing import Any

from movierec.config import get_settings
from movierec.gauges import sample
from movierec.observability import MetricUnit, make_metrics

metrics = make_metrics("gauges")
_UNITS = {"IndexAgeSeconds": MetricUnit.Seconds, "QuarantineSize": MetricUnit.Count}


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, float]:
    values = sample(get_settings())
    for name, value in values.items():
        metrics.add_metric(name=name, unit=_UNITS[name], value=value)
    return values
