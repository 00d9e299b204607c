"""Every metric name movierec emits or alarms on, defined once.

Emitters (the recommend API, the ingest poller, the observability provider), the alarms, the dashboard
and the tests all import these constants, so a renamed metric cannot leave an alarm watching a name
nothing emits (``tests/test_metric_names.py`` checks that every alarm's metric is emitted somewhere).
"""

from __future__ import annotations

# --- recommend (function "recommend", one EMF document per request) ---------------------------------
REQUESTS = "Requests"  # one per request
#: One per request, by status class: the availability alarm divides REQUESTS_5XX by REQUESTS.
REQUESTS_2XX = "Requests2xx"
REQUESTS_4XX = "Requests4xx"
REQUESTS_5XX = "Requests5xx"
LATENCY = "Latency"  # milliseconds per request, measured in the handler
FALLBACK = "Fallback"  # the user had no usable history and got the popular list
DEGRADED = "Degraded"  # storage or ranking failed or ran out of time: the popular list was served instead
ANSWER_LOG_DROPPED = "AnswerLogDropped"  # answers the bounded answer-log queue had to drop
#: Our cold-start metric: counted with our dimensions (Powertools' own one uses other dimensions).
COLD_START_METRIC = "ColdStart"

# --- every process that flushes metrics -----------------------------------------------------------------
#: Resident set size of the emitting process in megabytes, added to every flushed document.
RSS_METRIC = "ProcessRSS"

# --- the local event-source mapping (infra/poller.py, function "ingest-poller") ------------------------
HANDLER_FAILURES = "HandlerFailures"  # handler invocations that raised (batch retried)
CONSUMER_LAG = "ConsumerLag"  # records behind the head of the topic, all partitions
PARTITIONS_STOPPED = "PartitionsStopped"  # partitions whose watermark is past the log's end (broker lost its log)
PROJECTION_REBUILDS = "ProjectionRebuilds"  # partitions re-applied from the earliest offset (tables were lost)

# --- ingest (function "ingest", one EMF document per batch) --------------------------------------------
LINES_ACCEPTED = "LinesAccepted"  # accepted lines per batch
LINES_REJECTED = "LinesRejected"  # rejected (quarantined) lines per batch
#: Accepted lines whose Kafka key is not their user id (parallel partitions need events keyed by user).
LINES_UNKEYED = "LinesUnkeyed"
#: Availability as the course measures it, from the stream's own ``recommendation request`` lines (what
#: the course's clients saw of our answers; movierec.logic.availability): answers logged, answers that
#: count as available (status 200 within the course's 600 ms), and each answer's latency.
STREAM_ANSWERS = "StreamAnswers"
STREAM_ANSWERS_AVAILABLE = "StreamAnswersAvailable"
STREAM_LATENCY = "StreamLatency"


def lines_rejected(reason: str) -> str:
    """The per-reason reject counter (``LinesRejected_<reason>``, reasons of :class:`movierec.models.events.Reason`)."""
    return f"{LINES_REJECTED}_{reason}"


# --- drift (movierec drift --emit), experiments (the canary guard), audit (functions/audit) ------------
DRIFT_RATING_PSI = "DriftRatingPSI"  # PSI of the rating distribution, current window vs reference
DRIFT_UNSEEN = "DriftUnseenMovieShare"  # share of the window's watches of movies the index lacks
DRIFT_WATCH_KS = "DriftWatchMinutesKS"  # KS statistic of the watch-minutes distribution
DRIFT_ACTIVITY = "DriftActivityRatio"  # events per minute, current window / reference
DRIFT_NEW_USERS = "DriftNewUserShare"  # share of the window's active users that are new
#: Prediction drift, from the API's answers (serving time): KS of the recommended movies' popularity
#: percentiles, current window vs reference, and the window's catalog coverage (distinct movies / catalog).
DRIFT_RECO_POPULARITY_KS = "DriftRecoPopularityKS"
DRIFT_RECO_COVERAGE = "DriftRecoCoverage"
EXPERIMENT_ROLLBACK = "ExperimentRollback"  # a canary breached its guardrails and was rolled back
#: Online conversion of each arm of the reported experiment (``movierec experiment report --emit``).
EXPERIMENT_CONVERSION_CONTROL = "ExperimentConversionControl"
EXPERIMENT_CONVERSION_TREATMENT = "ExperimentConversionTreatment"
#: Online conversion within W hours (``movierec eval online --emit``, function ``online``): of every answer
#: in the log, of the current index version's answers, and of the version served before it.
ONLINE_CONVERSION = "OnlineConversion"
ONLINE_CONVERSION_CURRENT = "OnlineConversionCurrentVersion"
ONLINE_CONVERSION_PREVIOUS = "OnlineConversionPreviousVersion"
SHILLING_SUSPECTS = "ShillingSuspects"  # movies with a suspicious burst of high ratings, recent window
SCRAPING_CALLERS = "ScrapingCallers"  # callers asking for too many distinct users, last 5 minutes
HOT_USERS = "HotUsers"  # users asked for far above the median user, last 5 minutes



def requests_by_status(status: int) -> str:
    """The per-class request counter of an HTTP status (2xx, 4xx or 5xx; 3xx is never answered)."""
    return {2: REQUESTS_2XX, 4: REQUESTS_4XX, 5: REQUESTS_5XX}[status // 100]
