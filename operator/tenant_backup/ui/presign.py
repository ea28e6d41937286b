"""S3 presigned GET URLs, signed locally by botocore (as `tenant-backup link` and the runner
sign theirs) with credentials the user's token could read: no request is sent.

The URL carries the access key ID (every presigned URL does) and a signature, never the
secret key; whoever holds it may download that one object until it expires. One botocore
session serves the process, so S3's service model is loaded once, on the first link.
"""

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config

from tenant_backup.ui.details import S3Target

if TYPE_CHECKING:  # stubs only
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class S3Credentials:
    """What signs: an access key pair and an optional session token."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"S3Credentials(access_key_id={self.access_key_id!r}, ...)"


def presigned_get(target: S3Target, credentials: S3Credentials, expires_seconds: int) -> str:
    """A URL that GETs `target` for `expires_seconds` from now."""
    client = _session().create_client(
        "s3",
        region_name=target.region,
        endpoint_url=target.endpoint,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        config=Config(  # addressed as the runner does
            signature_version="s3v4",
            s3={"addressing_style": "path" if target.path_style else "auto"},
        ),
    )
    url: str = cast("S3Client", client).generate_presigned_url(
        "get_object", Params={"Bucket": target.bucket, "Key": target.key}, ExpiresIn=expires_seconds
    )
    return url


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()
