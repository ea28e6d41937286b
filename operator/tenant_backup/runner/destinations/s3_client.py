"""The S3 client the destination uses: credentials only from the environment's keys or, when
the connection asks for it, from the SDK's default chain; a botocore client for a connection,
failures mapped to reasons, and stale multipart uploads aborted.

botocore's client is used without boto3's session layer (start-up cost: the runner loads it
only for an S3 artifact).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NetworkError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

from tenant_backup.api.contract import S3Credentials
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.access import S3Connection
from tenant_backup.runner.errors import RunError

log = logging.getLogger(__name__)

_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",  # signed for another region
        "InvalidIdentityToken",  # STS AssumeRoleWithWebIdentity refused the token
        "IDPRejectedClaim",
        "ExpiredTokenException",
    }
)
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem"})
_UNAVAILABLE_CODES = frozenset({"NoSuchBucket", "PermanentRedirect", "SlowDown"})


@dataclass(frozen=True)
class Credentials:
    """An S3 access key, with a session token for temporary credentials."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def credentials_from_env() -> Credentials:
    """The credentials the Job's Secret put in the environment; AuthFailed if absent."""
    key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id or not secret:
        raise RunError(
            Reason.AUTH_FAILED, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"
        )
    return Credentials(key_id, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


CHAIN_SOURCES = (
    "the environment, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, the shared credentials "
    "and config files, container or instance metadata"
)


def chain_session(region: str) -> botocore.session.Session:
    """A session holding credentials found by the SDK's default chain, resolved now (a web
    identity is exchanged at STS here, in the environment's region or else the bucket's
    `region`, and refreshed by the session before it expires); AuthFailed if the chain finds
    none or its provider refuses, DestinationUnavailable if that provider cannot be
    reached."""
    session = botocore.session.get_session()
    if session.get_config_variable("region") is None:
        session.set_config_variable("region", region)
    try:
        credentials = session.get_credentials()
        if credentials is not None:
            credentials.get_frozen_credentials()
    except (BotoCoreError, ClientError) as exc:
        raise s3_error("obtain credentials by the default chain", exc, Reason.AUTH_FAILED) from exc
    except OSError as exc:  # an unreadable token or credentials file
        raise RunError(
            Reason.AUTH_FAILED, f"cannot obtain credentials by the default chain: {exc}"
        ) from exc
    if credentials is None:
        raise RunError(
            Reason.AUTH_FAILED,
            f"the default credential chain found no credentials in {CHAIN_SOURCES}",
        )
    return session


def s3_reason(
    code: str | None, http_status: int | None, otherwise: Reason = Reason.UPLOAD_FAILED
) -> Reason:
    """Reason for an S3 error response; `otherwise` for codes of no known meaning."""
    if code in _AUTH_CODES:
        return Reason.AUTH_FAILED
    if code in _DENIED_CODES:
        return Reason.PERMISSION_DENIED
    if code in _UNAVAILABLE_CODES or (http_status is not None and http_status >= 500):
        return Reason.DESTINATION_UNAVAILABLE
    return otherwise


def s3_error(action: str, exc: Exception, otherwise: Reason = Reason.UPLOAD_FAILED) -> RunError:
    """A RunError for a failed S3 call: the service's verdict, or unreachable; `otherwise`
    for the failures of no known meaning."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code")
        return RunError(
            s3_reason(code, status, otherwise),
            f"cannot {action}: {code}: {error.get('Message', '')}",
        )
    if isinstance(exc, NetworkError | HTTPClientError):
        return RunError(Reason.DESTINATION_UNAVAILABLE, f"cannot {action}: {exc}")
    return RunError(otherwise, f"cannot {action}: {exc}")


def open_client(connection: S3Connection) -> S3Client:
    """An S3 client for `connection`, with the credentials it says: the environment's keys
    only, or the SDK's default chain."""
    if connection.credentials is S3Credentials.DEFAULT_CHAIN:
        return make_client(connection, None)
    return make_client(connection, credentials_from_env())


def make_client(connection: S3Connection, credentials: Credentials | None) -> S3Client:
    """An S3 client for `connection` with exactly these credentials (no other source is
    read), or with None the SDK's default chain's (`chain_session`)."""
    config = Config(
        region_name=connection.region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if connection.force_path_style else "auto"},
        request_checksum_calculation=connection.checksum.value,
        response_checksum_validation=connection.checksum.value,
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=120,
        max_pool_connections=2,
    )
    verify = str(connection.ca_file) if connection.ca_file else True
    if credentials is None:
        client = chain_session(connection.region).create_client(
            "s3", endpoint_url=connection.endpoint, verify=verify, config=config
        )
    else:
        client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=connection.endpoint,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            verify=verify,
            config=config,
        )
    return cast("S3Client", client)


def abort_stale_uploads(client: S3Client, bucket: str, key: str, url: str) -> int:
    """Abort the incomplete multipart uploads of exactly `key` (killed runs leave them): how
    many. A client that may not list them is warned about, and aborts none."""
    try:
        listing = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    except ClientError as exc:
        if s3_reason(exc.response.get("Error", {}).get("Code"), None) is not (
            Reason.PERMISSION_DENIED
        ):
            raise s3_error(f"list the uploads of {url}", exc) from exc
        log.warning("may not list uploads: stale uploads of %s are left", url)
        return 0
    except BotoCoreError as exc:
        raise s3_error(f"reach the bucket of {url}", exc) from exc
    stale = [u for u in listing.get("Uploads", []) if u.get("Key") == key and "UploadId" in u]
    for upload in stale:
        log.info("aborting a stale upload of %s from %s", url, upload.get("Initiated"))
        abort_upload(client, bucket, key, upload["UploadId"], url)
    return len(stale)


def abort_upload(client: S3Client, bucket: str, key: str, upload_id: str, url: str) -> None:
    """Abort one multipart upload; a failure is only logged."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (BotoCoreError, ClientError) as exc:
        log.error("cannot abort upload %s of %s: %s", upload_id, url, exc)
