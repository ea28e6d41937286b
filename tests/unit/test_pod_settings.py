"""Job pod settings: the namespace's TenantBackupPodConfig over the chart-wide defaults, in the
pods of every Job kind, never loosening the hardening or the operator's own labels."""

import json
import random
from typing import Any

import pytest
from pydantic import ValidationError

from tenant_backup.api.pod_config import (
    JobPodDefaults,
    JobPodSpec,
    TenantBackupPodConfig,
    reserved_key,
)
from tenant_backup.api.restore import ResolvedSource, TenantRestore
from tenant_backup.backup.job import build_job
from tenant_backup.backup.prune_job import build_prune_job
from tenant_backup.core.pod_settings import merge
from tenant_backup.restore.job import build_job as build_restore_job
from tenant_backup.settings import Settings
from tests.support.factories import T0, backup

DEFAULTS = JobPodDefaults.model_validate(
    {
        "serviceAccountName": "chart-runner",
        "imagePullSecrets": [{"name": "chart-registry"}],
        "annotations": {"example.com/cost-center": "platform", "example.com/keep": "1"},
        "labels": {"team": "platform"},
        "nodeSelector": {"pool": "backup", "arch": "amd64"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backup"}],
        "affinity": {"nodeAffinity": {"chart": True}, "podAntiAffinity": {"chart": True}},
        "priorityClassName": "backups",
        "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
    }
)
NAMESPACE = JobPodSpec.model_validate(
    {
        "serviceAccountName": "team-runner",
        "imagePullSecrets": [{"name": "team-registry"}, {"name": "chart-registry"}],
        "annotations": {"example.com/cost-center": "team-a"},
        "labels": {"team": "a", "app": "backups"},
        "nodeSelector": {"pool": "team-a"},
        "tolerations": [{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
        "affinity": {"nodeAffinity": {"team": True}},
        "resources": {"limits": {"memory": "2Gi", "ephemeral-storage": "5Gi"}},
    }
)
SETTINGS = Settings(image="registry.local/tbo:1", job_pod=DEFAULTS)
RESTORE_SOURCE = ResolvedSource.model_validate(
    {
        "backup": "nightly",
        "tenant": "acme",
        "url": "pvc://backups/nightly/acme/acme.pgdump.zst",
        "sha256": "b" * 64,
        "format": "custom",
        "compression": "zstd",
        "sizeBytes": 1 << 20,
        "destination": {"pvc": {"claimName": "backups", "path": "nightly"}},
    }
)


def restore() -> TenantRestore:
    return TenantRestore.from_body(
        {
            "metadata": {
                "name": "undo",
                "namespace": "team-a",
                "uid": "9f8e7d6c-0000-4000-8000-000000000002",
                "creationTimestamp": T0.isoformat(),
            },
            "spec": {
                "source": {"backupRef": {"name": "nightly"}},
                "target": {"database": {"secretRef": {"name": "pg"}}, "tenant": "acme_copy"},
                "checks": [{"name": "rows", "sql": "SELECT 1", "expect": "1"}],
            },
        }
    )


def every_job(settings: Settings, pod: JobPodSpec | None) -> list[dict[str, Any]]:
    """One Job of each kind the operator runs: dump, prune, restore."""
    return [
        build_job(backup(), 1, settings, pod),
        build_prune_job(backup(), "pvc://backups/nightly/acme/x.pgdump.zst", 1, settings, pod),
        build_restore_job(restore(), RESTORE_SOURCE, 1, settings, pod),
    ]


def test_the_namespace_applies_over_the_defaults_field_by_field() -> None:
    merged = merge(DEFAULTS, NAMESPACE)
    assert merged.service_account_name == "team-runner"
    assert [s.name for s in merged.image_pull_secrets] == ["chart-registry", "team-registry"]
    assert merged.annotations == {"example.com/cost-center": "team-a", "example.com/keep": "1"}
    assert merged.labels == {"team": "a", "app": "backups"}
    assert merged.node_selector == {"pool": "team-a", "arch": "amd64"}
    assert [t.key for t in merged.tolerations] == ["dedicated", None]
    assert merged.affinity == {"nodeAffinity": {"team": True}, "podAntiAffinity": {"chart": True}}
    assert merged.priority_class_name == "backups"
    assert merged.resources.requests == {"cpu": "100m"}
    assert merged.resources.limits == {"memory": "2Gi", "ephemeral-storage": "5Gi"}


def test_no_namespace_config_means_the_defaults_and_an_empty_one_changes_nothing() -> None:
    assert merge(DEFAULTS, None) == DEFAULTS
    assert merge(DEFAULTS, JobPodSpec()) == DEFAULTS


def test_a_namespace_cannot_set_the_priority_class() -> None:
    with pytest.raises(ValidationError, match="priorityClassName"):
        JobPodSpec.model_validate({"priorityClassName": "system-cluster-critical"})
    body = {
        "metadata": {"name": "default", "namespace": "team-a", "uid": "u", "creationTimestamp": T0},
        "spec": {"serviceAccountName": "team-runner"},
    }
    assert TenantBackupPodConfig.from_body(body).spec.service_account_name == "team-runner"


def test_every_job_kind_carries_the_merged_settings() -> None:
    for job in every_job(SETTINGS, NAMESPACE):
        template = job["spec"]["template"]
        spec = template["spec"]
        assert spec["serviceAccountName"] == "team-runner"
        assert spec["imagePullSecrets"] == [{"name": "chart-registry"}, {"name": "team-registry"}]
        assert spec["nodeSelector"] == {"pool": "team-a", "arch": "amd64"}
        assert spec["tolerations"] == [
            {"key": "dedicated", "operator": "Equal", "value": "backup"},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        ]
        assert spec["affinity"]["nodeAffinity"] == {"team": True}
        assert spec["priorityClassName"] == "backups"
        assert template["metadata"]["labels"]["team"] == "a"
        assert template["metadata"]["annotations"]["example.com/cost-center"] == "team-a"
        resources = spec["containers"][0]["resources"]
        assert resources == {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "2Gi", "ephemeral-storage": "5Gi"},
        }
        assert spec["automountServiceAccountToken"] is False
        # The Job's own labels stay the operator's: the pods' additions are theirs only.
        assert "team" not in job["metadata"]["labels"]


def test_without_settings_the_pod_spec_is_as_before() -> None:
    for job in every_job(Settings(), None):
        spec = job["spec"]["template"]["spec"]
        assert not {
            "serviceAccountName",
            "imagePullSecrets",
            "nodeSelector",
            "tolerations",
            "affinity",
            "priorityClassName",
        } & set(spec)
        assert spec["containers"][0]["resources"] == {
            "requests": {"cpu": "250m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        }


def test_the_restore_checks_annotation_stays_the_operators() -> None:
    job = every_job(SETTINGS, NAMESPACE)[2]
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert json.loads(annotations["tenantbackup.dev/restore-checks"])[0]["name"] == "rows"


@pytest.mark.parametrize(
    "key",
    [
        "tenantbackup.dev/backup",
        "tenantbackup.dev/restore-checks",
        "batch.kubernetes.io/job-name",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "controller-uid",
        "app.kubernetes.io/managed-by",
        "container.apparmor.security.beta.kubernetes.io/dump",
        "seccomp.security.alpha.kubernetes.io/pod",
    ],
)
def test_reserved_keys_are_refused_in_labels_and_annotations(key: str) -> None:
    assert reserved_key(key)
    for field in ("labels", "annotations"):
        with pytest.raises(ValidationError, match="reserved keys"):
            JobPodSpec.model_validate({field: {key: "x"}})
        with pytest.raises(ValidationError, match="reserved keys"):
            Settings.from_env({"TENANT_BACKUP_JOB_POD": json.dumps({field: {key: "x"}})})


@pytest.mark.parametrize(
    "key", ["team", "cluster-autoscaler.kubernetes.io/safe-to-evict", "app.kubernetes.io/name"]
)
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert not reserved_key(key)
    assert JobPodSpec.model_validate({"labels": {key: "x"}}).labels == {key: "x"}


@pytest.mark.parametrize("field", ["labels", "annotations", "nodeSelector"])
def test_keys_must_be_qualified_names(field: str) -> None:
    with pytest.raises(ValidationError, match="not qualified names: bad key"):
        JobPodDefaults.model_validate({field: {"bad key": "x"}})


def test_hardening_fields_are_not_settings_at_all() -> None:
    for field in ("securityContext", "automountServiceAccountToken", "hostNetwork", "volumes"):
        with pytest.raises(ValidationError):
            JobPodSpec.model_validate({field: {}})


def _random_settings(rng: random.Random, cls: type[JobPodSpec]) -> dict[str, Any]:
    """Arbitrary valid settings, including keys that look like the operator's own."""
    words = ["a", "team", "tenantbackupx.dev/k", "example.com/tenantbackup.dev", "pool", "job"]

    def pick() -> dict[str, str]:
        return {rng.choice(words): rng.choice(["x", "y", ""]) for _ in range(rng.randint(0, 3))}

    fields: dict[str, Any] = {
        "serviceAccountName": rng.choice([None, "sa-1", "sa-2"]),
        "imagePullSecrets": [{"name": rng.choice(["r1", "r2"])} for _ in range(rng.randint(0, 2))],
        "annotations": pick(),
        "labels": pick(),
        "nodeSelector": pick(),
        "tolerations": [{"operator": "Exists"}] * rng.randint(0, 2),
        "affinity": rng.choice([{}, {"nodeAffinity": {"n": 1}}, {"podAffinity": {"p": 1}}]),
        "resources": {"limits": rng.choice([{}, {"memory": "3Gi"}, {"cpu": "2"}])},
    }
    if cls is JobPodDefaults:
        fields["priorityClassName"] = rng.choice([None, "low"])
    return {key: value for key, value in fields.items() if value is not None}


def test_property_no_settings_loosen_the_hardening_or_move_the_operators_labels() -> None:
    """Over many random defaults and namespace configs, every Job kind keeps the security
    contexts, the unmounted token and the operator's labels exactly as without settings."""
    rng = random.Random(19)
    plain = every_job(Settings(), None)
    for _ in range(200):
        defaults = JobPodDefaults.model_validate(_random_settings(rng, JobPodDefaults))
        namespace = JobPodSpec.model_validate(_random_settings(rng, JobPodSpec))
        jobs = every_job(Settings(job_pod=defaults), rng.choice([None, namespace]))
        for job, reference in zip(jobs, plain, strict=True):
            spec, base = job["spec"]["template"]["spec"], reference["spec"]["template"]["spec"]
            assert spec["securityContext"] == base["securityContext"]
            assert spec["automountServiceAccountToken"] is False
            assert spec["enableServiceLinks"] is False
            assert (
                spec["containers"][0]["securityContext"]
                == (base["containers"][0]["securityContext"])
            )
            assert spec["volumes"] == base["volumes"]
            assert job["metadata"] == reference["metadata"]
            labels = job["spec"]["template"]["metadata"]["labels"]
            assert labels.items() >= reference["spec"]["template"]["metadata"]["labels"].items()
            for key, value in (
                reference["spec"]["template"]["metadata"].get("annotations", {}).items()
            ):
                assert job["spec"]["template"]["metadata"]["annotations"][key] == value
