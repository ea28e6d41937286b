"""The Helm chart: equal to `manifests/` by default, schema-valid, installable under the
`restricted` Pod Security Standard on the real API server.

Built-in kinds are validated by kubeconform against schemas made from this API server's own
OpenAPI document (no download); the ServiceMonitor and PrometheusRule (Prometheus Operator
CRDs) have none here and are skipped with -ignore-missing-schemas (test_chart_alerts.py checks
the rules with promtool).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import chart_tools as chart
from devenv.cluster import Cluster
from devenv.kubectl import KubectlError, KubectlRunner
from tenant_backup.settings import Settings
from tests.support import operator_rbac as rbac

NAMESPACED = 'watchNamespaces=["team-a", "team-b"]'
EVERYTHING_ON = (
    NAMESPACED,
    'metrics={"port": 9191, "serviceMonitor": {"enabled": true, "labels": {"r": "p"}},'
    ' "prometheusRule": {"enabled": true, "labels": {"r": "p"}, "alertLabels": {"team": "t"}},'
    ' "podMonitor": {"enabled": true}, "grafanaDashboard": {"enabled": true}}',
    'dumpJob={"image": "registry.example/tbo:1", "settings": {"jobTtlSeconds": 3600}}',
    'nodeSelector={"kubernetes.io/os": "linux"}',
    'jobPod={"serviceAccountName": "backup-runner", "imagePullSecrets": [{"name": "regcred"}],'
    ' "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},'
    ' "labels": {"team": "platform"}, "nodeSelector": {"node-role/backup": "true"},'
    ' "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backup",'
    ' "effect": "NoSchedule"}], "affinity": {"nodeAffinity": {'
    '"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {'
    '"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}},'
    ' "priorityClassName": "backups", "resources": {"limits": {"memory": "1Gi"}}}',
    'tolerations=[{"operator": "Exists"}]',
    'egress={"deniedCIDRs": ["169.254.0.0/16"], "allowedCIDRs": ["10.20.0.0/16", "fd00::/8"],'
    ' "allowedHosts": ["*.hooks.example", "mail.example"]}',
    'networkPolicy={"enabled": true, "egress": {"enabled": true, "dns": {"namespace": "dns",'
    ' "podLabels": {"app": "coredns"}, "cidrs": ["169.254.20.10/32"]},'
    ' "apiServer": {"cidrs": ["192.0.2.10/32"], "ports": [6443]},'
    ' "historyDatabase": {"cidrs": ["10.20.1.5/32"], "ports": [5432]},'
    ' "databases": {"cidrs": ["10.20.0.0/16"], "ports": [5432, 6432]},'
    ' "smtp": {"cidrs": ["192.0.2.25/32"], "ports": [587]},'
    ' "webhooks": {"cidrs": ["0.0.0.0/0"], "ports": [443]},'
    ' "extraRules": [{"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}',
    'ui={"enabled": true, "replicas": 1, "auth": "proxy", "secureCookies": true,'
    ' "namespaces": ["team-a"], "service": {"port": 8081}, "historySecret": "ui-history",'
    ' "resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "192Mi"}}}',
)
UI_ON = "ui.enabled=true"


def by_key(objs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Objects keyed by (kind, namespace, name), for order-free comparison."""
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objs}


def test_default_render_equals_manifests(cluster: Cluster) -> None:
    rendered = by_key(chart.objects(chart.template()))
    for crd in (o for o in rendered.values() if o["kind"] == "CustomResourceDefinition"):
        assert crd["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert rendered == by_key(rbac.render_manifests(cluster))


def test_chart_lints_strictly() -> None:
    for values in ((), EVERYTHING_ON):
        sets = [arg for value in values for arg in ("--set-json", value)]
        chart.run("helm", "lint", "--strict", str(chart.CHART), *sets)


def test_values_schema_rejects_nonsense() -> None:
    with pytest.raises(AssertionError, match="logFormat"):
        chart.template('logFormat="xml"')
    with pytest.raises(AssertionError, match="watchNamespaces"):
        chart.template('watchNamespaces=["Not_A_Namespace"]')
    with pytest.raises(AssertionError, match="allowedCIDRs"):
        chart.template(
            'egress={"deniedCIDRs": null, "allowedCIDRs": ["intranet"], "allowedHosts": []}'
        )


def test_renders_as_a_subchart_with_global_values(tmp_path: Path) -> None:
    """An umbrella chart depending on it by `file://`: Helm passes `global` down, which the
    values schema accepts, and the umbrella's values for it reach its templates."""
    version = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())["version"]
    umbrella = tmp_path / "platform"
    umbrella.mkdir()
    dependency = {
        "name": chart.CHART.name,
        "version": version,
        "repository": f"file://{chart.CHART}",
    }
    (umbrella / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "platform",
                "version": "1.0.0",
                "dependencies": [dependency],
            }
        )
    )
    values = {
        "global": {"imageRegistry": "registry.example", "imagePullSecrets": ["pull"]},
        chart.CHART.name: {"watchNamespaces": ["team-a"]},
    }
    (umbrella / "values.yaml").write_text(yaml.safe_dump(values))
    chart.run("helm", "dependency", "update", "--skip-refresh", str(umbrella))
    rendered = chart.run("helm", "template", "platform", str(umbrella), "-n", "platform-system")
    objs = chart.objects(rendered)
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == "platform-system"
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--namespace=team-a" in command
    assert "--all-namespaces" not in command
    bindings = {o["metadata"].get("namespace") for o in objs if o["kind"] == "RoleBinding"}
    assert "team-a" in bindings


def test_restores_join_edit_only_when_asked() -> None:
    key = ("ClusterRole", "", "tenant-backup-operator-restore")
    edit = "rbac.authorization.k8s.io/aggregate-to-edit"
    default = by_key(chart.objects(chart.template()))[key]["metadata"]["labels"]
    assert default["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert edit not in default
    opted = chart.template('userRoles={"aggregate": true, "restoreForEdit": true}')
    assert by_key(chart.objects(opted))[key]["metadata"]["labels"][edit] == "true"


def network_policy(*values: str) -> dict[str, Any]:
    objs = by_key(chart.objects(chart.template(*values)))
    spec: dict[str, Any] = objs["NetworkPolicy", "tenant-backup-system", "tenant-backup-operator"][
        "spec"
    ]
    return spec


def egress_ports(rule: dict[str, Any]) -> list[tuple[str, int]]:
    return [(port["protocol"], port["port"]) for port in rule["ports"]]


def test_egress_is_closed_by_default_but_for_dns_and_the_api_server() -> None:
    spec = network_policy()
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    dns, api_server = spec["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert egress_ports(dns) == [("UDP", 53), ("TCP", 53)]
    assert egress_ports(api_server) == [("TCP", 443), ("TCP", 6443)]


def test_egress_opens_what_each_feature_lists() -> None:
    spec = network_policy(*EVERYTHING_ON)
    dns, api_server, history, databases, smtp, webhooks, extra = spec["egress"]
    assert dns["to"][1] == {"ipBlock": {"cidr": "169.254.20.10/32"}}
    assert (api_server["to"], egress_ports(api_server)) == (
        [{"ipBlock": {"cidr": "192.0.2.10/32"}}],
        [("TCP", 6443)],
    )
    assert history["to"] == [{"ipBlock": {"cidr": "10.20.1.5/32"}}]
    assert egress_ports(databases) == [("TCP", 5432), ("TCP", 6432)]
    assert (smtp["to"], egress_ports(smtp)) == (
        [{"ipBlock": {"cidr": "192.0.2.25/32"}}],
        [("TCP", 587)],
    )
    assert egress_ports(webhooks) == [("TCP", 443)]
    assert extra == {"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}
    off = network_policy("networkPolicy.egress.enabled=false")
    assert (off["policyTypes"], "egress" in off) == (["Ingress"], False)


def test_namespaced_mode_grants_only_in_served_namespaces() -> None:
    objs = by_key(chart.objects(chart.template(NAMESPACED)))
    role_bindings = {key[1:] for key in objs if key[0] == "RoleBinding"}
    assert role_bindings == {
        ("team-a", "tenant-backup-operator"),
        ("team-b", "tenant-backup-operator"),
        ("tenant-backup-system", "tenant-backup-operator-leader-election"),  # its Lease only
    }
    assert ("ClusterRoleBinding", "", "tenant-backup-operator") not in objs
    namespaces_role = objs["ClusterRole", "", "tenant-backup-operator-namespaces"]
    assert namespaces_role["rules"] == rbac.NAMESPACED_MODE_RULES  # what the test suite grants
    deployment = objs["Deployment", "tenant-backup-system", "tenant-backup-operator"]
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--namespace=team-a" in command
    assert "--namespace=team-b" in command
    assert "--all-namespaces" not in command


def test_replicas_spread_and_keep_one_through_disruptions() -> None:
    objs = by_key(chart.objects(chart.template()))
    deployment = objs["Deployment", "tenant-backup-system", "tenant-backup-operator"]["spec"]
    assert deployment["replicas"] == 2
    pdb = objs["PodDisruptionBudget", "tenant-backup-system", "tenant-backup-operator"]["spec"]
    assert (pdb["minAvailable"], pdb["selector"]) == (1, deployment["selector"])
    (soft,) = deployment["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert soft["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert soft["podAffinityTerm"]["labelSelector"] == deployment["selector"]
    lease = objs["Role", "tenant-backup-system", "tenant-backup-operator-leader-election"]
    assert lease["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }
    ]
    single = by_key(
        chart.objects(
            chart.template(
                "replicas=1",
                'podAntiAffinity="hard"',
                'podDisruptionBudget={"enabled": false, "minAvailable": 1}',
            )
        )
    )
    spec = single["Deployment", "tenant-backup-system", "tenant-backup-operator"]["spec"]
    hard = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert list(hard) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    assert not any(key[0] == "PodDisruptionBudget" for key in single)
    with pytest.raises(AssertionError, match="podAntiAffinity"):
        chart.template('podAntiAffinity="sometimes"')


def test_another_release_name_elects_on_its_own_lease() -> None:
    objs = by_key(chart.objects(chart.template(release="tbo-b")))
    container = objs["Deployment", "tenant-backup-system", "tbo-b-tenant-backup-operator"]["spec"][
        "template"
    ]["spec"]["containers"][0]
    assert {"name": "TENANT_BACKUP_LEASE_NAME", "value": "tbo-b-tenant-backup-operator"} in (
        container["env"]
    )


def test_dump_job_settings_become_environment() -> None:
    objs = by_key(chart.objects(chart.template(*EVERYTHING_ON)))
    deployment = objs["Deployment", "tenant-backup-system", "tenant-backup-operator"]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "TENANT_BACKUP_IMAGE", "value": "registry.example/tbo:1"} in env
    assert {"name": "TENANT_BACKUP_JOB_TTL_SECONDS", "value": "3600"} in env
    assert {"name": "TENANT_BACKUP_DENIED_CIDRS", "value": "169.254.0.0/16"} in env
    assert {"name": "TENANT_BACKUP_ALLOWED_CIDRS", "value": "10.20.0.0/16,fd00::/8"} in env
    assert {"name": "TENANT_BACKUP_ALLOWED_HOSTS", "value": "*.hooks.example,mail.example"} in env
    defaults = by_key(chart.objects(chart.template()))
    deployment = defaults["Deployment", "tenant-backup-system", "tenant-backup-operator"]
    names = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not names & {"TENANT_BACKUP_DENIED_CIDRS", "TENANT_BACKUP_ALLOWED_CIDRS"}
    empty = by_key(
        chart.objects(
            chart.template('egress={"deniedCIDRs": [], "allowedCIDRs": [], "allowedHosts": []}')
        )
    )
    env = empty["Deployment", "tenant-backup-system", "tenant-backup-operator"]["spec"]["template"][
        "spec"
    ]["containers"][0]["env"]
    assert {"name": "TENANT_BACKUP_DENIED_CIDRS", "value": ""} in env  # deny nothing: explicit


def test_job_pod_values_become_the_operators_job_pod_setting() -> None:
    """jobPod reaches the operator as one JSON setting, read back as the values said; empty
    entries are left out, and a default render sets nothing."""
    objs = by_key(chart.objects(chart.template(*EVERYTHING_ON)))
    deployment = objs["Deployment", "tenant-backup-system", "tenant-backup-operator"]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    settings = Settings.from_env({"TENANT_BACKUP_JOB_POD": env["TENANT_BACKUP_JOB_POD"]})
    pod = settings.job_pod
    assert pod.service_account_name == "backup-runner"
    assert [secret.name for secret in pod.image_pull_secrets] == ["regcred"]
    assert pod.labels == {"team": "platform"}
    assert pod.tolerations[0].value == "backup"
    assert pod.affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pod.priority_class_name == "backups"
    assert pod.resources.limits == {"memory": "1Gi"}
    some = by_key(chart.objects(chart.template('jobPod={"serviceAccountName": "runner"}')))
    env_list = some["Deployment", "tenant-backup-system", "tenant-backup-operator"]["spec"][
        "template"
    ]["spec"]["containers"][0]["env"]
    assert {
        "name": "TENANT_BACKUP_JOB_POD",
        "value": json.dumps({"serviceAccountName": "runner"}, separators=(",", ":")),
    } in env_list
    defaults = by_key(chart.objects(chart.template()))
    deployment = defaults["Deployment", "tenant-backup-system", "tenant-backup-operator"]
    names = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "TENANT_BACKUP_JOB_POD" not in names


@pytest.mark.parametrize(
    "values",
    [
        'jobPod={"labels": {"tenantbackup.dev/backup": "x"}}',
        'jobPod={"labels": {"job-name": "x"}}',
        'jobPod={"annotations": {"container.apparmor.security.beta.kubernetes.io/dump":'
        ' "unconfined"}}',
        'jobPod={"securityContext": {"runAsUser": 0}}',
        'jobPod={"imagePullSecrets": ["regcred"]}',
        'dumpJob={"image": "", "settings": {"jobPod": "{}"}}',
    ],
)
def test_job_pod_values_refuse_reserved_keys_and_hardening(values: str) -> None:
    with pytest.raises(AssertionError, match="jobPod"):
        chart.template(values)  # the schema's error names the value's path


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_ui_runs_hardened_with_no_rights_of_its_own() -> None:
    objs = by_key(chart.objects(chart.template(UI_ON)))
    ns, name = "tenant-backup-system", "tenant-backup-operator-ui"
    pod = objs["Deployment", ns, name]["spec"]["template"]
    spec = pod["spec"]
    assert (spec["serviceAccountName"], spec["automountServiceAccountToken"]) == (name, False)
    assert objs["ServiceAccount", ns, name]["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["command"][:2] == ["tenant-backup", "ui"]
    assert "--auth=token" in container["command"]
    assert "--secure-cookies" not in container["command"]
    # The API server's CA without a token: the kube-root-ca.crt ConfigMap, where --certificate-
    # authority looks.
    (mount,) = container["volumeMounts"]
    (volume,) = spec["volumes"]
    assert volume["projected"]["sources"] == [
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
    ]
    assert mount["name"] == volume["name"]
    assert f"--certificate-authority={mount['mountPath']}/ca.crt" in container["command"]
    bound = [
        obj
        for (kind, _, _), obj in objs.items()
        if kind in ("RoleBinding", "ClusterRoleBinding")
        and any(subject["name"] == name for subject in obj["subjects"])
    ]
    assert bound == []
    service = objs["Service", ns, name]["spec"]
    assert matches(service["selector"], pod["metadata"]["labels"])
    assert (service["ports"][0]["port"], service["ports"][0]["targetPort"]) == (80, "http")
    # No selector of the operator's picks the UI's pods (nor the UI's the operator's).
    operator = objs["Deployment", ns, "tenant-backup-operator"]
    for selector in (
        operator["spec"]["selector"]["matchLabels"],
        objs["Service", ns, "tenant-backup-operator-metrics"]["spec"]["selector"],
        objs["PodDisruptionBudget", ns, "tenant-backup-operator"]["spec"]["selector"][
            "matchLabels"
        ],
        objs["NetworkPolicy", ns, "tenant-backup-operator"]["spec"]["podSelector"]["matchLabels"],
    ):
        assert not matches(selector, pod["metadata"]["labels"])
    assert not matches(service["selector"], operator["spec"]["template"]["metadata"]["labels"])


def test_ui_values_reach_its_command() -> None:
    objs = by_key(chart.objects(chart.template(*EVERYTHING_ON)))
    ns, name = "tenant-backup-system", "tenant-backup-operator-ui"
    container = objs["Deployment", ns, name]["spec"]["template"]["spec"]["containers"][0]
    assert {"--auth=proxy", "--secure-cookies", "--namespace=team-a"} <= set(container["command"])
    assert container["env"] == [
        {
            "name": "TENANT_BACKUP_HISTORY_DSN",
            "valueFrom": {"secretKeyRef": {"name": "ui-history", "key": "dsn"}},
        }
    ]
    assert objs["Service", ns, name]["spec"]["ports"][0]["port"] == 8081
    assert not any(key[2] == name for key in by_key(chart.objects(chart.template())))
    with pytest.raises(AssertionError, match="auth"):
        chart.template(UI_ON, 'ui.auth="basic"')


@pytest.mark.parametrize("values", [(), EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_renders_pass_kubeconform_strict(schemas: Path, values: tuple[str, ...]) -> None:
    rendered = chart.template(*values)
    location = f"{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    report = chart.run(
        "kubeconform",
        "-strict",
        "-summary",
        "-output=json",
        "-schema-location",
        location,
        "-ignore-missing-schemas",
        input=rendered,
    )
    summary = json.loads(report)["summary"]
    assert summary["invalid"] == 0
    assert summary["errors"] == 0
    unchecked = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}  # no schema here
    objs = chart.objects(rendered)
    checkable = [o for o in objs if o["kind"] not in unchecked]
    assert summary["valid"] == len(checkable)
    assert summary["skipped"] == len(objs) - len(checkable)


def restricted_namespace(kubectl: KubectlRunner) -> str:
    name = f"t-chart-{secrets.token_hex(3)}"
    kubectl("create", "namespace", name)
    kubectl(
        "label",
        "namespace",
        name,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )
    return name


def test_helm_install_under_restricted_pod_security(cluster: Cluster, crd: str) -> None:
    namespace = restricted_namespace(cluster.kubectl)
    release = f"tbo-{namespace.rsplit('-', 1)[-1]}"  # cluster-scoped names must not clash
    try:
        chart.run(
            "helm",
            "install",
            release,
            str(chart.CHART),
            "--namespace",
            namespace,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--set-json",
            f'watchNamespaces=["{namespace}"]',
            "--set-json",
            UI_ON,
            "--set",
            "crds.install=false",  # applied by the `crd` fixture, not owned by a release
        )
        deployments = json.loads(
            cluster.kubectl(
                "get",
                "-n",
                namespace,
                "deployment",
                "-o",
                "json",
                "-l",
                f"app.kubernetes.io/instance={release}",
            ).stdout
        )["items"]
        assert len(deployments) == 2  # the operator and the UI
        for deployment in deployments:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "probe"},
                "spec": deployment["spec"]["template"]["spec"],
            }
            # No ReplicaSet controller runs here: ask admission (Pod Security) about the pod.
            cluster.kubectl(
                "create", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(pod)
            )
            loose = json.loads(json.dumps(pod))
            loose["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
            with pytest.raises(KubectlError, match="violates PodSecurity"):
                cluster.kubectl(
                    "create",
                    "--dry-run=server",
                    "-n",
                    namespace,
                    "-f",
                    "-",
                    input=json.dumps(loose),
                )
    finally:
        chart.run(
            "helm",
            "uninstall",
            release,
            "--namespace",
            namespace,
            "--kubeconfig",
            str(cluster.kubeconfig),
        )
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")
