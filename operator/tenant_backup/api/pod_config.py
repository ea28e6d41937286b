"""TenantBackupPodConfig: a namespace's settings for the pods of the operator's Jobs.

One object per namespace, named `default`, read when a Job is created there (dump, restore,
prune). It may place the pods (nodeSelector, tolerations, affinity), name their
ServiceAccount and pull Secrets, add annotations and labels, and size them. It cannot touch
the hardening (security contexts, no service-account token), the operator's own labels and
annotations, or the priority class (preemption reaches beyond the namespace): only the
chart-wide defaults (`JobPodDefaults`) may set that.
"""

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.meta import ObjectMeta
from tenant_backup.api.references import ResourceName, SecretReference

DESCRIPTION = (
    "A TenantBackupPodConfig (one per namespace, named default) sets the service account, "
    "pull secrets, annotations, labels, placement and resources of the pods of the "
    "operator's Jobs in its namespace."
)
NAME = "default"
NAME_RULE = {
    "rule": f"self.metadata.name == '{NAME}'",
    "message": f"a namespace has one TenantBackupPodConfig, named {NAME}",
}
PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Service Account", "type": "string", "jsonPath": ".spec.serviceAccountName"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

RESERVED_PREFIXES = (
    "tenantbackup.dev/",
    "batch.kubernetes.io/",
    "container.apparmor.security.beta.kubernetes.io/",
    "seccomp.security.alpha.kubernetes.io/",
)
"""Label and annotation key prefixes that are the operator's (its labels, a restore's
checks annotation), the Job controller's (`job-name`, `controller-uid`), or would loosen the
pods' confinement (the AppArmor and legacy seccomp annotations)."""
RESERVED_KEYS = ("app.kubernetes.io/managed-by", "job-name", "controller-uid")
"""Unprefixed or foreign keys the operator and the Job controller rely on."""
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
QUALIFIED_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def reserved_key(key: str) -> bool:
    """Whether a label or annotation key is the operator's or Kubernetes' own."""
    return key in RESERVED_KEYS or key.startswith(RESERVED_PREFIXES)


def _keys_rule(what: str) -> dict[str, str]:
    """CEL: every key is well-formed and none is reserved (`reserved_key`)."""
    prefixes = " || ".join(f"k.startsWith('{prefix}')" for prefix in RESERVED_PREFIXES)
    reserved = ", ".join(f"'{key}'" for key in RESERVED_KEYS)
    return cel(
        f"self.all(k, k.matches(r'{QUALIFIED_KEY}') && !(k in [{reserved}]) && !({prefixes}))",
        f"{what} keys must be qualified names, not {', '.join(RESERVED_KEYS)} nor under "
        f"{', '.join(RESERVED_PREFIXES)}: those are the operator's and Kubernetes' own, or "
        "would loosen the pods' confinement",
    )


Labels = Annotated[
    dict[str, Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]],
    Field(json_schema_extra=validations(_keys_rule("label")), max_length=32),
]
Annotations = Annotated[
    dict[str, Annotated[str, Field(max_length=4096)]],
    Field(json_schema_extra=validations(_keys_rule("annotation")), max_length=32),
]
Quantities = Annotated[
    dict[str, Annotated[str, Field(max_length=64, pattern=QUANTITY)]],
    Field(
        max_length=16,
        json_schema_extra=validations(
            cel(
                f"self.all(k, k.matches(r'{QUALIFIED_KEY}'))",
                "resource names are qualified names (cpu, memory, ephemeral-storage, ...)",
            )
        ),
    ),
]


def _qualified(value: dict[str, str]) -> dict[str, str]:
    """`value`, if every key is a qualified name (as admission checks the labels')."""
    bad = sorted(key for key in value if not re.fullmatch(QUALIFIED_KEY, key))
    if bad:
        raise ValueError(f"not qualified names: {', '.join(bad)}")
    return value


class Resources(ApiModel):
    """Requests and limits of the Job's one container, per resource; each given one
    replaces the operator's own (`cpuRequest`, `memoryRequest`, `memoryLimit`)."""

    requests: Quantities = Field(default_factory=dict)
    limits: Quantities = Field(default_factory=dict)


class TolerationOperator(StrEnum):
    """How a toleration matches a taint's value."""

    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    """The taint effect a toleration matches."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(ApiModel):
    """A pod toleration, as in a pod spec."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.operator) && self.operator == 'Exists' && has(self.value)"
                " && self.value != '')",
                "a toleration with operator Exists has no value",
            ),
            cel(
                "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
                "tolerationSeconds goes with effect NoExecute",
            ),
        )
    )

    key: Annotated[str, Field(max_length=316, pattern=QUALIFIED_KEY)] | None = None
    """The taint key; empty with operator Exists: every taint."""
    operator: TolerationOperator | None = None
    value: Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)] | None = None
    effect: TaintEffect | None = None
    """Empty: every effect."""
    toleration_seconds: int | None = None


AFFINITY_KINDS = ("nodeAffinity", "podAffinity", "podAntiAffinity")


class JobPodSpec(ApiModel):
    """What a namespace may set for the pods of the operator's Jobs in it."""

    service_account_name: ResourceName | None = None
    """ServiceAccount of the Jobs' pods, in this namespace (default: the namespace's
    `default`). Its token is still not mounted; a workload identity webhook may add its own
    projected token (see docs/deploy.md)."""
    image_pull_secrets: Annotated[list[SecretReference], Field(max_length=16)] = Field(
        default_factory=list
    )
    """docker-registry Secrets of this namespace (`- name: regcred`, as in a pod spec), added
    to the chart-wide ones."""
    annotations: Annotations = Field(default_factory=dict)
    """Pod annotations, over the chart-wide ones; the operator's own always win."""
    labels: Labels = Field(default_factory=dict)
    """Pod labels, over the chart-wide ones; the operator's own always win."""
    node_selector: Annotated[
        dict[str, Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]],
        Field(max_length=32),
    ] = Field(default_factory=dict)
    """Over the chart-wide node selector, key by key."""
    tolerations: Annotated[list[Toleration], Field(max_length=32)] = Field(default_factory=list)
    """Added to the chart-wide tolerations."""
    affinity: Annotated[
        dict[str, Any],
        Field(
            json_schema_extra={
                "properties": {
                    kind: {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    for kind in AFFINITY_KINDS
                }
            }
        ),
    ] = Field(default_factory=dict)
    """A pod affinity as in a pod spec; each kind given replaces the chart-wide one."""
    resources: Resources = Field(default_factory=Resources)

    @field_validator("labels", "annotations")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        """What admission refuses (for the chart-wide defaults too, read from the
        environment)."""
        reserved = sorted(key for key in value if reserved_key(key))
        if reserved:
            raise ValueError(f"reserved keys: {', '.join(reserved)}")
        return _qualified(value)

    @field_validator("node_selector")
    @classmethod
    def _node_selector_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return _qualified(value)


class JobPodDefaults(JobPodSpec):
    """The chart-wide settings (operator setting `job_pod`): a namespace's
    TenantBackupPodConfig applies over them, and only they set the priority class."""

    priority_class_name: ResourceName | None = None
    """PriorityClass of every Job's pods."""


class TenantBackupPodConfig(ApiModel):
    """The object, as the operator reads it."""

    model_config = ConfigDict(extra="ignore")

    metadata: ObjectMeta
    spec: JobPodSpec = Field(default_factory=JobPodSpec)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "TenantBackupPodConfig":
        """Parse an API object."""
        return cls.model_validate(body)
