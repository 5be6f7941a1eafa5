"""Create the resources the pipeline needs, idempotently: buckets, ledger, queue, topic, datasets.

Used by the local stack and the tests; on AWS the same resources come from ``deploy/template.yaml``.
"""

from __future__ import annotations

import json
from typing import Any

from ingest.adapters.bigquery.tables import ensure_dataset
from ingest.adapters.dynamodb.table import table_definition
from ingest.core.config import load_pipelines
from ingest.core.settings import Settings

DEAD_LETTER_AFTER_RECEIVES = 5
LOCAL_VISIBILITY_SECONDS = 60


def provision_aws(
    settings: Settings, s3: Any, dynamodb: Any, sqs: Any, sns: Any, secrets: Any = None
) -> dict[str, str]:
    """Buckets, ledger table, event queue wired to the lake bucket, alerts topic, pseudonym key."""
    for bucket in (settings.lake_bucket, settings.error_bucket):
        _create_bucket(s3, bucket)
    # Two failures of the same key must both keep their bytes.
    s3.put_bucket_versioning(Bucket=settings.error_bucket, VersioningConfiguration={"Status": "Enabled"})

    existing = dynamodb.list_tables()["TableNames"]
    if settings.ledger_table not in existing:
        dynamodb.create_table(**table_definition(settings.ledger_table))
        dynamodb.get_waiter("table_exists").wait(TableName=settings.ledger_table)

    dlq_url = sqs.create_queue(QueueName=f"{settings.queue_name}-dlq")["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    queue_url = sqs.create_queue(
        QueueName=settings.queue_name,
        Attributes={
            "VisibilityTimeout": str(LOCAL_VISIBILITY_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": DEAD_LETTER_AFTER_RECEIVES}
            ),
        },
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)
    s3.put_bucket_notification_configuration(
        Bucket=settings.lake_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    topic_arn = sns.create_topic(Name=settings.alerts_topic)["TopicArn"]
    if secrets is not None:
        _create_pseudonym_key(secrets, settings.pseudonym_key_secret)
    return {"queue_url": queue_url, "dlq_url": dlq_url, "topic_arn": topic_arn}


def _create_pseudonym_key(secrets: Any, name: str) -> None:
    """A random key, made once: pseudonyms stay joinable for as long as the secret lives."""
    import secrets as random_source

    from botocore.exceptions import ClientError

    try:
        secrets.create_secret(Name=name, SecretString=random_source.token_hex(32))
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceExistsException":
            raise


def provision_bigquery(settings: Settings, client: Any) -> list[str]:
    """The datasets every pipeline writes to."""
    datasets = sorted({p.dataset for p in load_pipelines(settings.pipelines_dir)})
    for dataset in datasets:
        ensure_dataset(client, dataset)
    return datasets


def _create_bucket(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    region = s3.meta.region_name
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as err:
        if err.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn
