"""Names in one place: tenant slugs and schemas, Job names and labels, our finalizer and
annotations."""

import hashlib
import re

from tenant_backup.api.contract import SCHEMA_PREFIX, SLUG_MAX_LENGTH, SLUG_PATTERN
from tenant_backup.api.kinds import GROUP

_SLUG_RE = re.compile(SLUG_PATTERN)

JOB_NAME_MAX_LENGTH = 63  # Job names become the job-name label of their pods.

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "tenant-backup-operator"
LABEL_BACKUP = f"{GROUP}/backup"
LABEL_BACKUP_UID = f"{GROUP}/backup-uid"
LABEL_TENANT = f"{GROUP}/tenant"
LABEL_ATTEMPT = f"{GROUP}/attempt"
LABEL_COMMAND = f"{GROUP}/command"
"""The runner subcommand a Job runs, on the Jobs other than dumps (a dump's Job has none)."""
PRUNE = "prune"
RESTORE = "restore"
LABEL_RESTORE = f"{GROUP}/restore"
"""On a restore's Jobs: the TenantRestore's name."""
LABEL_RESTORE_UID = f"{GROUP}/restore-uid"
LABEL_SETTLED = f"{GROUP}/settled"
"""On a Job whose outcome its backup has recorded: the operator's Job watch leaves it out, so
the finished Jobs kept for their logs (`jobTtlSeconds`) cost the operator nothing."""

FINALIZER_ARTIFACT = f"{GROUP}/artifact"
"""Ours (not Kopf's `tenantbackup.dev/finalizer`): on every TenantBackup before its first
Job, removed once the fate of its artifact is known."""
ANNOTATION_DELETE_ARTIFACT = f"{GROUP}/delete-artifact"
"""`"true"`: deleting the object deletes its artifact, whatever its deletionPolicy (how a
schedule's retention prunes)."""
LABEL_SCHEDULE = f"{GROUP}/schedule"
"""On a schedule's runs: the schedule's name."""
LABEL_DRILL = f"{GROUP}/drill"
"""`true` on a schedule's drills (its Verify TenantRestores), which also carry its
schedule and tenant labels."""
LABEL_RETAIN = f"{GROUP}/retain"
"""`true` on a TenantBackup that retention must never prune."""
ANNOTATION_SLOT = f"{GROUP}/slot"
"""On a schedule's runs: the slot (UTC time) the run is for."""


class InvalidSlugError(ValueError):
    """A tenant slug that cannot name a schema safely."""


def is_slug(text: str) -> bool:
    """Whether `text` is a valid tenant slug."""
    return 0 < len(text) <= SLUG_MAX_LENGTH and _SLUG_RE.fullmatch(text) is not None


def validate_slug(slug: str) -> str:
    """Return `slug` if it is a valid tenant slug, else raise InvalidSlugError."""
    if not is_slug(slug):
        raise InvalidSlugError(
            f"tenant slug {slug!r} must match {SLUG_PATTERN} and be at most "
            f"{SLUG_MAX_LENGTH} characters"
        )
    return slug


def schema_name(slug: str) -> str:
    """The PostgreSQL schema that holds a tenant's data."""
    return SCHEMA_PREFIX + validate_slug(slug)


def job_name(backup_name: str, attempt: int) -> str:
    """Deterministic Job name for one attempt, within the 63-character limit.

    Long backup names are cut and given a short hash so distinct backups stay distinct.
    """
    return _bounded(backup_name, f"-{attempt}")


def prune_job_name(backup_name: str, attempt: int) -> str:
    """Deterministic name of the Job of one attempt to delete a backup's artifact. It ends
    in a word, so no dump Job (`<name>-<attempt>`) of any backup can have it."""
    return _bounded(backup_name, f"-{attempt}-{PRUNE}")


def restore_job_name(restore_name: str, attempt: int) -> str:
    """Deterministic name of the Job of one attempt of a restore. It ends in a word, so no
    Job of a backup (`<name>-<attempt>`, `<name>-<attempt>-prune`) can have it."""
    return _bounded(restore_name, f"-{attempt}-{RESTORE}")


def _bounded(backup_name: str, suffix: str) -> str:
    """`<backup name><suffix>`, the name cut and hashed to fit JOB_NAME_MAX_LENGTH."""
    if len(backup_name) + len(suffix) <= JOB_NAME_MAX_LENGTH:
        return backup_name + suffix
    digest = hashlib.sha256(backup_name.encode()).hexdigest()[:8]
    keep = JOB_NAME_MAX_LENGTH - len(suffix) - len(digest) - 1
    return f"{backup_name[:keep].rstrip('-.')}-{digest}{suffix}"
