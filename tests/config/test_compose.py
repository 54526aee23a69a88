"""The production compose stack: every image pinned to a version, S3 on a maintained server
(SeaweedFS), and its one-shot bucket creation (ops/create_bucket.py) run against a real S3 server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
HUB_IMAGE = "retail-sync-hub:latest"  # built from the Dockerfile by the stack itself


def test_every_pulled_image_is_pinned_to_a_version():
    pulled = {name: service["image"] for name, service in COMPOSE["services"].items() if "build" not in service}
    assert pulled, "no image to pull?"
    for name, image in pulled.items():
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert re.fullmatch(r"\d+(\.\d+)+(-[a-z0-9.]+)?", tag), f"{name}: {image} is not pinned to a version"
    assert all(service.get("image") == HUB_IMAGE for service in COMPOSE["services"].values() if "build" in service)


def test_s3_is_seaweedfs_and_the_hub_waits_for_its_bucket():
    images = {service.get("image", "") for service in COMPOSE["services"].values()}
    assert not any("minio" in image for image in images)
    assert any(image.startswith("chrislusf/seaweedfs:") for image in images)
    for name in ("web", "worker", "webhook-worker", "beat"):
        service = COMPOSE["services"][name]
        assert service["depends_on"]["s3-bucket"] == {"condition": "service_completed_successfully"}
        assert service["environment"]["AWS_S3_ENDPOINT_URL"] == "http://seaweedfs:8333"


def run_create_bucket(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "ops/create_bucket.py"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_bucket_one_shot_creates_the_bucket_once(make_s3_bucket, moto_server):
    env = dict(make_s3_bucket().env, AWS_STORAGE_BUCKET_NAME=f"compose-{uuid.uuid4().hex[:8]}")
    first = run_create_bucket(env)
    assert first.returncode == 0 and "created" in first.stdout, first.stderr
    names = {bucket["Name"] for bucket in moto_server.client().list_buckets()["Buckets"]}
    assert env["AWS_STORAGE_BUCKET_NAME"] in names
    again = run_create_bucket(env)  # a restart of the stack
    assert again.returncode == 0 and "already exists" in again.stdout, again.stderr
