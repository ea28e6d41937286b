"""Pure: whether a backup may start a Job now, under the operator's concurrency limits.

Limits: Jobs running in total, Jobs running against one database server, and never two
running Jobs of one tenant on one server (a backup's, or a restore's: a restore and a backup,
or two restores, of a tenant never run at once). Waiting ones start in creation order: one
may take a free slot only if no older one waits for that slot.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from tenant_backup.api.attempts import AttemptStatus, Phase
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.api.reasons import Reason

TERMINAL_PHASES = frozenset(phase.value for phase in Phase if phase.terminal)
UNKNOWN_SERVER = ""
"""A backup not yet checked: its server is unknown, so it may wait for any server's slot."""


class State(StrEnum):
    """Where a backup stands for scheduling."""

    ACTIVE = "active"
    """Its Job runs (holds a slot)."""
    WAITING = "waiting"
    """It wants a slot: new, queued, or due for its next attempt."""


@dataclass(frozen=True)
class Limits:
    """The operator's concurrency settings."""

    total: int
    per_server: int


@dataclass(frozen=True, order=True)
class Entry:
    """One unfinished backup, as scheduling sees it. Ordered by age."""

    created: datetime
    namespace: str
    name: str
    server: str
    tenant: str
    state: State
    kind: str = TENANT_BACKUP.kind
    """The kind of the object (TenantBackup, TenantRestore)."""

    @cached_property
    def key(self) -> tuple[str, str, str]:
        """Kind, namespace and name (made once: the gate looks it up for every entry)."""
        return self.kind, self.namespace, self.name

    @property
    def ref(self) -> tuple[str, str]:
        """Namespace and name."""
        return self.namespace, self.name


@dataclass(frozen=True)
class Verdict:
    """May it start, and if not, why (for status.message)."""

    allowed: bool
    message: str = ""


def entry_of(body: Mapping[str, Any], tenant: str, kind: str = TENANT_BACKUP.kind) -> Entry | None:
    """The scheduling entry of an object of a kind that runs Jobs (a TenantBackup unless
    said), read straight from its watch body (every event of every backup passes here: no
    model is built); None when it neither holds nor wants a slot (finished, deleted, or
    sitting out a retry backoff)."""
    metadata = body["metadata"]
    status = body.get("status") or {}
    phase, reason = status.get("phase"), status.get("reason")
    if metadata.get("deletionTimestamp") is not None or not wants_slot(phase, reason):
        return None
    waiting = not holds_slot(phase, reason)
    return Entry(
        created=datetime.fromisoformat(metadata["creationTimestamp"]),
        namespace=metadata["namespace"],
        name=metadata["name"],
        server=status.get("databaseServer") or UNKNOWN_SERVER,
        tenant=tenant,
        state=State.WAITING if waiting else State.ACTIVE,
        kind=kind,
    )


def wants_slot(phase: str | None, reason: str | None) -> bool:
    """Whether an object in this phase, for this reason, holds or wants a Job slot: not
    finished, nor sitting out a retry backoff."""
    return phase not in TERMINAL_PHASES and reason != Reason.RETRY_SCHEDULED


def holds_slot(phase: str | None, reason: str | None) -> bool:
    """Whether an object in this phase, for this reason, holds a Job slot (its Job runs)."""
    return (
        wants_slot(phase, reason) and phase not in (None, Phase.PENDING) and reason != Reason.QUEUED
    )


def freed(before: AttemptStatus, after: AttemptStatus) -> bool:
    """Whether writing `after` over `before` gave up the object's Job slot (a finish, a
    backoff)."""
    return holds_slot(before.phase, before.reason) and not holds_slot(after.phase, after.reason)


def may_start(candidate: Entry, entries: Iterable[Entry], limits: Limits) -> Verdict:
    """Whether `candidate` may start a Job now, given every other unfinished backup. One
    pass, no copies: every queued backup's pass asks this of thousands of entries."""
    active = on_server = older = older_on_server = 0
    busy_kind: str | None = None
    servers = (candidate.server, UNKNOWN_SERVER)
    for entry in entries:
        if entry.name == candidate.name and entry.key == candidate.key:
            continue
        if entry.state is State.ACTIVE:
            active += 1
            if entry.server == candidate.server:
                on_server += 1
                if entry.tenant == candidate.tenant and busy_kind is None:
                    busy_kind = entry.kind
        elif _older(entry, candidate):
            older += 1
            older_on_server += entry.server in servers
    if busy_kind is not None:
        what = "backup" if busy_kind == TENANT_BACKUP.kind else "restore"
        return Verdict(False, f"another {what} of tenant {candidate.tenant} is running")
    if active + older >= limits.total:
        return Verdict(
            False, f"{active} backups running (limit {limits.total}), {older} queued before"
        )
    if on_server + older_on_server >= limits.per_server:
        return Verdict(
            False,
            f"{on_server} backups running on this database server (limit "
            f"{limits.per_server}), {older_on_server} queued before",
        )
    return Verdict(True)


def _older(entry: Entry, than: Entry) -> bool:
    """`entry < than`, deciding on the creation time alone when it differs (no tuples)."""
    if entry.created != than.created:
        return entry.created < than.created
    return entry < than


def admissible(entries: Iterable[Entry], limits: Limits) -> list[Entry]:
    """The waiting backups that may start now, oldest first: those `may_start` admits, found
    in one pass (it runs at every slot freed, over thousands of queued backups). Only the
    oldest `total - running` waiting ones can qualify (an older waiting backup keeps its
    place)."""
    entries = list(entries)
    active = [entry for entry in entries if entry.state is State.ACTIVE]
    running_on = Counter(entry.server for entry in active)
    busy = {(entry.server, entry.tenant) for entry in active}
    waiting = sorted(entry for entry in entries if entry.state is State.WAITING)
    found: list[Entry] = []
    older_on = Counter[str]()
    for entry in waiting[: max(0, limits.total - len(active))]:
        older_on_server = older_on[entry.server] + (
            older_on[UNKNOWN_SERVER] if entry.server != UNKNOWN_SERVER else 0
        )
        if (entry.server, entry.tenant) not in busy and (
            running_on[entry.server] + older_on_server < limits.per_server
        ):
            found.append(entry)
        older_on[entry.server] += 1
    return found
