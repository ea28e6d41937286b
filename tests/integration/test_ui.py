"""The backup UI in a real headless Chromium against the real API server, acting as users
who hold the built-in `admin`, `edit` and `view` roles (ServiceAccount tokens, as `kubectl create
token` gives). The operator and real dumps run where a backup must reach Succeeded.

Each test saves screenshots of the pages it shows under docs/ui/ (the README shows them).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.waiting import wait_for
from tenant_backup.adapters.history import store
from tenant_backup.api.backup import TenantBackup
from tenant_backup.backup.history_rows import rows_for
from tenant_backup.settings import Settings
from tenant_backup.ui import actions
from tests.integration.test_operator_s3 import create_s3_secret, s3_destination
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.pod_runner import pods_run
from tests.support.s3_fixtures import Bucket
from tests.support.schedules import schedule_manifest
from tests.support.ui import (
    CHROMIUM,
    SCREENSHOTS,
    UiProcess,
    apply_user_roles,
    service_account_user,
    ui_process,
)
from tests.support.users import can_i

PAYLOAD = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (never a downloaded browser)."""
    assert CHROMIUM.exists(), "install Debian's chromium: make packages"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 700})
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.dismiss())
    yield opened
    context.close()


@pytest.fixture
def other_namespace(kubectl: KubectlRunner, namespace: str) -> Iterator[str]:
    """A second namespace, with a tenant nobody of `namespace` may see."""
    name = f"t-ui-other-{secrets.token_hex(3)}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def ui(
    cluster: Cluster, namespace: str, other_namespace: str, tmp_path: Path
) -> Iterator[UiProcess]:
    yield from ui_process(cluster, [namespace, other_namespace], tmp_path / "ui.log")


@pytest.fixture
def tokens(cluster: Cluster, kubectl: KubectlRunner, namespace: str, crd: str) -> dict[str, str]:
    """Tokens of `developer` (edit) and `auditor` (view) in the namespace."""
    apply_user_roles(cluster, kubectl)
    return {
        "developer": service_account_user(cluster, kubectl, namespace, "developer", "edit"),
        "auditor": service_account_user(cluster, kubectl, namespace, "auditor", "view"),
    }


def sign_in(page: Page, ui: UiProcess, token: str) -> None:
    page.goto(f"{ui.url}/")
    expect(page).to_have_url(f"{ui.url}/signin")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{ui.url}/")


def apply_in(kubectl: KubectlRunner, namespace: str, manifest: dict[str, Any]) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def backups_in(kubectl: KubectlRunner, namespace: str) -> list[str]:
    return sorted(item["metadata"]["name"] for item in tb.items(kubectl, namespace, "tb"))


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_edit_user_backs_up_now_and_watches_it_succeed(
    page: Page,
    ui: UiProcess,
    tokens: dict[str, str],
    kubectl: KubectlRunner,
    namespace: str,
    other_namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    apply_in(kubectl, other_namespace, tb.manifest("elsewhere", tenant="globex"))
    start_operator()
    with pods_run(kubectl, namespace, claim_dir, tmp_path):
        apply_in(kubectl, namespace, tb.manifest())
        tb.wait_phase(kubectl, namespace, "nightly", "Succeeded", timeout=90)

        page.goto(f"{ui.url}/signin")
        shot(page, "signin")
        sign_in(page, ui, tokens["developer"])
        cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
        session = cookies["tbui_session"]
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"
        assert tokens["developer"] not in json.dumps(list(cookies.values()))
        table = page.locator("#tenants")
        expect(table).to_contain_text("acme")
        expect(table).to_contain_text("Succeeded")
        assert "globex" not in page.content()  # only the namespaces the user may read
        shot(page, "overview-signed-in")

        response = page.goto(f"{ui.url}/t/{namespace}/acme")
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        page.click("#backup-now")
        page.wait_for_url(f"{ui.url}/b/{namespace}/acme-now-*")
        created = page.url.rsplit("/", 1)[1]
        assert created in backups_in(kubectl, namespace)
        page.evaluate("window.sameDocument = true")
        expect(page.locator("#download-why")).to_contain_text("Only a Succeeded backup")
        expect(page.locator("[data-field=phase]")).to_have_text("Succeeded", timeout=120_000)
        expect(page.locator("#conditions")).to_contain_text("Complete")
        expect(page.locator("#download-why")).to_contain_text("PersistentVolumeClaim")
        assert page.evaluate("window.sameDocument") is True  # changed without a reload
        shot(page, "backup")

        page.goto(f"{ui.url}/t/{namespace}/acme")
        rows = page.locator("#backups tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text(created)  # newest first
        shot(page, "tenant-after-backup")


def test_view_user_sees_no_buttons_and_a_forged_post_is_refused(
    page: Page, ui: UiProcess, tokens: dict[str, str], kubectl: KubectlRunner, namespace: str
) -> None:
    apply_in(kubectl, namespace, tb.manifest())
    sign_in(page, ui, tokens["auditor"])
    page.goto(f"{ui.url}/t/{namespace}/acme")
    expect(page.locator("#backups")).to_contain_text("nightly")
    assert page.locator("#backup-now").count() == 0
    assert page.locator("form[action$='/backup']").count() == 0
    # The button is only hidden: a hand-made form, with the session's CSRF token, still
    # reaches the API server, which refuses it.
    page.evaluate(
        """(action) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = action;
            const csrf = document.querySelector("input[name=csrf]").cloneNode();
            form.appendChild(csrf);
            document.body.appendChild(form);
            form.submit();
        }""",
        f"/t/{namespace}/acme/backup",
    )
    error = page.locator("#error")
    expect(error).to_contain_text("Refused by the API server")
    expect(error).to_contain_text("forbidden")
    expect(error).to_contain_text("cannot create resource")
    assert "Traceback" not in page.content()
    shot(page, "refused")
    assert backups_in(kubectl, namespace) == ["nightly"]


def test_cluster_text_renders_as_text(
    page: Page, ui: UiProcess, tokens: dict[str, str], kubectl: KubectlRunner, namespace: str
) -> None:
    manifest = tb.manifest()
    manifest["metadata"]["annotations"] = {"note": PAYLOAD}
    apply_in(kubectl, namespace, manifest)
    status = {
        "status": {
            "phase": "Failed",
            "reason": "DumpFailed",
            "message": PAYLOAD,
            "attempts": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DumpFailed",
                    "message": PAYLOAD,
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
    }
    kubectl(
        "patch",
        "-n",
        namespace,
        "tb",
        "nightly",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    sign_in(page, ui, tokens["auditor"])
    page.goto(f"{ui.url}/b/{namespace}/nightly")
    expect(page.locator("[data-field=message]")).to_have_text(PAYLOAD)
    expect(page.locator("#metadata")).to_contain_text(PAYLOAD)
    expect(page.locator("#backup")).to_have_attribute(
        "data-updated", re.compile("."), timeout=15_000
    )  # the script has rewritten the fields from the JSON once
    expect(page.locator("#conditions")).to_contain_text(PAYLOAD)
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img, main script").count() == 0
    shot(page, "inert")


def test_csrf_rate_limit_and_revoked_token(
    page: Page, ui: UiProcess, tokens: dict[str, str], kubectl: KubectlRunner, namespace: str
) -> None:
    apply_in(kubectl, namespace, tb.manifest())
    sign_in(page, ui, tokens["developer"])
    page.goto(f"{ui.url}/t/{namespace}/acme")
    action = f"{ui.url}/t/{namespace}/acme/backup"
    csrf = page.locator("form.actions input[name=csrf]").get_attribute("value")
    assert csrf

    refused = page.request.post(action, form={}, max_redirects=0)
    assert refused.status == 403
    assert "CSRF" in refused.text()
    wrong = page.request.post(action, form={"csrf": "0" * 64}, max_redirects=0)
    assert wrong.status == 403
    assert backups_in(kubectl, namespace) == ["nightly"]

    statuses = [
        page.request.post(action, form={"csrf": csrf}, max_redirects=0).status for _ in range(11)
    ]
    assert statuses == [303] * 10 + [429]
    assert len(backups_in(kubectl, namespace)) == 11

    kubectl("delete", "serviceaccount", "developer", "-n", namespace)  # revokes its tokens
    page.goto(f"{ui.url}/")
    expect(page).to_have_url(f"{ui.url}/signin?expired=1", timeout=30_000)
    expect(page.locator("#message")).to_contain_text("sign in again")


def succeeded_backup(kubectl: KubectlRunner, namespace: str) -> None:
    """TenantBackup `nightly` of `acme`, marked Succeeded (no dump needed: nothing restores)."""
    apply_in(kubectl, namespace, tb.manifest())
    kubectl(
        "patch",
        "-n",
        namespace,
        "tb",
        "nightly",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Succeeded", "attempts": 1}}),
    )


def test_admin_starts_a_verify_restore_and_an_edit_user_sees_no_form(
    browser: Browser,
    page: Page,
    ui: UiProcess,
    tokens: dict[str, str],
    cluster: Cluster,
    kubectl: KubectlRunner,
    namespace: str,
) -> None:
    succeeded_backup(kubectl, namespace)
    owner = service_account_user(cluster, kubectl, namespace, "owner", "admin")
    user = f"system:serviceaccount:{namespace}:owner"
    wait_for(
        lambda: can_i(kubectl, namespace, user, "create", "tenantrestores"),
        30,
        f"{user} to create tenantrestores (aggregation into admin)",
    )
    sign_in(page, ui, owner)
    page.goto(f"{ui.url}/t/{namespace}/acme")
    form = page.locator("#restore-form")
    expect(form).to_be_visible()
    expect(page.locator("#restore-backup option")).to_have_text(["nightly"])

    page.select_option("#restore-mode", "Replace")
    page.fill("#restore-confirm", "globex")  # not the target tenant: the API server refuses
    page.click("#restore-start")
    error = page.locator("#error")
    expect(error).to_contain_text("Refused by the API server")
    expect(error).to_contain_text("confirm equal to it")
    assert tb.items(kubectl, namespace, "tenantrestores") == []

    page.select_option("#restore-mode", "Verify")
    page.click("#restore-start")
    page.wait_for_url(re.compile(rf"/t/{namespace}/acme\?restore=acme-restore-"))
    (restore,) = tb.items(kubectl, namespace, "tenantrestores")
    name = restore["metadata"]["name"]
    expect(page.locator("#notice")).to_contain_text(name)
    backup = tb.items(kubectl, namespace, "tb")[0]
    assert restore["spec"]["mode"] == "Verify"
    assert restore["spec"]["source"] == {"backupRef": {"name": "nightly"}}
    assert restore["spec"]["target"]["tenant"] == "acme"
    assert restore["spec"]["target"]["database"] == backup["spec"]["database"]
    assert "confirm" not in restore["spec"]
    shot(page, "restore")

    edit_context = browser.new_context()
    try:
        edit_page = edit_context.new_page()
        sign_in(edit_page, ui, tokens["developer"])
        edit_page.goto(f"{ui.url}/t/{namespace}/acme")
        expect(edit_page.locator("#backup-now")).to_be_visible()  # may back up, not restore
        assert edit_page.locator("#restore").count() == 0
        assert edit_page.locator("form[action$='/restore']").count() == 0
    finally:
        edit_context.close()


def stamp(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def patch_status(
    kubectl: KubectlRunner, namespace: str, kind: str, name: str, status: dict[str, Any]
) -> None:
    kubectl(
        "patch",
        "-n",
        namespace,
        kind,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def succeeded(
    kubectl: KubectlRunner,
    namespace: str,
    name: str,
    tenant: str,
    finished: datetime,
    size: int,
    seconds: int = 20,
    url: str = "",
) -> None:
    """A TenantBackup of `tenant` marked Succeeded at `finished` with an artifact of `size`."""
    apply_in(kubectl, namespace, tb.manifest(name, tenant=tenant))
    started = finished - timedelta(seconds=seconds)
    patch_status(
        kubectl,
        namespace,
        "tb",
        name,
        {
            "phase": "Succeeded",
            "attempts": 1,
            "startTime": stamp(started),
            "completionTime": stamp(finished),
            "artifact": {
                "url": url or f"pvc://backups/{tenant}/{name}.dump",
                "sizeBytes": size,
                "size": f"{size} B",
                "sha256": "0" * 64,
                "format": "custom",
                "compression": "zstd",
            },
        },
    )


def test_overview_colours_ages_against_schedules_and_draws_trends(
    page: Page, ui: UiProcess, tokens: dict[str, str], kubectl: KubectlRunner, namespace: str
) -> None:
    now = datetime.now(UTC)
    apply_in(kubectl, namespace, schedule_manifest("hourly", "@hourly", ["acme"]))
    following = stamp(now + timedelta(minutes=30))
    patch_status(
        kubectl,
        namespace,
        "tenantbackupschedules",
        "hourly",
        {"lastScheduleTime": stamp(now - timedelta(minutes=30)), "nextScheduleTime": following},
    )
    runs = ((5, 1000, 40), (3, 3000, 15), (1.5, 2500, 25))  # hours ago, bytes, seconds
    for n, (hours, size, seconds) in enumerate(runs):  # hourly, newest 90 min old: late
        finished = now - timedelta(hours=hours)
        succeeded(kubectl, namespace, f"acme-{n}", "acme", finished, size, seconds)
    succeeded(kubectl, namespace, "globex-0", "globex", now - timedelta(hours=3), 500)
    succeeded(kubectl, namespace, "initech-0", "initech", now - timedelta(days=3), 500)

    sign_in(page, ui, tokens["auditor"])
    table = page.locator("#tenants")
    for check in ("server", "script"):
        acme = table.locator("tr", has_text="acme")
        expect(acme.locator("td.age")).to_have_class("age late")
        expect(acme.locator("td.age")).to_have_attribute("title", re.compile("interval of 1h"))
        expect(acme).to_contain_text(following)  # the next run, from the schedule's status
        points = acme.locator("svg.trend polyline.size").get_attribute("points") or ""
        assert len(points.split()) == 3, (check, points)
        expect(acme.locator("svg.trend polyline.duration")).to_have_count(1)
        # Unscheduled: against 26 h.
        globex = table.locator("tr", has_text="globex").locator("td.age")
        expect(globex).to_have_class("age fresh")
        expect(table.locator("tr", has_text="initech").locator("td.age")).to_have_class("age stale")
        if check == "server":
            shot(page, "overview")
            page.evaluate("window.sameDocument = true")
            expect(table).to_have_attribute("data-updated", re.compile("."), timeout=15_000)
    assert page.evaluate("window.sameDocument") is True
    expect(page.locator("#legend")).to_contain_text("under two")


def test_schedules_suspend_and_resume_restores_and_their_status_page(
    page: Page,
    browser: Browser,
    ui: UiProcess,
    tokens: dict[str, str],
    kubectl: KubectlRunner,
    namespace: str,
) -> None:
    apply_in(kubectl, namespace, schedule_manifest("nightly", "30 2 * * *", ["acme"]))
    succeeded(kubectl, namespace, "acme-0", "acme", datetime.now(UTC), 1000)
    backup = tb.items(kubectl, namespace, "tb")[0]
    restore = actions.restore(namespace, backup, "Verify", "acme", "")
    created = kubectl("create", "-o", "json", "-f", "-", input=json.dumps(restore))
    restore_name = json.loads(created.stdout)["metadata"]["name"]

    sign_in(page, ui, tokens["developer"])
    page.goto(f"{ui.url}/t/{namespace}/acme")
    row = page.locator("#schedules tr[data-key=nightly]")
    expect(row.locator("[data-field=state]")).to_have_text("Active")
    row.locator("button[data-action=suspend]").click()
    expect(page.locator("#notice")).to_have_text("Schedule nightly suspended.")
    suspended = tb.items(kubectl, namespace, "tenantbackupschedules")[0]
    assert suspended["spec"]["suspend"] is True
    expect(row.locator("[data-field=state]")).to_have_text("Suspended")
    expect(page.locator("#restores")).to_contain_text(restore_name)
    shot(page, "tenant")
    row.locator("button[data-action=resume]").click()
    expect(page.locator("#notice")).to_have_text("Schedule nightly resumed.")
    assert tb.items(kubectl, namespace, "tenantbackupschedules")[0]["spec"]["suspend"] is False

    view_context = browser.new_context(viewport={"width": 1200, "height": 700})
    try:
        viewer = view_context.new_page()
        sign_in(viewer, ui, tokens["auditor"])
        viewer.goto(f"{ui.url}/t/{namespace}/acme")
        expect(viewer.locator("#schedules tr[data-key=nightly]")).to_contain_text("Active")
        assert viewer.locator("#schedules button").count() == 0
        csrf = viewer.locator("header input[name=csrf]").get_attribute("value")
        forged = viewer.request.post(
            f"{ui.url}/t/{namespace}/acme/schedules/nightly",
            form={"csrf": csrf or "", "suspend": "true"},
            max_redirects=0,
        )
        assert forged.status == 403
        assert "cannot patch resource" in forged.text()
        assert tb.items(kubectl, namespace, "tenantbackupschedules")[0]["spec"]["suspend"] is False

        viewer.locator("#restores a", has_text=restore_name).click()
        expect(viewer).to_have_url(f"{ui.url}/r/{namespace}/{restore_name}")
        expect(viewer.locator("#restore-status")).to_contain_text("Verify")
        viewer.evaluate("window.sameDocument = true")
        patch_status(
            kubectl,
            namespace,
            "tenantrestores",
            restore_name,
            {
                "phase": "Succeeded",
                "reason": "Verified",
                "message": PAYLOAD,
                "tables": 3,
                "rows": 42,
                "checks": [{"name": "orders", "passed": True, "value": "42", "expected": ">= 1"}],
                "conditions": [
                    {
                        "type": "Complete",
                        "status": "True",
                        "reason": "Verified",
                        "message": "restored and checked",
                        "lastTransitionTime": stamp(datetime.now(UTC)),
                    }
                ],
            },
        )
        expect(viewer.locator("[data-field=phase]")).to_have_text("Succeeded", timeout=15_000)
        expect(viewer.locator("[data-field=message]")).to_have_text(PAYLOAD)
        expect(viewer.locator("#checks")).to_contain_text("orders")
        expect(viewer.locator("#checks")).to_contain_text("yes")
        expect(viewer.locator("#conditions")).to_contain_text("restored and checked")
        assert viewer.evaluate("window.sameDocument") is True
        assert viewer.evaluate("window.pwned") is None
        shot(viewer, "restore-status")
    finally:
        view_context.close()


def test_download_link_is_signed_with_the_secret_the_user_may_read(
    page: Page,
    browser: Browser,
    ui: UiProcess,
    tokens: dict[str, str],
    kubectl: KubectlRunner,
    namespace: str,
    bucket: Bucket,
) -> None:
    keys = create_s3_secret(kubectl, namespace, bucket)
    content = secrets.token_bytes(4096)
    key = "nightly/acme/nightly.dump.zst"
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=content)
    manifest = tb.manifest()
    manifest["spec"]["destination"] = s3_destination(bucket)
    apply_in(kubectl, namespace, manifest)
    patch_status(
        kubectl,
        namespace,
        "tb",
        "nightly",
        {
            "phase": "Succeeded",
            "attempts": 1,
            "completionTime": stamp(datetime.now(UTC)),
            "artifact": {
                "url": f"s3://{bucket.name}/{key}",
                "sizeBytes": len(content),
                "size": "4.0 KiB",
                "sha256": hashlib.sha256(content).hexdigest(),
                "format": "custom",
                "compression": "zstd",
            },
        },
    )

    sign_in(page, ui, tokens["developer"])  # edit: may read Secrets
    page.goto(f"{ui.url}/b/{namespace}/nightly")
    link = page.locator("#download-link")
    expect(link).to_have_attribute("href", f"/b/{namespace}/nightly/download")
    shot(page, "backup-download")
    reply = page.request.get(f"{ui.url}/b/{namespace}/nightly/download", max_redirects=0)
    assert reply.status == 303
    presigned = reply.headers["location"]
    assert presigned.startswith(bucket.server.endpoint)
    assert "X-Amz-Expires=300" in presigned
    with urllib.request.urlopen(presigned, timeout=10) as download:
        assert download.read() == content
    for value in keys.values():
        if value != keys["accessKeyId"]:  # a presigned URL names its key ID, never the key
            assert value not in presigned
        assert value not in page.content()

    view_context = browser.new_context(viewport={"width": 1200, "height": 700})
    try:
        viewer = view_context.new_page()
        sign_in(viewer, ui, tokens["auditor"])  # view: may not read Secrets
        viewer.goto(f"{ui.url}/b/{namespace}/nightly")
        assert viewer.locator("#download-link").count() == 0
        expect(viewer.locator("#download-why")).to_contain_text("you may not read it")
        expect(viewer.locator("#download")).to_contain_text(
            f"tenant-backup link nightly -n {namespace}"
        )
        shot(viewer, "download-refused")
        refused = viewer.request.get(f"{ui.url}/b/{namespace}/nightly/download", max_redirects=0)
        assert refused.status == 403
        assert "cannot get resource" in refused.text()
        assert keys["secretAccessKey"] not in refused.text()
    finally:
        view_context.close()


def test_history_rows_only_where_the_user_may_list_backups(
    page: Page,
    cluster: Cluster,
    kubectl: KubectlRunner,
    namespace: str,
    other_namespace: str,
    tokens: dict[str, str],
    history: Settings,
    tmp_path: Path,
) -> None:
    """The history table holds a backup deleted since; the UI shows it to a user who may list
    TenantBackups in the namespace, and reads nothing for another namespace."""
    now = datetime.now(UTC)
    succeeded(kubectl, namespace, "acme-old", "acme", now - timedelta(days=2), 2048, 75)
    succeeded(kubectl, other_namespace, "acme-elsewhere", "acme", now, 4096)
    for ns, name in ((namespace, "acme-old"), (other_namespace, "acme-elsewhere")):
        body = json.loads(kubectl("get", "-n", ns, "tb", name, "-o", "json").stdout)
        store.record(history, rows_for(TenantBackup.from_body(body)))
    kubectl("delete", "-n", namespace, "tb", "acme-old")
    apply_in(kubectl, namespace, schedule_manifest("nightly", "30 2 * * *", ["acme"]))
    assert history.history_dsn is not None
    env = {"TENANT_BACKUP_HISTORY_DSN": history.history_dsn.get_secret_value()}
    for ui in ui_process(cluster, [namespace, other_namespace], tmp_path / "ui.log", env):
        sign_in(page, ui, tokens["auditor"])
        page.goto(f"{ui.url}/t/{namespace}/acme")
        rows = page.locator("#history tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("acme-old")  # deleted from the cluster, kept in history
        expect(rows).to_contain_text("2.0KiB")
        expect(rows).to_contain_text("1m15s")
        assert "acme-elsewhere" not in page.content()
        shot(page, "tenant-history")
        page.goto(f"{ui.url}/t/{other_namespace}/acme")
        expect(page.locator("#reason")).to_contain_text("forbidden")
        assert "acme-elsewhere" not in page.content()
        assert page.locator("#history").count() == 0
