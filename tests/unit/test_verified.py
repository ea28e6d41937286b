"""The Verified condition names how the artifact was really read back."""

from datetime import UTC, datetime

import pytest

from tenant_backup.api.attempts import ConditionType
from tenant_backup.api.contract import ReadBack
from tenant_backup.backup.verified import with_verified

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("read_back", "reason"),
    [
        (ReadBack.TOC, "TocVerified"),
        (ReadBack.FULL, "FullyVerified"),
        (ReadBack.SCAN, "ScanVerified"),
    ],
)
def test_each_way_of_reading_back_has_its_reason(read_back: ReadBack, reason: str) -> None:
    [condition] = with_verified([], read_back.value, False, NOW, 1)
    assert (condition.type, condition.status, condition.reason) == (
        ConditionType.VERIFIED,
        "True",
        reason,
    )


def test_an_unknown_way_sets_no_condition() -> None:
    assert with_verified([], "guessed", False, NOW, 1) == []
