"""A real S3 HTTP endpoint on loopback: moto's server, reached through boto3 and django-storages.

``s3_storage`` creates a fresh bucket and makes it Django's default storage for the test;
``s3_storage.env`` holds the variables a worker subprocess needs to use the same bucket
(``config/settings/storage.py`` builds its S3 storage from them).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    endpoint: str
    process: subprocess.Popen
    log: Path

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


@dataclass
class S3Bucket:
    server: MotoServer
    name: str

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point a hub process at this bucket."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    @property
    def storage_settings(self) -> dict[str, Any]:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": self.name,
                "endpoint_url": self.endpoint,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "file_overwrite": False,
                "default_acl": None,
            },
        }

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket (read with boto3, not through the code under test)."""
        paginator = self.server.client().get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()

    def requests(self) -> list[tuple[str, str]]:
        """(method, key) of every request the server answered about this bucket's objects, in
        order, from the server's own access log."""
        pattern = re.compile(rf'"([A-Z]+) /{re.escape(self.name)}/([^ ?]*)\S* HTTP/')
        return [match.groups() for match in pattern.finditer(self.server.log.read_text(errors="replace"))]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """``moto_server`` on a free loopback port for the session."""
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "moto-server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start; see var/test-artifacts/moto-server.log") from None
            time.sleep(0.1)
    yield MotoServer(endpoint, process, log_path)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def make_s3_bucket(moto_server: MotoServer):
    """Factory: a new, empty bucket."""

    def make() -> S3Bucket:
        bucket = S3Bucket(moto_server, f"test-{uuid.uuid4().hex[:12]}")
        moto_server.client().create_bucket(Bucket=bucket.name)
        return bucket

    return make


@pytest.fixture
def s3_storage(make_s3_bucket, settings) -> S3Bucket:
    """Django's default storage is a fresh S3 bucket for this test."""
    bucket = make_s3_bucket()
    settings.AWS_STORAGE_BUCKET_NAME = bucket.name
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage_settings}
    return bucket
