"""What the tenant, backup and restore pages show beyond backups: schedules, restores, and
how (or why not) a backup can be downloaded. Pure, and as tolerant of odd objects as
`overview`."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tenant_backup.api.contract import (
    DEFAULT_S3_REGION,
    ArtifactUrlError,
    S3Location,
    parse_artifact_url,
)

Body = Mapping[str, Any]
DOWNLOAD_LINK_SECONDS = 300
"""How long a link the UI signs lives: it is made when the user clicks, used at once."""


@dataclass(frozen=True)
class S3Target:
    """Where an S3 artifact is: the endpoint (`https://host[:port]`), its region and
    addressing."""

    bucket: str
    key: str
    region: str
    endpoint: str | None = None
    """None: AWS's (botocore picks the host)."""
    path_style: bool = False


@dataclass(frozen=True)
class ScheduleRow:
    """One TenantBackupSchedule naming the tenant."""

    name: str
    schedule: str
    time_zone: str
    suspended: bool
    last_run: str
    next_run: str


@dataclass(frozen=True)
class RestoreRow:
    """One TenantRestore from, or into, the tenant."""

    namespace: str
    name: str
    mode: str
    source: str
    target: str
    phase: str
    reason: str
    created: str
    finished: str


class DownloadKind(StrEnum):
    """How a backup can be downloaded through the UI."""

    SIGN = "sign"
    """S3: the UI signs a short link with the destination's Secret, read as the user."""
    STORED = "stored"
    """The backup's status holds a link its destination made (S3 `downloadLink`)."""
    NONE = "none"
    """No link: an explanation (and a command where one helps)."""


@dataclass(frozen=True)
class Download:
    """How to offer a backup's artifact."""

    kind: DownloadKind
    explanation: str = ""
    command: str = ""
    secret: str = ""
    """SIGN: the Secret to read with the user's token."""
    stored_url: str = ""
    stored_expires: str = ""


def schedule_row(body: Body) -> ScheduleRow:
    """A schedule's line."""
    metadata, spec, status = _part(body, "metadata"), _part(body, "spec"), _part(body, "status")
    return ScheduleRow(
        name=_text(metadata.get("name")),
        schedule=_text(spec.get("schedule")),
        time_zone=_text(spec.get("timeZone")) or "UTC",
        suspended=spec.get("suspend") is True,
        last_run=_text(status.get("lastScheduleTime")),
        next_run="" if spec.get("suspend") is True else _text(status.get("nextScheduleTime")),
    )


def restores_of(restores: Iterable[Body], tenant: str, backups: Iterable[str]) -> list[RestoreRow]:
    """The restores from one of the tenant's `backups` or into the tenant, newest first."""
    names = set(backups)
    rows = [
        row
        for row in (restore_row(body) for body in restores)
        if row.source in names or row.target == tenant
    ]
    rows.sort(key=lambda row: (row.created, row.name), reverse=True)
    return rows


def restore_row(body: Body) -> RestoreRow:
    """A restore's line."""
    metadata, spec, status = _part(body, "metadata"), _part(body, "spec"), _part(body, "status")
    return RestoreRow(
        namespace=_text(metadata.get("namespace")),
        name=_text(metadata.get("name")),
        mode=_text(spec.get("mode")),
        source=_text(_part(_part(spec, "source"), "backupRef").get("name")),
        target=_text(_part(spec, "target").get("tenant")),
        phase=_text(status.get("phase")),
        reason=_text(status.get("reason")),
        created=_text(metadata.get("creationTimestamp")),
        finished=_text(status.get("completionTime")),
    )


def download(body: Body) -> Download:
    """How the backup's artifact can be downloaded: by a link the UI signs (S3), by the link
    in its status, or not (why, and the command that can)."""
    metadata, spec, status = _part(body, "metadata"), _part(body, "spec"), _part(body, "status")
    destination, artifact = _part(spec, "destination"), _part(status, "artifact")
    command = (
        f"tenant-backup link {_text(metadata.get('name'))} -n {_text(metadata.get('namespace'))}"
    )
    if status.get("phase") != "Succeeded" or not artifact:
        return Download(DownloadKind.NONE, "Only a Succeeded backup has an artifact to download.")
    stored = _text(artifact.get("downloadUrl"))
    if stored.startswith(("https://", "http://")):
        return Download(
            DownloadKind.STORED,
            stored_url=stored,
            stored_expires=_text(artifact.get("downloadUrlExpiresAt")),
        )
    s3 = _part(destination, "s3")
    if s3:
        secret = _text(_part(s3, "credentialsSecretRef").get("name"))
        return Download(DownloadKind.SIGN, command=command, secret=secret)
    where = "a PersistentVolumeClaim" if destination.get("pvc") else "a non-HTTP destination"
    return Download(
        DownloadKind.NONE,
        f"The artifact is in {where}: it has no download link. Copy it from there "
        "(e.g. `kubectl cp` from a pod that mounts the claim); `tenant-backup link` makes "
        "links for S3 destinations only.",
    )


def s3_target(body: Body) -> S3Target | None:
    """Where an S3 backup's artifact is, from its spec and status; None if it says nothing
    usable."""
    s3 = _part(_part(body, "spec"), "destination").get("s3")
    url = _text(_part(_part(body, "status"), "artifact").get("url"))
    if not isinstance(s3, Mapping):
        return None
    try:
        location = parse_artifact_url(url)
    except ArtifactUrlError:
        return None
    if not isinstance(location, S3Location):
        return None
    return S3Target(
        bucket=location.bucket,
        key=location.key,
        region=_text(s3.get("region")) or DEFAULT_S3_REGION,
        endpoint=_text(s3.get("endpoint")) or None,
        path_style=s3.get("forcePathStyle") is True,
    )


def _part(body: Body, key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
