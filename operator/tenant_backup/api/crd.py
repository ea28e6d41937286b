"""Generate the TenantBackup CustomResourceDefinition from the pydantic models."""

import copy
from typing import Any

import yaml
from pydantic import BaseModel

from tenant_backup.api import kinds
from tenant_backup.api.spec import TenantBackupSpec
from tenant_backup.api.status import TenantBackupStatus

JsonSchema = dict[str, Any]

NAME_RULE = {
    "rule": "self.metadata.name.size() <= 63",
    "message": "metadata.name must be at most 63 characters: it labels the backup's Jobs",
}

PRINTER_COLUMNS: list[JsonSchema] = [
    {"name": "Tenant", "type": "string", "jsonPath": ".spec.tenant"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
    {"name": "Size", "type": "string", "jsonPath": ".status.artifact.size"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
    {"name": "Artifact", "type": "string", "jsonPath": ".status.artifact.url", "priority": 1},
]

_DROPPED_KEYS = {"title", "additionalProperties", "$defs"}


def structural_schema(model: type[BaseModel], *, keep_defaults: bool = True) -> JsonSchema:
    """A Kubernetes structural schema for `model`: refs inlined, nullables unwrapped."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(raw, raw.get("$defs", {}), keep_defaults)


def _convert(node: JsonSchema, defs: dict[str, JsonSchema], keep_defaults: bool) -> JsonSchema:
    node = _resolve(node, defs)
    out: JsonSchema = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or (key == "default" and not keep_defaults):
            continue
        if key == "properties":
            out[key] = {name: _convert(child, defs, keep_defaults) for name, child in value.items()}
            if keep_defaults:
                _default_empty_objects(out[key], set(node.get("required", ())))
        elif key == "description":
            out[key] = " ".join(value.split())
        elif key == "items":
            out[key] = _convert(value, defs, keep_defaults)
        else:
            out[key] = copy.deepcopy(value)  # shared lists would become YAML anchors
    return out


def _default_empty_objects(properties: JsonSchema, required: set[str]) -> None:
    """Default optional objects that need no input to their fields' defaults, so a left-out
    object still gets them (spelled out: CEL rules check the default itself)."""
    for name, child in properties.items():
        if (
            name not in required
            and child.get("type") == "object"
            and "default" not in child
            and not child.get("required")
        ):
            child["default"] = {
                key: copy.deepcopy(grandchild["default"])
                for key, grandchild in child.get("properties", {}).items()
                if "default" in grandchild
            }


def _resolve(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """Inline `$ref` and unwrap `anyOf [X, null]`, keeping the outer node's annotations."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**target, **rest}, defs)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"a structural schema cannot express anyOf {node['anyOf']}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if rest.get("default", ...) is None:
            del rest["default"]
        return _resolve({**options[0], **rest}, defs)
    return node


def custom_resource_definition() -> JsonSchema:
    """The whole CRD manifest, ready to serialise as YAML."""
    spec = structural_schema(TenantBackupSpec)
    status = structural_schema(TenantBackupStatus, keep_defaults=False)
    status["properties"]["conditions"].update(
        {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
    )
    root: JsonSchema = {
        "type": "object",
        "description": (
            "A TenantBackup takes one logical backup (pg_dump) of one tenant's PostgreSQL "
            "schema, tenant_<slug>, to one destination, and reports its artifact in status."
        ),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": [NAME_RULE],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kinds.TENANT_BACKUP.plural}.{kinds.GROUP}"},
        "spec": {
            "group": kinds.GROUP,
            "names": {
                "kind": kinds.TENANT_BACKUP.kind,
                "listKind": f"{kinds.TENANT_BACKUP.kind}List",
                "plural": kinds.TENANT_BACKUP.plural,
                "singular": kinds.TENANT_BACKUP.singular,
                "shortNames": list(kinds.TENANT_BACKUP.short_names),
                "categories": ["backups"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": kinds.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render_yaml() -> str:
    """The CRD as committed under crds/ (`make crds`)."""
    header = "# Generated from the pydantic models by `make crds`. Do not edit.\n"
    return header + yaml.safe_dump(custom_resource_definition(), sort_keys=False, width=100)


if __name__ == "__main__":
    print(render_yaml(), end="")
