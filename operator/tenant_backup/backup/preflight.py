"""The operator's own checks before a backup's first attempt, read-only: the namespace may
back up the tenant, the Secrets exist and hold what the Job needs, and the schema exists."""

from tenant_backup.adapters import db, outbound
from tenant_backup.adapters.kube import Kube
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import database_server, missing_keys
from tenant_backup.backup.destination import destination_secret_problem
from tenant_backup.backup.plan import Preflight, PreflightFailure
from tenant_backup.core import naming, policy
from tenant_backup.core.database_access import (
    as_seen_from_operator,
    secret_layout,
    tls_material,
)
from tenant_backup.core.keys import key_secret_problem
from tenant_backup.settings import Settings


def recipients_secret_problem(backup: TenantBackup, kube: Kube) -> str | None:
    """What is wrong with the Secret of the age recipients, if the backup names one."""
    encryption = backup.spec.encryption
    ref = encryption.age.recipients_secret_ref if encryption else None
    if ref is None:
        return None
    namespace = backup.metadata.namespace
    return key_secret_problem(
        ref.name, ref.key, namespace, lambda name: kube.read_secret(namespace, name)
    )


def run_preflight(kube: Kube, settings: Settings, backup: TenantBackup) -> Preflight:
    """The checks' verdict for `backup`."""
    namespace = backup.metadata.namespace
    if settings.require_tenant_allowlist:
        annotations = kube.namespace_annotations(namespace)
        refusal = policy.tenant_problem(namespace, annotations, backup.spec.tenant)
        if refusal is not None:
            return Preflight(PreflightFailure.TENANT_NOT_ALLOWED, refusal)
    secret_name = backup.spec.database.secret_ref.name
    secret = kube.read_secret(namespace, secret_name)
    if secret is None:
        return Preflight(
            PreflightFailure.SECRET_MISSING,
            f"Secret {secret_name} not found in namespace {namespace}",
        )
    database = backup.spec.database
    missing = missing_keys(secret_layout(database), secret)
    if missing:
        return Preflight(
            PreflightFailure.SECRET_MISSING,
            f"Secret {secret_name} lacks the keys: {', '.join(missing)}",
        )
    problem = destination_secret_problem(backup, lambda name: kube.read_secret(namespace, name))
    problem = problem or recipients_secret_problem(backup, kube)
    if problem is not None:
        return Preflight(PreflightFailure.SECRET_MISSING, problem)
    tls = tls_material(database, lambda name: kube.read_secret(namespace, name))
    if isinstance(tls, str):
        return Preflight(PreflightFailure.SECRET_MISSING, tls)
    check = db.check_tenant(
        as_seen_from_operator(secret, namespace),
        naming.schema_name(backup.spec.tenant),
        database.ssl_mode.value,
        settings.preflight_timeout_seconds,
        outbound.policy_of(settings),
        tls=tls,
    )
    failure = PreflightFailure(check.problem) if check.problem is not None else None
    return Preflight(failure, check.message, server=database_server(secret))
