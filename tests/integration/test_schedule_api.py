"""TenantBackupSchedule's admission on the real API server (OpenAPI schema and CEL), and what
the operator reports for a spec only it can judge: `Ready=False` with a reason, and no runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.waiting import wait_for
from tests.support.operator_fixtures import StartOperator
from tests.support.schedules import runs, schedule_manifest, schedule_status

Apply = Callable[..., Any]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"schedule": "0 0 2 * * *"}, "spec.schedule"),
        ({"schedule": "TZ=Europe/Berlin 0 2 * * *"}, "spec.schedule"),
        ({"schedule": "CRON_TZ=UTC 0 2 * * *"}, "spec.schedule"),
        ({"schedule": "@reboot"}, "spec.schedule"),
        ({"tenants": ["*", "acme"]}, "'*' (every tenant) must be alone"),
        ({"tenants": ["Acme"]}, "each is a tenant slug"),
        ({"tenants": []}, "spec.tenants"),
        ({"spreadWindow": "1mo"}, "spec.spreadWindow"),
        ({"retention": {"failedHistoryLimit": 2}}, "retention"),
        ({"concurrencyPolicy": "Replace"}, "spec.concurrencyPolicy"),
    ],
)
def test_admission_refuses_what_the_api_server_can_judge(
    apply: Apply, spec: dict[str, Any], message: str
) -> None:
    manifest = schedule_manifest("refused", "0 2 * * *", ["acme"])
    manifest["spec"] |= spec
    result = apply(manifest, check=False)
    assert result.returncode != 0, "admitted"
    assert message in result.stderr, result.stderr


def test_a_long_name_is_refused(apply: Apply) -> None:
    result = apply(schedule_manifest("n" * 41, "0 2 * * *", ["acme"]), check=False)
    assert result.returncode != 0
    assert "at most 40 characters" in result.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
        ({"schedule": "0 0 1 13 *"}, "13"),
        ({"schedule": "0 * * * *", "spreadWindow": "2h"}, "spreadWindow"),
    ],
)
def test_what_only_the_operator_can_judge_is_reported_not_run(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    spec: dict[str, Any],
    message: str,
) -> None:
    start_operator()
    manifest = schedule_manifest("judged", "* * * * *", ["acme"])
    manifest["spec"] |= spec
    apply(manifest)

    def ready() -> dict[str, Any] | None:
        conditions = schedule_status(kubectl, namespace, "judged").get("conditions", [])
        return next((c for c in conditions if c["type"] == "Ready"), None)

    condition = wait_for(ready, 30, "the Ready condition")
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidSchedule"
    assert message in condition["message"], condition
    found = {c["type"]: c for c in schedule_status(kubectl, namespace, "judged")["conditions"]}
    assert (found["Stalled"]["status"], found["Stalled"]["reason"]) == ("True", "InvalidSchedule")
    assert found["Reconciling"]["status"] == "False"
    assert runs(kubectl, namespace, "judged") == []
    printed = kubectl("get", "-n", namespace, "tbs", "judged", "-o", "json").stdout
    assert json.loads(printed)["status"].get("lastScheduleTime") is None
