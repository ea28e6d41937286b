"""Builders of API-shaped test data: TenantBackups, Jobs and pods as the API returns them."""

from datetime import UTC, datetime
from typing import Any

from tenant_backup.api import kinds
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.result import DumpResult, ResultArtifact

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
UID = "0a1b2c3d-0000-4000-8000-000000000001"


def backup_body(name: str = "nightly", namespace: str = "team-a", **spec: Any) -> dict[str, Any]:
    """A TenantBackup body as the API server would return it (defaults left to models)."""
    return {
        "apiVersion": f"{kinds.GROUP}/{kinds.VERSION}",
        "kind": kinds.TENANT_BACKUP.kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": UID,
            "generation": 1,
            "resourceVersion": "1",
            "creationTimestamp": T0.isoformat(),
        },
        "spec": {
            "tenant": "acme",
            "database": {"secretRef": {"name": "pg-app"}},
            "destination": {"pvc": {"claimName": "backups", "path": "nightly"}},
        }
        | spec,
    }


def backup(**spec: Any) -> TenantBackup:
    """A parsed TenantBackup."""
    return TenantBackup.from_body(backup_body(**spec))


def success_message(url: str = "pvc://backups/x.pgdump.zst", size: int = 4096) -> str:
    """A termination message as the runner writes it on success."""
    return DumpResult(
        ok=True,
        artifact=ResultArtifact(
            url=url, size_bytes=size, sha256="a" * 64, format="custom", compression="zstd"
        ),
        server_version="15.18",
        pg_dump_version="15.18",
    ).to_message()
