"""docs/troubleshooting.md: every reason of every vocabulary in api/reasons.py has a cause, and
the page is generated from them."""

import inspect
from enum import StrEnum

import pytest

from tenant_backup.api import reasons
from tenant_backup.api.reason_guide import GUIDES
from tenant_backup.api.troubleshooting import SECTIONS, render

VOCABULARIES = [
    member
    for _, enum in inspect.getmembers(reasons, inspect.isclass)
    if issubclass(enum, StrEnum) and enum is not StrEnum
    for member in enum
]


@pytest.mark.parametrize("reason", VOCABULARIES, ids=str)
def test_every_reason_has_a_heading_with_its_cause(reason: StrEnum) -> None:
    assert GUIDES[reason].cause
    assert f"\n### {reason.value}\n\n- **Cause**: {GUIDES[reason].cause}\n" in render()


def test_each_reason_appears_once() -> None:
    listed = [reason.value for section in SECTIONS for reason in section.reasons]
    assert len(listed) == len(set(listed)) == len(VOCABULARIES)


def test_every_failure_says_how_to_fix_it() -> None:
    assert all(GUIDES[r].fix for r in reasons.Reason if r in reasons.PERMANENT)
