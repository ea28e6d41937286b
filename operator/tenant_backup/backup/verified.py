"""Pure: the `Verified` condition, from how the runner read the artifact back."""

from collections.abc import Sequence
from datetime import datetime

from tenant_backup.api.attempts import Condition, ConditionType
from tenant_backup.api.contract import ReadBack
from tenant_backup.api.reasons import Reason, VerifiedReason
from tenant_backup.core.conditions import with_condition

_VERIFIED = {
    ReadBack.TOC: (
        VerifiedReason.TOC_VERIFIED,
        "read back before success: the archive's table of contents",
    ),
    ReadBack.FULL: (VerifiedReason.FULLY_VERIFIED, "read back before success: the whole archive"),
    ReadBack.SCAN: (
        VerifiedReason.SCAN_VERIFIED,
        "read back before success: the whole SQL script, its schema and its end",
    ),
}


def with_verified(
    previous: Sequence[Condition],
    verification: str | None,
    failed_verification: bool,
    now: datetime,
    generation: int,
) -> list[Condition]:
    """`Verified`: True with how the artifact was read back, False when reading it back failed,
    absent before either."""
    if failed_verification:
        return with_condition(
            previous,
            ConditionType.VERIFIED,
            "False",
            Reason.VERIFICATION_FAILED,
            "the artifact did not read back",
            now,
            generation,
        )
    if verification not in set(ReadBack):
        return list(previous)
    reason, message = _VERIFIED[ReadBack(verification)]
    return with_condition(
        previous, ConditionType.VERIFIED, "True", reason, message, now, generation
    )
