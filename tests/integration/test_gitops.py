"""GitOps on the real API server: a TenantBackup applied again and again (client-side, and
server-side as Argo CD and Flux do) runs once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlRunner
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]
RESYNC_SECONDS = 1


def server_side_apply(kubectl: KubectlRunner, namespace: str, manifest: dict[str, Any]) -> None:
    """Apply as a GitOps controller does: server-side, its own field manager."""
    kubectl(
        "apply",
        "-n",
        namespace,
        "--server-side",
        "--field-manager=argocd-controller",
        "--force-conflicts",
        "-f",
        "-",
        input=json.dumps(manifest),
    )


def test_reapplying_a_backup_never_runs_it_again(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    start_operator(resync_seconds=str(RESYNC_SECONDS))
    manifest = tb.manifest()
    server_side_apply(kubectl, namespace, manifest)
    apply(manifest)  # a second sync while the first attempt runs
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    done = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")

    for _ in range(3):  # later syncs of the unchanged repository
        apply(manifest)
        server_side_apply(kubectl, namespace, manifest)
    time.sleep(3 * RESYNC_SECONDS)  # several resyncs see the re-applied object

    again = tb.get(kubectl, namespace, "tb", "nightly")
    assert again["metadata"]["generation"] == 1
    assert again["status"] == done
    assert tb.job_names(kubectl, namespace) == ["nightly-1"]
    artifacts = [p for p in claim_dir.rglob("*") if p.is_file()]
    assert len(artifacts) == 1
