"""The backup UI as the chart deploys it (`ui.enabled`), once on the real node: its pod runs
under the chart's hardening in the release's restricted namespace until the kubelet's
readiness probe passes, and a user signs in through its Service, in Debian's headless
Chromium, with a token of their own, and sees their namespace's tenant."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect, sync_playwright

from devenv import operator_release
from devenv.kubectl import KubectlRunner
from devenv.node_cluster import NodeCluster
from devenv.waiting import wait_for
from tests.e2e.conftest import Apply
from tests.support.schedules import schedule_manifest
from tests.support.ui import CHROMIUM, service_account_user

VIEW_ROLE = f"{operator_release.RELEASE}-view"
"""The chart's read-only user role (templates/user-roles.yaml)."""


@pytest.fixture
def ui_url(node_cluster: NodeCluster, node_namespace: str) -> Iterator[str]:
    """The session's release upgraded with the UI on, looking in the test's namespace; its
    Service's address (kube-proxy's rules on this host route it to the pod). Off after."""
    cluster = node_cluster.cluster
    operator_release.enable_ui(cluster, [node_namespace])
    try:
        found = cluster.kubectl(
            "get", "service", "-n", operator_release.NAMESPACE, operator_release.UI_SERVICE,
            "-o", "json",
        )  # fmt: skip
        spec = json.loads(found.stdout)["spec"]
        url = f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}"
        # kube-proxy rejects the address until it has synced the Ready pod as an endpoint.
        wait_for(lambda: _answers(f"{url}/healthz"), 30, f"{url} to answer")
        yield url
    finally:
        logs = cluster.kubectl(
            "logs", "-n", operator_release.NAMESPACE, "-l", operator_release.UI_SELECTOR,
            "--tail=50", check=False,
        )  # fmt: skip
        print(f"--- UI logs\n{logs.stdout}{logs.stderr}")
        operator_release.disable_ui(cluster)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_the_charts_ui_signs_a_user_in_and_shows_their_namespaces_tenant(
    node_cluster: NodeCluster,
    node_kubectl: KubectlRunner,
    node_namespace: str,
    node_apply: Apply,
    ui_url: str,
) -> None:
    node_apply(schedule_manifest("nightly", "0 3 * * *", ["acme"]))
    token = service_account_user(
        node_cluster.cluster, node_kubectl, node_namespace, "viewer", VIEW_ROLE
    )

    (pod,) = operator_release.ui_pods(node_cluster.cluster)
    operators = operator_release.operator_pods(node_cluster.cluster)
    assert operators
    assert pod["metadata"]["name"] not in [op["metadata"]["name"] for op in operators]
    assert pod["spec"]["nodeName"] == node_cluster.node.name
    (container,) = pod["status"]["containerStatuses"]
    assert container["imageID"]  # from containerd, not faked
    assert container["ready"] is True  # the kubelet's readiness probe passed
    assert pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["spec"]["automountServiceAccountToken"] is False
    namespace = json.loads(
        node_kubectl("get", "namespace", operator_release.NAMESPACE, "-o", "json").stdout
    )
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        try:
            page = browser.new_page()
            page.goto(f"{ui_url}/")
            expect(page).to_have_url(re.compile(r"/signin$"))
            page.fill("#token", token)
            page.click("button[type=submit]")
            expect(page).to_have_url(re.compile(r"/$"))
            user = f"system:serviceaccount:{node_namespace}:viewer"
            expect(page.locator(".who")).to_contain_text(user)
            rows = page.locator("#tenants tbody tr")
            expect(rows).to_have_count(1)
            row = rows.first
            expect(row.locator("td").nth(0)).to_have_text(node_namespace)
            expect(row.locator("td").nth(1)).to_have_text("acme")
            expect(row.locator("td").nth(9)).to_have_text("nightly")
        finally:
            browser.close()
