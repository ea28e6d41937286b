"""kubeconform schemas made offline from a real API server's OpenAPI v2 document.

kubeconform reads one standalone JSON schema per kind, named `<kind>-<group>-<version>.json`
(group: its first DNS label; none for core). This writes them from `/openapi/v2` with every
`$ref` inlined and, for `-strict`, unknown properties refused, as openapi2jsonschema does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Schema = dict[str, Any]


def _inline(node: Any, definitions: dict[str, Schema], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/definitions/")
        if name in seen:
            return {}  # recursive type (JSONSchemaProps): accept anything below
        return _inline(definitions[name], definitions, (*seen, name))
    out = {key: _inline(value, definitions, seen) for key, value in node.items()}
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    if "format" in out and out.get("type") == "string" and out["format"] == "int-or-string":
        out.pop("type")
    return out


def _file_name(group: str, version: str, kind: str) -> str:
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def write_schemas(openapi_v2: Schema, out_dir: Path) -> int:
    """Write a standalone strict schema per kind into `out_dir`; the number written."""
    definitions: dict[str, Schema] = openapi_v2["definitions"]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            schema = _inline(definition, definitions, (name,))
            path = out_dir / _file_name(gvk["group"], gvk["version"], gvk["kind"])
            path.write_text(json.dumps(schema))
            written += 1
    return written
