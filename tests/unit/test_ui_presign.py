"""Download links the UI signs with botocore: where they point, what they carry (never the
secret key), and that signing sends nothing over the network."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest

from tenant_backup.ui.details import S3Target
from tenant_backup.ui.presign import S3Credentials, presigned_get


def test_a_path_style_link_with_a_session_token_never_shows_the_secret_key() -> None:
    credentials = S3Credentials("AKID", "very-secret/key", "session+token")
    url = presigned_get(
        S3Target("backups", "acme/2026 05.dump", "eu-west-1", "http://127.0.0.1:9000", True),
        credentials,
        300,
    )
    assert url.startswith("http://127.0.0.1:9000/backups/acme/2026%2005.dump?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith("AKID/")
    assert query["X-Amz-Credential"][0].endswith("/eu-west-1/s3/aws4_request")
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-Security-Token"] == ["session+token"]
    assert "very-secret" not in url
    assert "very-secret" not in repr(credentials)


def test_without_an_endpoint_the_link_is_virtual_hosted_at_aws_scoped_to_the_region() -> None:
    """As `tenant-backup link` signs (botocore presigns at S3's global host)."""
    url = presigned_get(
        S3Target("examplebucket", "nightly/acme.dump", "eu-central-1"),
        S3Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        3600,
    )
    assert url.startswith("https://examplebucket.s3.amazonaws.com/nightly/acme.dump?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Credential"][0].endswith("/eu-central-1/s3/aws4_request")
    assert "X-Amz-Security-Token" not in query


def test_signing_connects_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("signing a link opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    url = presigned_get(
        S3Target("backups", "x.dump", "us-east-1", "https://minio.example:9000", True),
        S3Credentials("AKID", "secret"),
        60,
    )
    assert url.startswith("https://minio.example:9000/backups/x.dump?")
