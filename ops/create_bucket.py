"""Creates the hub's S3 bucket when it is missing (the compose stack's one-shot `s3-bucket`).

Reads AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME and the credentials from
the environment; waits up to a minute for the S3 server to answer. Exit status 0 once the
bucket exists (created now or before).
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def main() -> int:
    bucket = os.environ["AWS_STORAGE_BUCKET_NAME"]
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_S3_REGION_NAME", "us-east-1"),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            existing = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket)
                print(f"bucket {bucket} created")
            else:
                print(f"bucket {bucket} already exists")
            return 0
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                print(f"could not create bucket {bucket}: {exc}", file=sys.stderr)
                return 1
            time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
