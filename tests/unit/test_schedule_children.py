"""The names of the TenantBackups a schedule creates: readable, distinct, valid, and short
enough for the names of their Jobs."""

import re
from datetime import UTC, datetime, timedelta, timezone
from itertools import product

import pytest

from tenant_backup.api.references import DNS_SUBDOMAIN
from tenant_backup.core.naming import JOB_NAME_MAX_LENGTH, InvalidSlugError, job_name
from tenant_backup.schedule.children import CHILD_NAME_MAX_LENGTH, child_name

SLOT = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LONG_SCHEDULE = "s" * 253  # the longest object name
LONG_TENANT = "t" * 56  # the longest slug


@pytest.mark.parametrize(
    ("schedule", "tenant", "slot", "name"),
    [
        ("nightly", "acme", SLOT, "nightly-acme-202603010300"),
        ("nightly-eu", "acme", SLOT, "nightly-eu-acme-202603010300"),
        ("db.nightly", "acme2", SLOT, "db.nightly-acme2-202603010300"),
        # The slot is named in UTC, whatever zone it comes in.
        ("nightly", "acme", datetime(2026, 3, 1, 4, 0, tzinfo=timezone(timedelta(hours=1))),
         "nightly-acme-202603010300"),
        # `_` becomes `-`, and a hash tells it from a `-` of the schedule's name.
        ("nightly", "acme_eu", SLOT, "nightly-acme-eu-202603010300-3c37a2f5"),
        ("nightly-acme", "eu", SLOT, "nightly-acme-eu-202603010300"),
        # Too long: cut, the tenant kept before the schedule, and a hash.
        (LONG_SCHEDULE, "acme", SLOT,
         "sssssssssssssssssssssssssssssssss-acme-202603010300-1ed9e51f"),
        (LONG_SCHEDULE, LONG_TENANT, SLOT,
         "sssssssssssssssssss-tttttttttttttttttt-202603010300-b914d531"),
        ("nightly", LONG_TENANT, SLOT,
         "nightly-tttttttttttttttttttttttttttttt-202603010300-c3382a95"),
        # A cut never leaves a `.` or `-` before the next part.
        ("a" * 32 + ".b" * 20, "acme", SLOT,
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-acme-202603010300-df19f6e4"),
    ],
)  # fmt: skip
def test_child_name(schedule: str, tenant: str, slot: datetime, name: str) -> None:
    assert child_name(schedule, tenant, slot) == name


SCHEDULES = ["nightly", "nightly-acme", "a.b", "x" * 40, "y" * 44 + ".z", LONG_SCHEDULE]
TENANTS = ["acme", "acme_eu", "eu", "a_b_c", "a_", "a__b", "0", LONG_TENANT, LONG_TENANT[:-1]]
SLOTS = [SLOT, SLOT + timedelta(minutes=1), SLOT + timedelta(days=366)]


def test_child_names_are_distinct_valid_and_short() -> None:
    names = {
        child_name(schedule, tenant, slot)
        for schedule, tenant, slot in product(SCHEDULES, TENANTS, SLOTS)
    }
    assert len(names) == len(SCHEDULES) * len(TENANTS) * len(SLOTS)
    for name in names:
        assert len(name) <= CHILD_NAME_MAX_LENGTH <= 63
        assert re.fullmatch(DNS_SUBDOMAIN, name), name
        assert re.fullmatch(LABEL_VALUE, name), name


def test_the_jobs_of_the_longest_children_have_valid_names() -> None:
    children = [child_name(LONG_SCHEDULE, tenant, SLOT) for tenant in TENANTS]
    assert max(len(child) for child in children) == CHILD_NAME_MAX_LENGTH
    jobs = set()
    for child, attempt in product(children, (1, 9, 10, 99, 100, 1000)):
        job = job_name(child, attempt)
        assert len(job) <= JOB_NAME_MAX_LENGTH
        assert re.fullmatch(DNS_SUBDOMAIN, job), job
        assert re.fullmatch(LABEL_VALUE, job), job
        if attempt <= 99:
            assert job == f"{child}-{attempt}"  # the child's name stays whole
        jobs.add(job)
    assert len(jobs) == len(children) * 6


@pytest.mark.parametrize("tenant", ["", "Acme", "acme-eu", "_acme", "t" * 57])
def test_invalid_tenants_are_refused(tenant: str) -> None:
    with pytest.raises(InvalidSlugError):
        child_name("nightly", tenant, SLOT)


def test_a_naive_slot_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        child_name("nightly", "acme", datetime(2026, 3, 1, 3))
