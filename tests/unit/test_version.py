"""One version: pyproject.toml's, which the chart's version and appVersion repeat (the release
workflow refuses a tag that names another)."""

import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_chart_carries_the_package_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((REPO / "charts" / "tenant-backup-operator" / "Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == (version, version)
