"""Pure: the names of the TenantBackups a schedule creates, one per tenant and slot."""

import hashlib
from datetime import UTC, datetime

from tenant_backup.core.naming import JOB_NAME_MAX_LENGTH, validate_slug

CHILD_NAME_MAX_LENGTH = JOB_NAME_MAX_LENGTH - len("-99")
"""Below the kind's 63, so that the Jobs of a child's first 99 attempts keep its name whole
(`job_name` cuts longer ones and adds a hash)."""
_SLOT_FORMAT = "%Y%m%d%H%M"
_DIGEST_LENGTH = 8


def child_name(schedule: str, tenant: str, slot: datetime) -> str:
    """The TenantBackup of `tenant` for `slot` (aware) of the schedule named `schedule`.

    `<schedule>-<tenant>-<slot in UTC as YYYYMMDDHHMM>` when that fits in
    CHILD_NAME_MAX_LENGTH and the tenant has no `_`. Otherwise the tenant's `_` become `-`,
    the schedule and tenant are cut to fit, and a hash of all three follows the slot:
    `nightly-acme-eu-202603010300-1f2e3d4c`. The hash keeps distinct schedules, tenants and
    slots apart, also where a `-` could come from either (schedule `nightly-acme` with tenant
    `eu`, schedule `nightly` with tenant `acme_eu`). A DNS subdomain, as the schedule's name.
    """
    validate_slug(tenant)
    if slot.utcoffset() is None:
        raise ValueError(f"slot {slot} has no time zone")
    stamp = slot.astimezone(UTC).strftime(_SLOT_FORMAT)
    readable = f"{schedule}-{tenant}-{stamp}"
    if "_" not in tenant and len(readable) <= CHILD_NAME_MAX_LENGTH:
        return readable
    digest = hashlib.sha256(f"{schedule}/{tenant}/{stamp}".encode()).hexdigest()
    room = CHILD_NAME_MAX_LENGTH - len(stamp) - _DIGEST_LENGTH - 2
    words = tenant.replace("_", "-")
    # The schedule gives way to the tenant, down to half the room.
    head = schedule[: max(room - 1 - len(words), room // 2)].rstrip("-.")
    prefix = f"{head}-{words}"[:room].rstrip("-.")
    return f"{prefix}-{stamp}-{digest[:_DIGEST_LENGTH]}"
