"""The chart owns the CRDs (`crds.install`, `crds.keep`): its CRD templates render exactly the
generated crds/ (no second copy), and an upgrade from the chart before that (CRDs in its
`crds/` folder, which Helm never upgrades) to the working tree's, in the order
docs/upgrading.md gives, keeps every object served and readable, on a control plane of its own
(the CRDs are cluster-wide)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import chart_tools as chart
from devenv.cluster import Cluster
from devenv.paths import REPO
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support.schedules import schedule_manifest

PREVIOUS_CHART = REPO / "tests" / "data" / "charts" / "tenant-backup-operator-0.1.0.tgz"
"""The chart 0.1.0 as `helm package` made it (from commit 8f86460, the last whose chart
installed the CRDs from its `crds/` folder): what an adopter upgrades from, with no need for
git history."""
RELEASE = "tbo"
NAMESPACE = "tenant-backup-system"
TEAM = "team-a"
CRDS = sorted((REPO / "crds").glob("*.tenantbackup.dev.yaml"))
KEEP = {"helm.sh/resource-policy": "keep"}
Served = dict[tuple[str, str], tuple[Any, Any]]
"""Objects by kind and name: their spec and status."""


def generated() -> dict[str, dict[str, Any]]:
    """crds/ as `make crds` wrote it, by name."""
    loaded = (yaml.safe_load(path.read_text()) for path in CRDS)
    return {crd["metadata"]["name"]: crd for crd in loaded}


def rendered_crds(*values: str) -> dict[str, dict[str, Any]]:
    objs = chart.objects(chart.template(*values))
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == "CustomResourceDefinition"}


def test_the_chart_renders_the_generated_crds_kept_on_uninstall() -> None:
    rendered = rendered_crds()
    assert sorted(rendered) == sorted(generated())
    for name, crd in rendered.items():
        assert crd["metadata"].pop("annotations") == KEEP
        assert crd == generated()[name], f"{name}: the chart's CRD differs from crds/"
    unkept = rendered_crds('crds={"keep": false}')
    assert all("annotations" not in crd["metadata"] for crd in unkept.values())
    assert rendered_crds('crds={"install": false}') == {}


def test_the_packaged_chart_carries_the_crds(tmp_path: Path) -> None:
    """`helm package` (what the release pushes) resolves the links into the archive."""
    chart.run("helm", "package", str(chart.CHART), "--destination", str(tmp_path))
    [archive] = tmp_path.glob("tenant-backup-operator-*.tgz")
    objs = chart.objects(chart.run("helm", "template", "tbo", str(archive)))
    crds = {o["metadata"]["name"]: o for o in objs if o["kind"] == "CustomResourceDefinition"}
    for crd in crds.values():
        crd["metadata"].pop("annotations")
    assert crds == generated()


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A control plane of the test's own: no CRDs yet."""
    started = Cluster.start(tmp_path / "cluster")
    try:
        yield started
    finally:
        started.stop()


def helm(cluster: Cluster, *args: str) -> str:
    return chart.run("helm", *args, "--kubeconfig", str(cluster.kubeconfig))


def get(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def create_objects(cluster: Cluster) -> Served:
    """A TenantBackup (with a status, as the operator writes it), a schedule and a restore."""
    cluster.kubectl("create", "namespace", TEAM)
    for manifest in (
        tb.manifest(),
        schedule_manifest("hourly", "0 * * * *", ["acme"]),
        tb.tenant_restore("copy", {"backupRef": {"name": "nightly"}}),
    ):
        cluster.kubectl("apply", "-n", TEAM, "-f", "-", input=json.dumps(manifest))
    status = {"phase": "Succeeded", "reason": "Succeeded", "attempts": 1, "message": "kept"}
    cluster.kubectl(
        "patch", "-n", TEAM, "tb", "nightly", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip
    return readable(cluster)


def readable(cluster: Cluster) -> Served:
    """Every object of the three kinds in TEAM, as served: name, spec and status."""
    listed = get(cluster, "-n", TEAM, "tb,tbs,tr")["items"]
    return {(o["kind"], o["metadata"]["name"]): (o["spec"], o.get("status", {})) for o in listed}


def test_upgrade_from_crds_folder_to_chart_managed_crds(
    fresh_cluster: Cluster, tmp_path: Path
) -> None:
    cluster = fresh_cluster
    helm(cluster, "install", RELEASE, str(PREVIOUS_CHART), "-n", NAMESPACE,
         "--create-namespace")  # fmt: skip
    before = create_objects(cluster)
    assert len(before) == 3
    assert before[("TenantBackup", "nightly")][1]["phase"] == "Succeeded"

    upgrade = ["upgrade", RELEASE, str(chart.CHART), "-n", NAMESPACE, "--reset-then-reuse-values"]
    listed = get(cluster, "crd")["items"]  # those 0.1.0 installed, as upgrading.md lists them
    names = [c["metadata"]["name"] for c in listed if c["spec"]["group"] == "tenantbackup.dev"]
    assert sorted(names) == [
        "tenantbackups.tenantbackup.dev",
        "tenantbackupschedules.tenantbackup.dev",
        "tenantrestores.tenantbackup.dev",
    ]
    with pytest.raises(AssertionError, match="invalid ownership metadata"):
        helm(cluster, *upgrade)  # the CRDs are not the release's yet
    cluster.kubectl("label", "crd", *names, "app.kubernetes.io/managed-by=Helm")
    cluster.kubectl("annotate", "crd", *names, f"meta.helm.sh/release-name={RELEASE}",
                    f"meta.helm.sh/release-namespace={NAMESPACE}")  # fmt: skip
    helm(cluster, *upgrade)

    for name, crd in generated().items():
        served = get(cluster, "crd", name)
        assert served["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert served["spec"]["versions"] == crd["spec"]["versions"]
    assert readable(cluster) == before

    helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE)
    wait_for(lambda: not get(cluster, "deployments", "-n", NAMESPACE)["items"], 30, "uninstalled")
    kept = sorted(o["metadata"]["name"] for o in get(cluster, "crd")["items"])
    assert kept == sorted(generated())
    assert readable(cluster) == before
