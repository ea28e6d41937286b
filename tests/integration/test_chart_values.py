"""The chart's standard values (what platform teams set on every chart): each one rendered and
checked where it lands; the schema refusing what a pod spec would; helm lint and kubeconform
on a render with all of them; the kustomize base taking the image once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import chart_tools as chart
from devenv.cluster import Cluster
from tests.integration.test_chart import by_key
from tests.support.operator_rbac import MANIFESTS

NS = "tenant-backup-system"
NAME = "tenant-backup-operator"
DIGEST = "sha256:" + "0123456789abcdef" * 4
POD_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": NAME}
HISTORY_DSN = {
    "name": "TENANT_BACKUP_HISTORY_DSN",
    "valueFrom": {"secretKeyRef": {"name": "backup-history", "key": "dsn"}},
}
STANDARD = (
    f'image={{"repository": "registry.example/tbo", "tag": "9.9.9", "digest": "{DIGEST}",'
    ' "pullPolicy": "Always"}',
    'imagePullSecrets=[{"name": "regcred"}]',
    'commonLabels={"team": "platform"}',
    'podLabels={"cost-center": "db"}',
    'podAnnotations={"example.com/scrape": "false"}',
    'serviceAccount={"create": true, "name": "tbo",'
    ' "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/tbo"}}',
    'affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":'
    ' {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In",'
    ' "values": ["system"]}]}]}}}',
    'topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",'
    ' "whenUnsatisfiable": "ScheduleAnyway"}]',
    'priorityClassName="platform-critical"',
    'logLevel="debug"',
    'logFormat="plain"',
    f'extraEnv=[{json.dumps(HISTORY_DSN)}, {{"name": "TZ", "value": "UTC"}}]',
    'extraVolumes=[{"name": "history-ca", "secret": {"secretName": "history-ca"}}]',
    'extraVolumeMounts=[{"name": "history-ca", "mountPath": "/etc/history-ca", "readOnly": true}]',
    'podSecurityContext={"runAsUser": 1000650000, "fsGroup": 1000650000}',
    'securityContext={"runAsUser": 1000650000}',
    'nodeSelector={"kubernetes.io/os": "linux"}',
    'tolerations=[{"key": "dedicated", "operator": "Equal", "value": "system",'
    ' "effect": "NoSchedule"}]',
    'resources={"requests": {"cpu": "200m", "memory": "192Mi"}, "limits": {"memory": "384Mi"}}',
    'ui={"enabled": true, "replicas": 1, "auth": "token", "secureCookies": false,'
    ' "namespaces": [], "service": {"port": 80}, "resources": {}}',
)


def render(*values: str, release: str = NAME) -> dict[tuple[str, str, str], dict[str, Any]]:
    return by_key(chart.objects(chart.template(*values, release=release)))


def operator_pod(objs: dict[tuple[str, str, str], dict[str, Any]], name: str = NAME) -> Any:
    return objs["Deployment", NS, name]["spec"]["template"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container["env"]}


def test_the_image_is_set_once_by_digest_with_pull_secrets() -> None:
    objs = render(*STANDARD)
    pinned = f"registry.example/tbo@{DIGEST}"
    for name in (NAME, f"{NAME}-ui"):
        spec = operator_pod(objs, name)["spec"]
        assert spec["containers"][0]["image"] == pinned
        assert spec["containers"][0]["imagePullPolicy"] == "Always"
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    container = operator_pod(objs)["spec"]["containers"][0]
    assert env_of(container)["TENANT_BACKUP_IMAGE"]["value"] == pinned  # the Jobs' image
    tagged = operator_pod(render('image.tag="1.2.3"'))["spec"]
    assert tagged["containers"][0]["image"] == "tenant-backup-operator:1.2.3"
    assert env_of(tagged["containers"][0])["TENANT_BACKUP_IMAGE"]["value"] == (
        "tenant-backup-operator:1.2.3"
    )
    assert "imagePullSecrets" not in tagged
    with pytest.raises(AssertionError, match="digest"):
        chart.template('image.digest="latest"')


def test_placement_of_the_operator_pods() -> None:
    spec = operator_pod(render(*STANDARD))["spec"]
    affinity = spec["affinity"]
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"][0]["values"] == ["system"]
    # podAntiAffinity: soft still spreads the replicas next to the given affinity.
    (term,) = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"] == {"matchLabels": POD_LABELS}
    (spread,) = spec["topologySpreadConstraints"]
    assert spread == {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": POD_LABELS},
    }
    assert spec["priorityClassName"] == "platform-critical"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert spec["containers"][0]["resources"] == {
        "requests": {"cpu": "200m", "memory": "192Mi"},
        "limits": {"memory": "384Mi"},
    }
    # The user's own podAntiAffinity replaces the chart's; a labelSelector given is kept.
    own = {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "zone"}]}
    selector = {"matchLabels": {"x": "y"}}
    mine = operator_pod(
        render(
            f"affinity={json.dumps({'podAntiAffinity': own})}",
            'topologySpreadConstraints=[{"maxSkew": 2, "topologyKey": "zone",'
            f' "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {json.dumps(selector)}}}]',
        )
    )["spec"]
    assert mine["affinity"] == {"podAntiAffinity": own}
    assert mine["topologySpreadConstraints"][0]["labelSelector"] == selector
    defaults = operator_pod(render())["spec"]
    assert set(defaults["affinity"]) == {"podAntiAffinity"}
    assert not {"topologySpreadConstraints", "priorityClassName"} & set(defaults)
    assert "affinity" not in operator_pod(render('podAntiAffinity="none"'))["spec"]


def test_labels_and_annotations() -> None:
    objs = render(*STANDARD)
    for (kind, _, name), obj in objs.items():
        if kind != "CustomResourceDefinition":  # crds/ is not templated
            assert obj["metadata"]["labels"]["team"] == "platform", (kind, name)
    pod = operator_pod(objs)
    assert pod["metadata"]["labels"] == POD_LABELS | {"team": "platform", "cost-center": "db"}
    assert pod["metadata"]["annotations"] == {"example.com/scrape": "false"}
    ui_pod = operator_pod(objs, f"{NAME}-ui")
    assert "cost-center" not in ui_pod["metadata"]["labels"]
    assert "annotations" not in ui_pod["metadata"]
    # Selectors stay as they were: an upgrade that adds labels keeps the Deployment.
    deployment = objs["Deployment", NS, NAME]
    assert deployment["spec"]["selector"] == {"matchLabels": POD_LABELS}
    assert objs["Service", NS, f"{NAME}-metrics"]["spec"]["selector"] == POD_LABELS
    assert objs["PodDisruptionBudget", NS, NAME]["spec"]["selector"]["matchLabels"] == POD_LABELS
    assert objs["NetworkPolicy", NS, NAME]["spec"]["podSelector"]["matchLabels"] == POD_LABELS


def test_name_overrides() -> None:
    objs = render('nameOverride="backups"', release="prod")
    assert ("Deployment", NS, "prod-backups") in objs
    pod = operator_pod(objs, "prod-backups")
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "backups"
    assert pod["spec"]["serviceAccountName"] == "prod-backups"
    env = env_of(pod["spec"]["containers"][0])
    assert env["TENANT_BACKUP_LEASE_NAME"]["value"] == "prod-backups"
    full = render('fullnameOverride="tbo"', release="prod")
    names = {name for (kind, ns, name) in full if kind != "CustomResourceDefinition"}
    assert {"tbo", "tbo-metrics"} <= names
    assert not any(name.startswith("prod") for name in names)
    binding = next(o for (kind, _, _), o in full.items() if kind == "ClusterRoleBinding")
    assert binding["subjects"][0]["name"] == "tbo"
    with pytest.raises(AssertionError, match="fullnameOverride"):
        chart.template('fullnameOverride="Not_A_Name"')


def test_service_account_values() -> None:
    objs = render(*STANDARD)
    account = objs["ServiceAccount", NS, "tbo"]
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/tbo"
    }
    assert operator_pod(objs)["spec"]["serviceAccountName"] == "tbo"
    existing = render('serviceAccount={"create": false, "name": "platform-sa", "annotations": {}}')
    assert not [key for key in existing if key[0] == "ServiceAccount" and key[2] == NAME]
    assert operator_pod(existing)["spec"]["serviceAccountName"] == "platform-sa"
    subjects = [
        subject
        for (kind, _, _), obj in existing.items()
        if kind in ("RoleBinding", "ClusterRoleBinding")
        for subject in obj["subjects"]
    ]
    assert subjects
    assert {(s["name"], s["namespace"]) for s in subjects} == {("platform-sa", NS)}
    with pytest.raises(AssertionError, match="serviceAccount"):
        chart.template('serviceAccount={"create": false, "name": "", "annotations": {}}')


def test_security_contexts_merge_over_the_hardened_defaults() -> None:
    spec = operator_pod(render(*STANDARD))["spec"]
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000650000,
        "runAsGroup": 65532,
        "fsGroup": 1000650000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 1000650000,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    with pytest.raises(AssertionError, match="securityContext"):
        chart.template('securityContext={"runAsUsr": 1}')


def test_extra_env_from_a_secret_volumes_and_logging() -> None:
    container = operator_pod(render(*STANDARD))["spec"]["containers"][0]
    env = env_of(container)
    assert env["TENANT_BACKUP_HISTORY_DSN"] == HISTORY_DSN  # never a literal in the Deployment
    assert env["TZ"] == {"name": "TZ", "value": "UTC"}
    assert list(env).count("TENANT_BACKUP_HISTORY_DSN") == 1
    assert {"name": "history-ca", "mountPath": "/etc/history-ca", "readOnly": True} in container[
        "volumeMounts"
    ]
    volumes = operator_pod(render(*STANDARD))["spec"]["volumes"]
    assert {"name": "history-ca", "secret": {"secretName": "history-ca"}} in volumes
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    command = container["command"]
    assert {"--log-format=plain", "--verbose"} <= set(command)
    quiet = operator_pod(render('logLevel="warning"'))["spec"]["containers"][0]["command"]
    assert "--quiet" in quiet
    assert "--verbose" not in quiet
    default = operator_pod(render())["spec"]["containers"][0]["command"]
    assert not {"--quiet", "--verbose"} & set(default)
    with pytest.raises(AssertionError, match="logLevel"):
        chart.template('logLevel="trace"')
    both = {"name": "X", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    with pytest.raises(AssertionError, match="extraEnv"):
        chart.template(f"extraEnv=[{json.dumps(both)}]")


def test_standard_values_lint_and_pass_kubeconform(schemas: Path) -> None:
    sets = [arg for value in STANDARD for arg in ("--set-json", value)]
    chart.run("helm", "lint", "--strict", str(chart.CHART), *sets)
    rendered = chart.template(*STANDARD)
    location = f"{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    report = chart.run(
        "kubeconform", "-strict", "-summary", "-output=json", "-schema-location", location,
        "-ignore-missing-schemas", input=rendered,
    )  # fmt: skip
    summary = json.loads(report)["summary"]
    assert (summary["invalid"], summary["errors"]) == (0, 0)
    assert summary["valid"] == len(chart.objects(rendered))


def test_kustomize_sets_the_image_once_for_operator_and_jobs(
    cluster: Cluster, tmp_path: Path
) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(MANIFESTS, overlay)],  # kustomize: relative
                "images": [{"name": NAME, "newName": "registry.example/tbo", "digest": DIGEST}],
            }
        )
    )
    rendered = yaml.safe_load_all(cluster.kubectl("kustomize", str(overlay)).stdout)
    deployment = next(o for o in rendered if o and o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    pinned = f"registry.example/tbo@{DIGEST}"
    assert container["image"] == pinned
    assert env_of(container)["TENANT_BACKUP_IMAGE"]["value"] == pinned
    # Nothing else that is not the image was touched.
    assert env_of(container)["TENANT_BACKUP_MAX_RUNNING_JOBS"]["value"] == "10"
