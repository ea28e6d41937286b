"""Pytest plugin: a real MinIO server for the session, and a fresh bucket per test.

Fixtures:
- `minio` (session): the running `MinioServer`.
- `bucket` (function): a new empty bucket on it, as a `Bucket`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from mypy_boto3_s3 import S3Client

from devenv.minio import MinioServer

_counter = itertools.count(1)


@dataclass(frozen=True)
class Bucket:
    """A bucket on the test server, with an admin client."""

    name: str
    server: MinioServer
    client: S3Client

    def keys(self) -> list[str]:
        """Every object key in the bucket."""
        listing = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listing.get("Contents", []) if "Key" in item)

    def uploads(self) -> list[str]:
        """Keys of the incomplete multipart uploads in the bucket."""
        listing = self.client.list_multipart_uploads(Bucket=self.name)
        return sorted(item["Key"] for item in listing.get("Uploads", []) if "Key" in item)

    def read(self, key: str) -> bytes:
        """An object's bytes."""
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture(scope="session")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    """A MinIO server on 127.0.0.1, stopped and deleted after the session."""
    server = MinioServer(tmp_path_factory.mktemp("minio"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def bucket(minio: MinioServer) -> Bucket:
    """A fresh empty bucket (left in place: the server's data dir goes with the session)."""
    name = f"backups-{next(_counter)}"
    client = minio.client()
    client.create_bucket(Bucket=name)
    return Bucket(name, minio, client)
