"""Pure: how a Job reaches a destination's stored artifacts by their URLs (a prune deletes
one, a restore reads one): the claim mounted (`--pvc-root`), or the service's settings and
credentials (from Secrets, as environment variables); and whether those Secrets are usable."""

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.contract import (
    S3_SECRET,
    TELEGRAM_SECRET,
    S3Credentials,
    SecretLayout,
    missing_keys,
)
from tenant_backup.api.destinations import Destination, PvcDestination, S3Destination

MOUNT_PATH = "/backup"
VOLUME_NAME = "destination"
CA_MOUNT_PATH = "/etc/tenant-backup/s3-ca"
CA_VOLUME_NAME = "s3-ca"
CA_FILE = "ca.crt"

Body = dict[str, Any]


@dataclass(frozen=True)
class DestinationPlan:
    """What a Job needs for one destination: runner arguments (never a credential),
    environment from Secrets, and volumes. `url` is None where only the runner can name the
    artifact (Telegram: its manifest message), and for access by URL."""

    args: list[str]
    url: str | None
    env: list[Body] = field(default_factory=list)
    volumes: list[Body] = field(default_factory=list)
    volume_mounts: list[Body] = field(default_factory=list)


def claim_volume(pvc: PvcDestination) -> Body:
    """The destination's claim as a pod volume."""
    return {"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": pvc.claim_name}}


def claim_mount(read_only: bool = False) -> Body:
    """Where the claim is mounted in the runner's container."""
    mount: Body = {"name": VOLUME_NAME, "mountPath": MOUNT_PATH}
    return mount | {"readOnly": True} if read_only else mount


def s3_connection(s3: S3Destination) -> DestinationPlan:
    """How a Job reaches the service (no object named): settings, credentials (the Secret's
    keys, or the SDK's default chain under the Job's service account), the CA."""
    args = [f"--s3-region={s3.region}", f"--s3-checksum={s3.checksum_calculation.value}"]
    args += [f"--s3-endpoint={s3.endpoint}"] if s3.endpoint else []
    args += ["--s3-force-path-style"] if s3.force_path_style else []
    secret = s3.credentials_secret_ref
    env = secret_env(secret.name, S3_SECRET) if secret is not None else []
    if secret is None:
        args.append(f"--s3-credentials={S3Credentials.DEFAULT_CHAIN.value}")
    volumes: list[Body] = []
    mounts: list[Body] = []
    ca = s3.ca_secret_ref or s3.ca_config_map_ref
    if ca is not None:
        items = [{"key": ca.key, "path": CA_FILE}]
        source = (
            {"secret": {"secretName": ca.name, "items": items}}
            if s3.ca_secret_ref is not None
            else {"configMap": {"name": ca.name, "items": items}}
        )
        volumes.append({"name": CA_VOLUME_NAME, **source})
        mounts.append({"name": CA_VOLUME_NAME, "mountPath": CA_MOUNT_PATH, "readOnly": True})
        args.append(f"--s3-ca-file={posixpath.join(CA_MOUNT_PATH, CA_FILE)}")
    return DestinationPlan(args=args, url=None, env=env, volumes=volumes, volume_mounts=mounts)


def plan_access(destination: Destination, read_only: bool = False) -> DestinationPlan:
    """What a Job needs to reach the destination's committed artifacts by their URLs: the
    claim mounted (`--pvc-root`; read-only if asked), or the service's settings and
    credentials."""
    if destination.pvc is not None:
        return DestinationPlan(
            args=[f"--pvc-root={MOUNT_PATH}"],
            url=None,
            volumes=[claim_volume(destination.pvc)],
            volume_mounts=[claim_mount(read_only)],
        )
    if destination.s3 is not None:
        return s3_connection(destination.s3)
    if destination.telegram is not None:
        telegram = destination.telegram
        return DestinationPlan(
            args=[f"--telegram-api-url={telegram.api_url}"],
            url=None,
            env=secret_env(telegram.secret_ref.name, TELEGRAM_SECRET),
        )
    raise ValueError("the spec names no destination this operator supports")


def secret_env(secret: str, layout: SecretLayout) -> list[Body]:
    """Container environment variables filled from keys of one Secret."""
    return [
        {
            "name": entry.variable,
            "valueFrom": {
                "secretKeyRef": {"name": secret, "key": entry.key, "optional": entry.optional}
            },
        }
        for entry in layout
    ]


def _destination_secret(destination: Destination) -> tuple[str, SecretLayout] | None:
    """The destination's credentials Secret and its keys, if it has one (an S3 destination
    on the default credential chain has none)."""
    if destination.s3 is not None and destination.s3.credentials_secret_ref is not None:
        return destination.s3.credentials_secret_ref.name, S3_SECRET
    if destination.telegram is not None:
        return destination.telegram.secret_ref.name, TELEGRAM_SECRET
    return None


def destination_secret_problem(
    destination: Destination,
    namespace: str,
    read_secret: Callable[[str], Mapping[str, str] | None],
) -> str | None:
    """What is wrong with the destination's credentials Secret, if the destination has one."""
    wanted = _destination_secret(destination)
    if wanted is None:
        return None
    name, layout = wanted
    secret = read_secret(name)
    if secret is None:
        return f"Secret {name} not found in namespace {namespace}"
    missing = missing_keys(layout, secret)
    return f"Secret {name} lacks the keys: {', '.join(missing)}" if missing else None
