"""LocalStack ready hook: create movierec's tables, index bucket and alarms (idempotent).

LocalStack runs this in its own Python (boto3 is there) when it is ready. What to create is the JSON
file beside this one, rendered by ``python -m infra.localstack_init`` from the models and the alarms,
so this script holds no resource definitions of its own. The Kafka topic is not created here (the
broker is another container): the compose file's broker creates it on first use with
``KAFKA_NUM_PARTITIONS`` partitions.
"""

import json
import os
from pathlib import Path

import boto3

HERE = Path(os.environ.get("MOVIEREC_INIT_DIR", "/etc/localstack/init/ready.d"))


def _session_kwargs():
    # LocalStack requires credentials in init hooks too; any key of the form it accepts will do.
    return {"aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            "region_name": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}


def bootstrap():
    text = (HERE / "movierec-resources.json").read_text()
    text = text.replace("${Prefix}", os.environ.get("MOVIEREC_PREFIX", "movierec"))
    text = text.replace("${Stage}", os.environ.get("MOVIEREC_STAGE", "local"))
    wanted = json.loads(text)
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566")
    session = boto3.session.Session(**_session_kwargs())
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in wanted["tables"]:
        created = table["TableName"] not in existing
        if created:
            dynamodb.create_table(**table)
        print(f"table  {table['TableName']:<32} {'created' if created else 'exists'}", flush=True)
    s3 = session.client("s3", endpoint_url=endpoint)
    created = wanted["bucket"] not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if created:
        s3.create_bucket(Bucket=wanted["bucket"])
    print(f"bucket {wanted['bucket']:<32} {'created' if created else 'exists'}", flush=True)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    names = [a["AlarmName"] for a in wanted["alarms"]]
    present = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    for alarm in wanted["alarms"]:
        created = alarm["AlarmName"] not in present
        if created:
            cloudwatch.put_metric_alarm(**alarm)
            # A new alarm starts in INSUFFICIENT_DATA on AWS; set it so where an emulator starts it OK.
            cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="INSUFFICIENT_DATA",
                                       StateReason="created; no data yet")
        print(f"alarm  {alarm['AlarmName']:<32} {'created' if created else 'exists'}", flush=True)


bootstrap()
