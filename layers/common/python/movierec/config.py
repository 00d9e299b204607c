"""The one configuration object of movierec, read from the environment.

Every component (both Lambda functions, the local stack, the CLI, the jobs) takes its names, addresses
and tunables from :class:`Settings`, so a single set of environment variables describes one deployment.
Resource names carry a prefix so several stacks can share one endpoint (moto, LocalStack or an AWS
account). The defaults describe the embedded local stack of ``make up``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Mapping

#: The repository root when running from a checkout (layers/common/python/movierec/config.py); used only
#: for local defaults (data, run folder). In a deployed layer (/opt/python/movierec) it falls back to cwd.
_PARENTS = Path(__file__).resolve().parents
REPO_ROOT = _PARENTS[4] if len(_PARENTS) > 4 else Path.cwd()

#: The DynamoDB tables, by logical name. Physical name: ``<prefix>-<logical>``.
TABLES = ("history", "movies", "users", "recommendations", "quarantine", "offsets")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """All settings; see README "Configuration" for each variable and its default."""

    prefix: str = "movierec"
    stage: str = "local"
    region: str = "us-east-1"
    #: None means "the real AWS endpoints"; locally http://127.0.0.1:4566 (moto server or LocalStack).
    aws_endpoint_url: str | None = None
    #: Read timeout (s) of the boto3 clients and the jobs' DynamoDB models; None keeps theirs (10 s, 30 s).
    #: A loaded machine (the test suite beside other jobs) needs more: a timed-out write is retried, twice.
    aws_read_timeout_s: float | None = None

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_topic: str = "movielog"
    kafka_partitions: int = 4
    kafka_group: str = "movierec-ingest"
    #: Like the event source mapping's BatchSize and MaximumBatchingWindowInSeconds.
    batch_size: int = 10_000
    batch_window_s: float = 1.0
    #: Local ingest processes applying partitions in parallel, as Lambda's Kafka mapping invokes once per
    #: partition (worker i owns the partitions p with p % workers == i). 1 = one poller for all of them.
    ingest_workers: int = 1

    moto_host: str = "127.0.0.1"
    moto_port: int = 4566
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    #: tansu storage: s3://<bucket>/ on the local moto server (default; the topic survives restarts of either,
    #: the stack creates the bucket) or memory://tansu/ (lost when tansu stops).
    tansu_storage: str = "s3://movierec-tansu/"
    api_host: str = "127.0.0.1"
    api_port: int = 8082
    #: The local API server (infra/chalice_local.py): handler threads, and the seconds a request may take
    #: to arrive whole (and an idle keep-alive connection may stay open) before it is closed.
    api_workers: int = 8
    api_read_timeout_s: float = 10.0

    data_dir: Path = field(default_factory=lambda: REPO_ROOT.parent / "shared" / "data")
    run_dir: Path = field(default_factory=lambda: REPO_ROOT / ".run")
    index_cache_dir: Path = field(default_factory=lambda: Path("/tmp/movierec-index-cache"))
    #: How often (seconds) the recommend function checks the index pointer for a new version.
    index_refresh_s: float = 30.0
    #: Index versions kept whole on S3 (the newest, besides the current one and a running experiment's
    #: arms); older ones keep only their manifest. 0 keeps every version whole. Each retrain with new data
    #: publishes one: a trained course-catalog version holds about 75 MB (100 MB in the local journal).
    index_keep_versions: int = 5
    #: Milliseconds a recommend request may spend on history + ranking before the popular list is
    #: answered instead (marked ``X-Degraded: timeout``); the course waits at most 600 ms.
    request_budget_ms: int = 400
    #: Full recommend answers one process computes at once; a request that finds them all taken gets the
    #: popular list at once (``X-Degraded: overload``). Twice the CPUs: measured best on 2 cores under 100
    #: clients (docs/reliability.md); more only queue for the GIL and the emulator. On Lambda an
    #: invocation serves one request, so this never binds there.
    recommend_workers: int = field(default_factory=lambda: 2 * len(os.sched_getaffinity(0)))
    #: Embeddings already computed, keyed by model and text hash, so rebuilding an index re-embeds only new text.
    embedding_cache_dir: Path = field(default_factory=lambda: Path("/tmp/movierec-embeddings"))
    #: Base URL of the course movie API (``<base>/movie/<id>``); empty = do not fetch.
    movie_api_url: str = ""
    #: Retrain after this many minutes of ingest while ``make up`` runs; 0 = never.
    retrain_every_min: float = 10.0
    #: Seconds ``movierec train`` may spend tuning on its validation split (the grid search stops there;
    #: every family gets at least its first grid point). Issue 14: tuning <= 5 min on 2 cores.
    train_tune_budget_s: float = 240.0
    #: Prior training data ``movierec train`` offers ranker v2 on course-id data (movierec/training/prior.py):
    #: ``movielens`` (ml-latest-small from the data folder; skipped, and logged, when it is not there) or ``none``.
    train_prior: str = "movielens"
    #: Validation coverage@20 ranker v2's chosen grid point must reach (when any point does), in `movierec
    #: train` and `movierec eval offline` alike; 0 = choose by NDCG@20 alone (docs/evaluation.md: on the
    #: course stream the floor costs leave-last-out hit rate).
    min_coverage: float = 0.10
    #: What ``make up`` replays into Kafka once at start: movielens (converted), samples (course files), none.
    replay_on_up: str = "movielens"
    #: Where the local alarm evaluator posts every alarm state change (Slack-compatible JSON); empty = nowhere.
    #: A Slack webhook URL is a secret: :meth:`describe` never shows it. On AWS the SNS topic does this.
    alert_webhook_url: str = ""
    #: Seconds one webhook attempt may take (three attempts per change) before it counts as failed.
    alert_webhook_timeout_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Build the settings from ``env`` (default: ``os.environ``); unknown variables are ignored."""
        env = os.environ if env is None else env
        d = cls()
        endpoint = env.get("AWS_ENDPOINT_URL") or None
        return cls(
            prefix=env.get("MOVIEREC_PREFIX", d.prefix),
            stage=env.get("MOVIEREC_STAGE", d.stage),
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or d.region,
            aws_endpoint_url=endpoint,
            aws_read_timeout_s=_float(env, "MOVIEREC_AWS_READ_TIMEOUT_S", 0.0) or None,
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS")
            or f"{env.get('MOVIEREC_KAFKA_HOST', d.kafka_host)}:{_int(env, 'MOVIEREC_KAFKA_PORT', d.kafka_port)}",
            kafka_topic=env.get("MOVIEREC_TOPIC", d.kafka_topic),
            kafka_partitions=_int(env, "MOVIEREC_PARTITIONS", d.kafka_partitions),
            kafka_group=env.get("MOVIEREC_GROUP", d.kafka_group),
            batch_size=_int(env, "MOVIEREC_BATCH_SIZE", d.batch_size),
            batch_window_s=_float(env, "MOVIEREC_BATCH_WINDOW_S", d.batch_window_s),
            ingest_workers=_int(env, "MOVIEREC_INGEST_WORKERS", d.ingest_workers),
            moto_host=env.get("MOVIEREC_MOTO_HOST", d.moto_host),
            moto_port=_int(env, "MOVIEREC_MOTO_PORT", d.moto_port),
            kafka_host=env.get("MOVIEREC_KAFKA_HOST", d.kafka_host),
            kafka_port=_int(env, "MOVIEREC_KAFKA_PORT", d.kafka_port),
            tansu_storage=env.get("MOVIEREC_TANSU_STORAGE", d.tansu_storage),
            api_host=env.get("MOVIEREC_API_HOST", d.api_host),
            api_port=_int(env, "MOVIEREC_API_PORT", d.api_port),
            api_workers=_int(env, "MOVIEREC_API_WORKERS", d.api_workers),
            api_read_timeout_s=_float(env, "MOVIEREC_API_READ_TIMEOUT_S", d.api_read_timeout_s),
            data_dir=Path(env.get("MOVIEREC_DATA_DIR") or d.data_dir),
            run_dir=Path(env.get("MOVIEREC_RUN_DIR") or d.run_dir),
            index_cache_dir=Path(env.get("MOVIEREC_INDEX_CACHE") or d.index_cache_dir),
            index_refresh_s=_float(env, "MOVIEREC_INDEX_REFRESH_S", d.index_refresh_s),
            index_keep_versions=_int(env, "MOVIEREC_INDEX_KEEP_VERSIONS", d.index_keep_versions),
            request_budget_ms=_int(env, "MOVIEREC_REQUEST_BUDGET_MS", d.request_budget_ms),
            recommend_workers=max(1, _int(env, "MOVIEREC_RECOMMEND_WORKERS", d.recommend_workers)),
            embedding_cache_dir=Path(env.get("MOVIEREC_EMBED_CACHE") or d.embedding_cache_dir),
            movie_api_url=env.get("MOVIEREC_MOVIE_API_URL", d.movie_api_url).rstrip("/"),
            retrain_every_min=_float(env, "MOVIEREC_RETRAIN_EVERY_MIN", d.retrain_every_min),
            train_tune_budget_s=_float(env, "MOVIEREC_TRAIN_TUNE_BUDGET_S", d.train_tune_budget_s),
            train_prior=env.get("MOVIEREC_TRAIN_PRIOR", d.train_prior),
            min_coverage=_float(env, "MOVIEREC_MIN_COVERAGE", d.min_coverage),
            replay_on_up=env.get("MOVIEREC_REPLAY_ON_UP", d.replay_on_up),
            alert_webhook_url=env.get("MOVIEREC_ALERT_WEBHOOK_URL", d.alert_webhook_url).strip(),
            alert_webhook_timeout_s=_float(env, "MOVIEREC_ALERT_WEBHOOK_TIMEOUT_S", d.alert_webhook_timeout_s),
        )

    def table(self, logical: str) -> str:
        """Physical DynamoDB table name of a logical table (one of :data:`TABLES`)."""
        if logical not in TABLES:
            raise KeyError(f"unknown table {logical!r}; known: {', '.join(TABLES)}")
        return f"{self.prefix}-{logical}"

    @property
    def bucket(self) -> str:
        """The S3 bucket holding the LanceDB index versions and their pointer."""
        return f"{self.prefix}-index"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def describe(self) -> dict[str, str]:
        """Every setting as text, for ``movierec status`` and logs; secrets only say whether they are set."""
        out = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        for name in _SECRETS:
            out[name] = "(set)" if getattr(self, name) else ""
        return out


#: Settings whose value must never be printed or logged (a webhook URL carries its own credential).
_SECRETS = ("alert_webhook_url",)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (Lambda reads its environment once per container)."""
    return Settings.from_env()
