"""`tenant-backup link`: a fresh presigned download URL for a Succeeded S3 TenantBackup.

Reads the TenantBackup and its S3 credentials Secret through the Kubernetes API with the
caller's kubeconfig (so the caller needs `get` on both), signs locally and prints the URL on
stdout, its expiry on stderr. A destination on the default credential chain has no Secret: the
link is signed with the caller's own credentials, found by that chain. The URL is a bearer
credential: whoever holds it can download.
"""

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from tenant_backup.api.attempts import Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import (
    MAX_DOWNLOAD_LINK_SECONDS,
    ArtifactUrlError,
    S3Location,
    parse_artifact_url,
)
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.api.references import SecretReference

if TYPE_CHECKING:  # the Kubernetes and S3 clients only when the command runs, not for the parser
    from tenant_backup.adapters.kube import Kube
    from tenant_backup.runner.destinations.s3_client import Credentials

DEFAULT_EXPIRES_SECONDS = 3600


class LinkError(Exception):
    """Why no link can be made."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which backup, and how long the link lives."""
    parser.add_argument("name", help="TenantBackup name")
    parser.add_argument("-n", "--namespace", required=True, help="its namespace")
    parser.add_argument(
        "--expires",
        type=int,
        default=DEFAULT_EXPIRES_SECONDS,
        help=f"lifetime in seconds, 1-{MAX_DOWNLOAD_LINK_SECONDS} (default "
        f"{DEFAULT_EXPIRES_SECONDS})",
    )


def s3_location(url: str) -> S3Location:
    """The bucket and key an `s3://bucket/key` URL names."""
    try:
        location = parse_artifact_url(url)
    except ArtifactUrlError as error:
        raise LinkError(str(error)) from error
    if not isinstance(location, S3Location):
        raise LinkError(f"{url} is not an s3:// URL")
    return location


def make_link(kube: "Kube", namespace: str, name: str, seconds: int) -> tuple[str, datetime]:
    """Presign a GET of the backup's artifact with the credentials its Job used."""
    if not 1 <= seconds <= MAX_DOWNLOAD_LINK_SECONDS:
        raise LinkError(f"--expires must be within 1..{MAX_DOWNLOAD_LINK_SECONDS} (7 days)")
    body = kube.get(TENANT_BACKUP, namespace, name)
    if body is None:
        raise LinkError(f"TenantBackup {namespace}/{name} not found")
    backup = TenantBackup.from_body(body)
    s3 = backup.spec.destination.s3
    artifact = backup.status.artifact
    if s3 is None:
        raise LinkError(f"{name} does not back up to S3")
    if backup.status.phase is not Phase.SUCCEEDED or artifact is None:
        raise LinkError(f"{name} has not succeeded (phase {backup.status.phase})")
    location = s3_location(artifact.url)
    credentials = _secret_credentials(kube, namespace, s3.credentials_secret_ref)
    # The S3 client only here, never in the operator's process.
    from tenant_backup.runner.destinations.access import S3Connection
    from tenant_backup.runner.destinations.s3 import presign
    from tenant_backup.runner.destinations.s3_client import make_client
    from tenant_backup.runner.errors import RunError

    connection = S3Connection(
        region=s3.region,
        endpoint=s3.endpoint,
        force_path_style=s3.force_path_style,
        checksum=s3.checksum_calculation,
        ca_file=None,  # signing sends no request
        credentials=s3.credentials,
    )
    try:
        client = make_client(connection, credentials)
    except RunError as error:  # the caller's own default chain found nothing usable
        raise LinkError(
            f"{name} uses the default credential chain of its Jobs; the link is signed with "
            f"yours, and {error.message}"
        ) from error
    link = presign(client, location.bucket, location.key, seconds)
    return link.url, link.expires_at


def _secret_credentials(
    kube: "Kube", namespace: str, secret_ref: SecretReference | None
) -> "Credentials | None":
    """The keys of the destination's Secret; None for a destination on the default chain."""
    if secret_ref is None:
        return None
    from tenant_backup.runner.destinations.s3_client import Credentials

    secret = kube.read_secret(namespace, secret_ref.name)
    if secret is None or not secret.get("accessKeyId") or not secret.get("secretAccessKey"):
        raise LinkError(f"Secret {secret_ref.name} with accessKeyId and secretAccessKey not found")
    return Credentials(
        secret["accessKeyId"], secret["secretAccessKey"], secret.get("sessionToken") or None
    )


def run(args: argparse.Namespace) -> int:
    """Print a fresh link; 1 with a reason on stderr if there can be none."""
    from kubernetes import client, config

    from tenant_backup.adapters.kube import Kube

    config.load_config()  # type: ignore[no-untyped-call]  # kubeconfig, else in-cluster
    try:
        with client.ApiClient() as api:
            url, expires_at = make_link(Kube(api), args.namespace, args.name, args.expires)
    except LinkError as error:
        print(f"tenant-backup link: {error}", file=sys.stderr)
        return 1
    print(url)
    print(f"expires at {expires_at.isoformat()}", file=sys.stderr)
    return 0
