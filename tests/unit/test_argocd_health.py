"""The Argo CD health check (Lua) against status documents saved from a real operator run."""

import json

import pytest

from tests.support.argocd_health import REPO, health

DATA = REPO / "tests" / "data" / "argocd-status"


@pytest.mark.parametrize(
    ("document", "expected", "in_message"),
    [
        ("pending-new.json", "Progressing", "Waiting for the tenant-backup operator"),
        ("running-first-attempt.json", "Progressing", "Running (attempt 1)"),
        ("running-retry.json", "Progressing", "Running (attempt 2)"),
        ("succeeded-after-retry.json", "Healthy", "Backup pvc://backups/nightly/acme/"),
        ("failed-secret-missing.json", "Degraded", "SecretMissing: Secret pg-app not found"),
        ("failed-permission-denied.json", "Degraded", "PermissionDenied"),
    ],
)
def test_health_of_real_status_documents(document: str, expected: str, in_message: str) -> None:
    status, message = health(json.loads((DATA / document).read_text()))
    assert status == expected
    assert in_message in message
