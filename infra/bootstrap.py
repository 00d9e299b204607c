"""Idempotent resource bootstrap: DynamoDB tables, the S3 bucket, the Kafka topic.

Every step checks before it creates, so running it twice changes nothing and raises nothing. Names come
from :class:`~movierec.config.Settings`; table key schemas come from the pynamodb models (the same
models ``template.yaml`` is checked against).
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from movierec import aws
from movierec.alarms import ALARMS
from movierec.config import Settings
from movierec.dal.tables import Tables
from movierec.index.store import POINTER_KEY


@dataclass(frozen=True)
class Outcome:
    kind: str  # "table", "bucket", "topic", ...
    name: str
    created: bool

    def __str__(self) -> str:
        return f"{self.kind:<6} {self.name:<32} {'created' if self.created else 'exists'}"


def ensure_tables(settings: Settings) -> list[Outcome]:
    """Create each DynamoDB table (on-demand billing) that does not exist yet."""
    out = []
    for model in Tables(settings).all():
        exists = model.exists()
        if not exists:
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        out.append(Outcome("table", model.Meta.table_name, not exists))
    return out


def ensure_bucket(settings: Settings) -> Outcome:
    """Create the index bucket unless it is there (us-east-1 takes no location constraint)."""
    s3 = aws.client("s3", settings)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.bucket in existing:
        return Outcome("bucket", settings.bucket, False)
    kwargs = {}
    if settings.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    s3.create_bucket(Bucket=settings.bucket, **kwargs)
    return Outcome("bucket", settings.bucket, True)


def ensure_topic(settings: Settings) -> Outcome:
    """Create the stream topic with the configured partition count unless it exists."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    try:
        if settings.kafka_topic in admin.list_topics():
            return Outcome("topic", settings.kafka_topic, False)
        try:
            admin.create_topics(
                [NewTopic(settings.kafka_topic, num_partitions=settings.kafka_partitions, replication_factor=1)]
            )
        except TopicAlreadyExistsError:  # created by someone else between our look and our create
            return Outcome("topic", settings.kafka_topic, False)
        return Outcome("topic", settings.kafka_topic, True)
    finally:
        admin.close()


def ensure_alarms(settings: Settings) -> list[Outcome]:
    """Create each CloudWatch alarm of :data:`movierec.alarms.ALARMS` that does not exist yet."""
    cloudwatch = aws.client("cloudwatch", settings)
    names = [spec.alarm_name(settings.prefix) for spec in ALARMS]
    existing = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    out = []
    for spec, name in zip(ALARMS, names):
        if name not in existing:
            cloudwatch.put_metric_alarm(**spec.properties(settings.prefix, settings.stage))
            # AWS starts a new alarm in INSUFFICIENT_DATA; moto starts it OK, which made an empty
            # dashboard read "[OK]". Setting the state AWS would have keeps both endpoints alike.
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason="created; no data yet")
        out.append(Outcome("alarm", name, name not in existing))
    return out


def serving_problems(settings: Settings) -> list[str]:
    """What serving needs and is missing (tables, bucket, index pointer), one line each; empty when all is there.

    A storage server that answers but lost its state (moto restarted without its journal) looks healthy
    to a ping; this looks at the resources themselves so ``movierec status`` can say what is wrong.
    """
    problems = []
    dynamodb = aws.client("dynamodb", settings)
    missing = []
    try:
        for model in Tables(settings).all():  # each by name: ListTables answers 100 names a page, of the whole account
            try:
                dynamodb.describe_table(TableName=model.Meta.table_name)
            except dynamodb.exceptions.ResourceNotFoundException:
                missing.append(model.Meta.table_name)
        s3 = aws.client("s3", settings)
        buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    except Exception as exc:
        return [f"storage does not answer ({type(exc).__name__})"]
    if missing:
        problems.append(f"tables missing: {', '.join(missing)} (run `python -m infra.bootstrap` or `make up`)")
    if settings.bucket not in buckets:
        problems.append(f"bucket {settings.bucket} missing (run `python -m infra.bootstrap` or `make up`)")
    else:
        try:
            s3.head_object(Bucket=settings.bucket, Key=POINTER_KEY)
        except Exception:
            problems.append(f"no index published (s3://{settings.bucket}/{POINTER_KEY}; `movierec index build`)")
    return problems


def bootstrap(settings: Settings) -> list[Outcome]:
    """All resources of one stack; safe to run any number of times."""
    return [*ensure_tables(settings), ensure_bucket(settings), ensure_topic(settings), *ensure_alarms(settings)]


if __name__ == "__main__":  # `python -m infra.bootstrap`: the init step of localstack-compose.yml
    from movierec.config import get_settings

    for outcome in bootstrap(get_settings()):
        print(outcome, flush=True)
