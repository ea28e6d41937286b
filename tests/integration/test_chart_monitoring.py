"""The chart's monitoring objects besides the alerts: the Grafana dashboard ConfigMap (valid
JSON whose every query passes promtool and reads only metrics the operator exports), the
PodMonitor, and the ServiceMonitor's namespace, relabelings and scrape timeout."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from devenv import chart_tools as chart
from devenv import promtool
from tenant_backup.backup.metrics import BackupMetrics
from tenant_backup.schedule.metrics import ScheduleMetrics

DASHBOARD = chart.CHART / "files" / "dashboard.json"
GRAFANA_MACROS = {"$__rate_interval": "5m", "$namespace": ".*"}


def rendered(kind: str, *values: str) -> list[dict[str, Any]]:
    return [o for o in chart.objects(chart.template(*values)) if o["kind"] == kind]


def exported_families() -> set[str]:
    """The metric families the operator's collectors export."""
    registry = CollectorRegistry()
    BackupMetrics(registry)
    ScheduleMetrics(registry)
    return {family.name for family in registry.collect()}


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every panel's PromQL, with Grafana's variables replaced by what they stand for."""
    found = []
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            for macro, value in GRAFANA_MACROS.items():
                expr = expr.replace(macro, value)
            found.append(expr)
    return found


def test_dashboard_configmap_carries_the_file_for_the_sidecar() -> None:
    assert rendered("ConfigMap") == []  # off by default
    [config_map] = rendered(
        "ConfigMap",
        'metrics.grafanaDashboard={"enabled": true, "namespace": "monitoring",'
        ' "annotations": {"grafana_folder": "Backups"}}',
    )
    metadata = config_map["metadata"]
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["namespace"] == "monitoring"
    assert metadata["annotations"] == {"grafana_folder": "Backups"}
    [(name, text)] = config_map["data"].items()
    assert name.endswith(".json")
    assert json.loads(text) == json.loads(DASHBOARD.read_text())


def test_dashboard_queries_are_valid_promql_on_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert (dashboard["uid"], dashboard["title"]) == ("tenant-backup-operator", "Tenant backups")
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("last success", "duration", "size", "reason", "queue"):
        assert topic in titles
    exprs = queries(dashboard)
    families = exported_families()
    for expr in exprs:
        for metric in re.findall(r"\btenant_backup_[a-z_]+", expr):
            assert any(metric.startswith(family) for family in families), metric
    rules = [{"record": f"dashboard:query_{i}:check", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = promtool.run("check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in out


def test_service_monitor_namespace_relabelings_and_timeout() -> None:
    relabel = '[{"action": "labeldrop", "regex": "pod"}]'
    [monitor] = rendered(
        "ServiceMonitor",
        'metrics.serviceMonitor={"enabled": true, "namespace": "monitoring",'
        f' "scrapeTimeout": "10s", "relabelings": {relabel}, "metricRelabelings": {relabel}}}',
    )
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["tenant-backup-system"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["scrapeTimeout"] == "10s"
    assert endpoint["relabelings"] == endpoint["metricRelabelings"] == json.loads(relabel)
    [plain] = rendered("ServiceMonitor", "metrics.serviceMonitor.enabled=true")
    assert plain["metadata"]["namespace"] == "tenant-backup-system"
    assert "namespaceSelector" not in plain["spec"]
    assert not {"scrapeTimeout", "relabelings"} & set(plain["spec"]["endpoints"][0])


def test_pod_monitor_scrapes_the_operator_pods_only() -> None:
    assert rendered("PodMonitor") == []
    [monitor] = rendered("PodMonitor", 'metrics.podMonitor={"enabled": true, "interval": "1m"}')
    [deployment] = [
        d
        for d in rendered("Deployment", "metrics.podMonitor.enabled=true", "ui.enabled=true")
        if d["spec"]["template"]["metadata"]["labels"].items()
        >= monitor["spec"]["selector"]["matchLabels"].items()
    ]  # the operator's, not the UI's
    ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {port["name"] for port in ports}
    assert (endpoint["interval"], endpoint["honorLabels"]) == ("1m", True)
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["tenant-backup-system"]}
