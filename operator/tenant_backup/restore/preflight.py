"""The operator's own checks before a restore's first attempt, read-only: the source resolves
(a Succeeded TenantBackup of this namespace only), the namespace may restore the target
tenant, and the Secrets exist and hold what the Job needs. Whether the target schema exists
as the mode needs is the runner's first check (it is connected as the target's role)."""

from tenant_backup.adapters.kube import Kube
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import DATABASE_SECRET, database_server, missing_keys
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.api.restore import ResolvedSource, TenantRestore
from tenant_backup.core import naming, policy
from tenant_backup.core.access import destination_secret_problem
from tenant_backup.restore.plan import Preflight, PreflightFailure
from tenant_backup.restore.source import from_artifact, from_backup, newest_run
from tenant_backup.settings import Settings


def resolve_source(kube: Kube, restore: TenantRestore) -> ResolvedSource | str:
    """The artifact the restore reads, or why there is none."""
    namespace, source = restore.metadata.namespace, restore.spec.source
    if source.backup_ref is not None:
        name = source.backup_ref.name
        body = kube.get(TENANT_BACKUP, namespace, name)
        return from_backup(TenantBackup.from_body(body) if body else None, name)
    if source.latest_of is not None:
        latest = source.latest_of
        bodies = kube.list_objects(
            TENANT_BACKUP, namespace, {naming.LABEL_SCHEDULE: latest.schedule}
        )
        newest = newest_run((TenantBackup.from_body(body) for body in bodies), latest.tenant)
        if newest is None:
            return (
                f"TenantBackupSchedule {latest.schedule} has no Succeeded backup of tenant "
                f"{latest.tenant} in this namespace"
            )
        return from_backup(newest, newest.metadata.name)
    resolved = from_artifact(source)
    return resolved if resolved is not None else "the spec names no source"


def run_preflight(kube: Kube, settings: Settings, restore: TenantRestore) -> Preflight:
    """The checks' verdict for `restore`."""
    namespace = restore.metadata.namespace
    source = resolve_source(kube, restore)
    if isinstance(source, str):
        return Preflight(PreflightFailure.SOURCE_NOT_FOUND, source)
    tenant = restore.spec.target.tenant or source.tenant
    if settings.require_tenant_allowlist:
        annotations = kube.namespace_annotations(namespace)
        refusal = policy.tenant_problem(namespace, annotations, tenant)
        if refusal is not None:
            return Preflight(PreflightFailure.TENANT_NOT_ALLOWED, refusal)
    secret_name = restore.spec.target.database.secret_ref.name
    secret = kube.read_secret(namespace, secret_name)
    if secret is None:
        return Preflight(
            PreflightFailure.SECRET_MISSING,
            f"Secret {secret_name} not found in namespace {namespace}",
        )
    missing = missing_keys(DATABASE_SECRET, secret)
    if missing:
        return Preflight(
            PreflightFailure.SECRET_MISSING,
            f"Secret {secret_name} lacks the keys: {', '.join(missing)}",
        )
    problem = destination_secret_problem(
        source.destination, namespace, lambda name: kube.read_secret(namespace, name)
    )
    if problem is not None:
        return Preflight(PreflightFailure.SECRET_MISSING, problem)
    return Preflight(source=source, server=database_server(secret))
