"""The chart's Argo CD health check (Lua), run with Lua (`lupa`) as Argo CD runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts" / "tenant-backup-operator" / "argocd-health.lua"


def health(body: dict[str, Any]) -> tuple[str, str]:
    """Argo CD's health of an object: the object as global `obj`, the table returned."""
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
