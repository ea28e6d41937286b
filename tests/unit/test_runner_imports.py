"""A dump Job loads only what dumping needs: start-up is most of a small tenant's backup."""

import json
import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter: `tenant-backup dump` to its end (an invalid slug fails before
# any connection), then the names of the modules it loaded.
PROGRAM = """
import json, sys
from tenant_backup.cli import main
status = main(["dump", "--tenant", "No!", "--output", sys.argv[1], "--result-file", sys.argv[2]])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""
OPERATOR_MODULES = ("reconcile", "drive", "handlers", "kube", "db", "settle", "history", "notify")
FORBIDDEN = ("kopf", "kubernetes", "pydantic", "boto3", "botocore", "yaml", "prometheus_client")


def test_a_dump_loads_no_operator_module_and_no_heavy_library(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path / "x.dump"), str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(completed.stdout.splitlines()[-1])
    assert report["status"] == 1
    assert json.loads((tmp_path / "r.json").read_text())["reason"] == "ValidationFailed"
    modules: list[str] = report["modules"]
    roots = {name.split(".")[0] for name in modules}
    assert roots.isdisjoint(FORBIDDEN), sorted(roots & set(FORBIDDEN))
    ours = {name.split(".")[1] for name in modules if name.startswith("tenant_backup.")}
    assert ours.isdisjoint(OPERATOR_MODULES), sorted(ours & set(OPERATOR_MODULES))
    assert ours.isdisjoint({"history_command", "link_command", "operator_command", "settings"})
    assert {"psycopg", "zstandard"} <= roots  # what it does need is there
