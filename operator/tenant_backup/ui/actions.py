"""The objects the UI creates for the user, built from what their token could read: pure."""

import re
from collections.abc import Mapping
from typing import Any

from tenant_backup.api.kinds import API_VERSION, TENANT_BACKUP, TENANT_RESTORE

Body = dict[str, Any]
REQUESTED_VIA_ANNOTATION = "tenantbackup.dev/requested-via"
NAME_PREFIX_MAX_LENGTH = 63 - 5 - 1  # the API server appends 5 random characters


class NoTemplateError(Exception):
    """Nothing says how to back the tenant up: no schedule names it and it has no backup."""


def backup_now(
    namespace: str,
    tenant: str,
    schedule: Mapping[str, Any] | None,
    latest: Mapping[str, Any] | None,
) -> Body:
    """A TenantBackup of `tenant` now: the spec of `schedule`'s template if given, else the
    spec of the tenant's `latest` backup (without its per-run `sizeCheck`)."""
    if schedule is not None:
        spec = dict(_part(_part(schedule, "spec"), "template"))
        source = f"schedule {_part(schedule, 'metadata').get('name', '')}"
    elif latest is not None:
        spec = {k: v for k, v in _part(latest, "spec").items() if k != "sizeCheck"}
        source = f"backup {_part(latest, 'metadata').get('name', '')}"
    else:
        raise NoTemplateError(
            f"no schedule names tenant {tenant} and it has no backup to copy the settings of"
        )
    if not spec:
        raise NoTemplateError(f"{source} has no spec to copy")
    return {
        "apiVersion": API_VERSION,
        "kind": TENANT_BACKUP.kind,
        "metadata": {
            "namespace": namespace,
            "generateName": name_prefix(tenant),
            "annotations": {REQUESTED_VIA_ANNOTATION: f"ui, from {source}"},
        },
        "spec": {**spec, "tenant": tenant},
    }


def restore(
    namespace: str, backup: Mapping[str, Any], mode: str, target_tenant: str, confirm: str
) -> Body:
    """A TenantRestore of `backup` in `mode` into `target_tenant` (empty: the backup's own
    tenant), in the database the backup was taken from. The form's text goes in as typed:
    the API server's schema and CEL rules judge it (`confirm` is sent for Replace only)."""
    name = str(_part(backup, "metadata").get("name", ""))
    target: Body = {"database": dict(_part(_part(backup, "spec"), "database"))}
    if target_tenant:
        target["tenant"] = target_tenant
    spec: Body = {"source": {"backupRef": {"name": name}}, "target": target, "mode": mode}
    if mode == "Replace":
        spec["confirm"] = confirm
    tenant = target_tenant or str(_part(backup, "spec").get("tenant", ""))
    return {
        "apiVersion": API_VERSION,
        "kind": TENANT_RESTORE.kind,
        "metadata": {
            "namespace": namespace,
            "generateName": name_prefix(tenant, "restore"),
            "annotations": {REQUESTED_VIA_ANNOTATION: f"ui, from backup {name}"},
        },
        "spec": spec,
    }


def name_prefix(tenant: str, what: str = "now") -> str:
    """`acme_eu` -> `acme-eu-now-`: a DNS-label prefix for generateName."""
    label = re.sub(r"[^a-z0-9-]+", "-", tenant.lower()).strip("-") or "tenant"
    return f"{label[: NAME_PREFIX_MAX_LENGTH - len(what) - 2].rstrip('-')}-{what}-"


def _part(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}
