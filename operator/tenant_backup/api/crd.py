"""Generate each kind's CustomResourceDefinition from its pydantic models (`make crds`)."""

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from tenant_backup.api import backup, pod_config, restore, schedule
from tenant_backup.api.kinds import (
    GROUP,
    TENANT_BACKUP,
    TENANT_BACKUP_POD_CONFIG,
    TENANT_BACKUP_SCHEDULE,
    TENANT_RESTORE,
    VERSION,
    Kind,
)

JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class CrdSource:
    """What one kind's CRD is generated from."""

    kind: Kind
    spec: type[BaseModel]
    status: type[BaseModel] | None
    """None: a kind the operator only reads (no status subresource)."""
    description: str
    printer_columns: list[JsonSchema]
    rules: list[dict[str, str]] = field(default_factory=list)
    """CEL rules on the whole object."""

    @property
    def file_name(self) -> str:
        """Its file under crds/."""
        return f"{self.kind.crd_name}.yaml"


SOURCES = (
    CrdSource(
        TENANT_BACKUP,
        backup.TenantBackupSpec,
        backup.TenantBackupStatus,
        backup.DESCRIPTION,
        backup.PRINTER_COLUMNS,
        [backup.NAME_RULE],
    ),
    CrdSource(
        TENANT_BACKUP_SCHEDULE,
        schedule.TenantBackupScheduleSpec,
        schedule.TenantBackupScheduleStatus,
        schedule.DESCRIPTION,
        schedule.PRINTER_COLUMNS,
        [schedule.NAME_RULE],
    ),
    CrdSource(
        TENANT_RESTORE,
        restore.TenantRestoreSpec,
        restore.TenantRestoreStatus,
        restore.DESCRIPTION,
        restore.PRINTER_COLUMNS,
        [restore.NAME_RULE],
    ),
    CrdSource(
        TENANT_BACKUP_POD_CONFIG,
        pod_config.JobPodSpec,
        None,
        pod_config.DESCRIPTION,
        pod_config.PRINTER_COLUMNS,
        [pod_config.NAME_RULE],
    ),
)

_DROPPED_KEYS = {"title", "$defs"}


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
        if key == "additionalProperties":
            if isinstance(value, dict):  # a map's values; a bool is pydantic's extra policy
                out[key] = _convert(value, defs, keep_defaults)
            continue
        if key == "properties":
            out[key] = {name: _convert(child, defs, keep_defaults) for name, child in value.items()}
            if keep_defaults:
                absent = {name for name, child in value.items() if _nullable(child)}
                _default_empty_objects(out[key], set(node.get("required", ())) | absent)
        elif key == "description":
            out[key] = " ".join(value.split())
        elif key == "items":
            out[key] = _convert(value, defs, keep_defaults)
        else:
            out[key] = copy.deepcopy(value)  # shared lists would become YAML anchors
    return out


def _nullable(node: JsonSchema) -> bool:
    """Whether a property may be null (`X | None`): left out, it stays absent."""
    return any(option.get("type") == "null" for option in node.get("anyOf", ()))


def _default_empty_objects(properties: JsonSchema, skipped: set[str]) -> None:
    """Default optional objects that need no input to their fields' defaults, so a left-out
    object still gets them (spelled out: CEL rules check the default itself); not those in
    `skipped` (required, or absent unless given), nor free-form ones."""
    for name, child in properties.items():
        if (
            name not in skipped
            and child.get("type") == "object"
            and "default" not in child
            and not child.get("required")
            and not child.get("x-kubernetes-preserve-unknown-fields")
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


def custom_resource_definition(source: CrdSource) -> JsonSchema:
    """The whole CRD manifest, ready to serialise as YAML."""
    kind = source.kind
    properties: JsonSchema = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": structural_schema(source.spec),
    }
    if source.status is not None:
        status = structural_schema(source.status, keep_defaults=False)
        status["properties"]["conditions"].update(
            {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
        )
        properties["status"] = status
    root: JsonSchema = {
        "type": "object",
        "description": source.description,
        "required": ["spec"],
        "properties": properties,
        "x-kubernetes-validations": source.rules,
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["backups"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}} if source.status is not None else {},
                    "additionalPrinterColumns": source.printer_columns,
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render_yaml(source: CrdSource) -> str:
    """The CRD as committed under crds/."""
    header = "# Generated from the pydantic models by `make crds`. Do not edit.\n"
    return header + yaml.safe_dump(custom_resource_definition(source), sort_keys=False, width=100)


def write_all(directory: Path) -> None:
    """Write every kind's CRD into `directory`."""
    for source in SOURCES:
        (directory / source.file_name).write_text(render_yaml(source))


if __name__ == "__main__":
    write_all(Path(sys.argv[1]))
