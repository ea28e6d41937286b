"""The chart's optional PrometheusRule: `promtool check rules` accepts what `helm template`
renders, and `promtool test rules` (tests/data/alerts/) shows each alert firing when it should
and silent when it should not, on the rules as rendered, with the default and custom values.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv import chart_tools as chart
from devenv import promtool
from tenant_backup.api.reason_guide import ALERTS as ALERT_GUIDES

TESTS = Path(__file__).parents[1] / "data" / "alerts"
TROUBLESHOOTING = Path(__file__).parents[2] / "docs" / "troubleshooting.md"
OPERATOR_DOWN = "TenantBackupOperatorDown"
ENABLED = "metrics.prometheusRule.enabled=true"
ALERTS = {
    "TenantBackupScheduleLastSuccessTooOld",
    "TenantBackupTenantLastSuccessTooOld",
    "TenantBackupHistoryUnreadable",
    "TenantBackupPruneFailing",
    "TenantBackupScheduleMissedSlots",
    "TenantBackupSizeAnomaly",
    "TenantBackupNotVerified",
    "TenantBackupsFailing",
    "TenantBackupsQueuedTooLong",
    "TenantBackupOperatorDown",
}


def rule_spec(*values: str) -> dict[str, Any]:
    """The `spec` (rule groups) of the PrometheusRule the chart renders with these values."""
    rules = [o for o in chart.objects(chart.template(*values)) if o["kind"] == "PrometheusRule"]
    assert len(rules) == 1
    spec: dict[str, Any] = rules[0]["spec"]
    return spec


def without_annotations(spec: dict[str, Any]) -> dict[str, Any]:
    """The groups with their annotations left out (promtool compares annotations exactly)."""

    def bare(rule: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in rule.items() if key != "annotations"}

    groups = [
        {**group, "rules": [bare(rule) for rule in group["rules"]]} for group in spec["groups"]
    ]
    return {**spec, "groups": groups}


def promtool_test(tmp_path: Path, spec: dict[str, Any], tests: str) -> str:
    """`promtool test rules` of a file of tests/data/alerts/ against `spec` as rules.yaml."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    shutil.copy(TESTS / tests, tmp_path / tests)
    return promtool.run("test", "rules", tests, cwd=tmp_path)


def test_disabled_by_default() -> None:
    kinds = {o["kind"] for o in chart.objects(chart.template())}
    assert "PrometheusRule" not in kinds


def test_values_schema_rejects_nonsense() -> None:
    with pytest.raises(AssertionError, match="lastSuccessIntervals"):
        chart.template(ENABLED, "metrics.prometheusRule.lastSuccessIntervals=1")
    with pytest.raises(AssertionError, match="pruneFailingFor"):
        chart.template(ENABLED, 'metrics.prometheusRule.pruneFailingFor="half an hour"')
    with pytest.raises(AssertionError, match="lastSuccesIntervals"):
        chart.template(ENABLED, "metrics.prometheusRule.lastSuccesIntervals=3")


def test_rendered_rules_pass_promtool_check(tmp_path: Path) -> None:
    spec = rule_spec(ENABLED, 'metrics.prometheusRule.alertLabels={"team": "platform"}')
    rules = [rule for group in spec["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules if "alert" in rule} == ALERTS
    for rule in rules:
        if "alert" in rule:
            assert rule["labels"]["team"] == "platform"
            assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = promtool.run("check", "rules", "--lint=all", "--lint-fatal", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in out


def test_alerts_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    out = promtool_test(tmp_path, without_annotations(rule_spec(ENABLED)), "rule-tests.yaml")
    assert "SUCCESS" in out


def test_health_alerts_fire_when_they_should_and_only_then(tmp_path: Path) -> None:
    out = promtool_test(tmp_path, without_annotations(rule_spec(ENABLED)), "health-tests.yaml")
    assert "SUCCESS" in out


def test_each_alert_links_its_runbook_in_the_troubleshooting_guide() -> None:
    spec = rule_spec(ENABLED, 'metrics.prometheusRule.runbookUrl="https://docs.example/t.md"')
    alerts = [rule for group in spec["groups"] for rule in group["rules"] if "alert" in rule]
    assert set(ALERT_GUIDES) == ALERTS
    page = TROUBLESHOOTING.read_text()
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url == f"https://docs.example/t.md#{alert['alert'].lower()}"
        assert f"\n### {alert['alert']}\n" in page  # GitHub's anchor of that heading


def test_operator_down_matches_the_podmonitor_job_when_it_scrapes() -> None:
    spec = rule_spec(ENABLED, "metrics.podMonitor.enabled=true")
    [down] = [r for g in spec["groups"] for r in g["rules"] if r.get("alert") == OPERATOR_DOWN]
    job = 'job="tenant-backup-system/tenant-backup-operator"'
    assert job in down["expr"]


def test_annotations_name_the_schedule_the_tenant_and_the_age(tmp_path: Path) -> None:
    out = promtool_test(tmp_path, rule_spec(ENABLED), "annotation-tests.yaml")
    assert "SUCCESS" in out


def test_thresholds_come_from_the_values(tmp_path: Path) -> None:
    spec = rule_spec(
        ENABLED,
        "metrics.prometheusRule.lastSuccessIntervals=4",
        'metrics.prometheusRule.lastSuccessFor="1h"',
    )
    out = promtool_test(tmp_path, without_annotations(spec), "threshold-tests.yaml")
    assert "SUCCESS" in out
