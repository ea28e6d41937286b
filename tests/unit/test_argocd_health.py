"""The Argo CD health check (Lua) against status documents saved from a real operator run."""

import json
from pathlib import Path
from typing import Any

import lupa
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts" / "tenant-backup-operator" / "argocd-health.lua"
DATA = REPO / "tests" / "data" / "argocd-status"


def health(body: dict[str, Any]) -> tuple[str, str]:
    """Run the script as Argo CD does: the object as global `obj`, a table returned."""
    lua = lupa.LuaRuntime()
    lua.globals().obj = _to_lua(lua, body)
    result = lua.execute(SCRIPT.read_text())
    return str(result["status"]), str(result["message"])


def _to_lua(lua: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


@pytest.mark.parametrize(
    ("document", "expected", "in_message"),
    [
        ("pending-new.json", "Progressing", "Waiting for the tenant-backup operator"),
        ("running-first-attempt.json", "Progressing", "Running (attempt 1)"),
        ("running-retry.json", "Progressing", "Running (attempt 2)"),
        ("succeeded-after-retry.json", "Healthy", "Backup pvc://backups/nightly/acme/"),
        ("failed-secret-missing.json", "Degraded", "SecretMissing: Secret pg-app not found"),
        ("failed-permission-denied.json", "Degraded", "PermissionDenied"),
    ],
)
def test_health_of_real_status_documents(document: str, expected: str, in_message: str) -> None:
    status, message = health(json.loads((DATA / document).read_text()))
    assert status == expected
    assert in_message in message
