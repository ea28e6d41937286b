"""Which tenants a slot backs up: the listed ones, or every tenant schema of the database
(`["*"]`), in both cases only those the namespace may back up."""

from tenant_backup.adapters import db, outbound
from tenant_backup.adapters.kube import Kube
from tenant_backup.api.contract import SCHEMA_PREFIX, missing_keys
from tenant_backup.api.schedule import EVERY_TENANT, TenantBackupSchedule
from tenant_backup.core import naming, policy
from tenant_backup.core.database_access import (
    as_seen_from_operator,
    secret_layout,
    tls_material,
)
from tenant_backup.schedule.plan import Tenants
from tenant_backup.settings import Settings


def resolve_tenants(kube: Kube, settings: Settings, schedule: TenantBackupSchedule) -> Tenants:
    """The slot's tenants, split into allowed and ignored; a problem when the database's
    tenants could not be listed."""
    namespace = schedule.metadata.namespace
    listed = schedule.spec.tenants
    if listed == [EVERY_TENANT]:
        found = _discover(kube, settings, schedule)
        if isinstance(found, str):
            return Tenants(problem=found)
        listed = found
    if not settings.require_tenant_allowlist:
        return Tenants(allowed=tuple(listed))
    annotations = kube.namespace_annotations(namespace)
    allowed = [t for t in listed if policy.tenant_problem(namespace, annotations, t) is None]
    ignored = [t for t in listed if t not in set(allowed)]
    return Tenants(allowed=tuple(allowed), ignored=tuple(ignored))


def _discover(kube: Kube, settings: Settings, schedule: TenantBackupSchedule) -> list[str] | str:
    """The tenants whose schema is in the template's database, or why they could not be
    listed."""
    namespace = schedule.metadata.namespace
    database = schedule.spec.template.database
    secret = kube.read_secret(namespace, database.secret_ref.name)
    if secret is None:
        return f"Secret {database.secret_ref.name} not found in namespace {namespace}"
    missing = missing_keys(secret_layout(database), secret)
    if missing:
        return f"Secret {database.secret_ref.name} lacks the keys: {', '.join(missing)}"
    tls = tls_material(database, lambda name: kube.read_secret(namespace, name))
    if isinstance(tls, str):
        return tls
    try:
        schemas = db.tenant_schemas(
            as_seen_from_operator(secret, namespace),
            database.ssl_mode.value,
            settings.preflight_timeout_seconds,
            outbound.policy_of(settings),
            tls=tls,
        )
    except db.UnreachableError as error:
        return f"could not list the tenant schemas: {error}"
    slugs = (schema.removeprefix(SCHEMA_PREFIX) for schema in schemas)
    return [slug for slug in slugs if naming.is_slug(slug)]
