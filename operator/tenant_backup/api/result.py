"""A runner's one JSON result: written to stdout and the pod's termination message.

This is the whole contract between a Job's runner and the operator, so the Job needs no
Kubernetes API token. Kubernetes keeps at most 4096 bytes of a termination message.

Every subcommand's result extends `RunResult`. Plain dataclasses and `json`: the runner
loads this on every start, so no pydantic. The operator validates a message with
pydantic all the same (`TypeAdapter(DumpResult)`, `TypeAdapter(PruneResult)`,
`TypeAdapter(RestoreResult)`):
`__pydantic_config__` gives it the camelCase names written here, and `__post_init__`
checks what the types cannot.
"""

import dataclasses
import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from tenant_backup.api.contract import ReadBack, RestoreMode, RestoreStep
from tenant_backup.api.reasons import Reason

TERMINATION_MESSAGE_LIMIT = 4096
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_ELLIPSIS = "..."


def camel(name: str) -> str:
    """The JSON name of a field: `size_bytes` -> `sizeBytes`."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


_PYDANTIC_CONFIG: dict[str, Any] = {"alias_generator": camel}


def _plain(value: object) -> object:
    """`value` as JSON data: dataclasses as objects of camelCase names without None values,
    datetimes in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((field.name, getattr(value, field.name)) for field in dataclasses.fields(value))
        return {camel(name): _plain(item) for name, item in fields if item is not None}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _json_size(text: str) -> int:
    """Bytes of `text` inside a JSON string."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def _shortened(message: str, cut: int) -> str:
    """The longest start of `message` that, with an ellipsis, takes `cut` fewer bytes in JSON."""
    budget = _json_size(message) - cut - len(_ELLIPSIS)
    kept = size = 0
    for char in message:
        size += _json_size(char)
        if size > budget:
            break
        kept += 1
    return message[:kept] + _ELLIPSIS


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResultArtifact:
    """What the runner wrote, as it read it back."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    url: str
    size_bytes: int
    sha256: str
    format: str
    compression: str
    verification: ReadBack | None = None
    """How it was read back."""
    download_url: str | None = None
    """Opt-in presigned GET URL: a bearer credential, only ever in the result file."""
    download_url_expires_at: datetime | None = None
    paced_seconds: int | None = None
    """Seconds the upload spaced its calls to stay within the destination's rate limits."""
    rate_limited_seconds: int | None = None
    """Seconds it waited out rate-limit refusals (HTTP 429) all the same."""

    def __post_init__(self) -> None:
        if self.size_bytes < 1:
            raise ValueError(f"sizeBytes must be positive, not {self.size_bytes}")
        if not _SHA256_RE.fullmatch(self.sha256):
            raise ValueError("sha256 must be 64 lower-case hex digits")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunResult:
    """Outcome of one run of any subcommand: `ok`, or why not (`reason`) and whether another
    attempt may end differently (`retryable`)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    ok: bool
    reason: Reason | None = None
    retryable: bool = False
    message: str = ""

    def public(self) -> Self:
        """This result without bearer credentials: what stdout and logs may show."""
        return self

    def to_json(self) -> str:
        """The result as one line of JSON, None values left out."""
        return json.dumps(_plain(self), ensure_ascii=False, separators=(",", ":"))

    def to_message(self) -> str:
        """Serialise within the termination-message limit, shortening `message` if needed
        and, should that not do, leaving out bearer credentials."""
        text = self.to_json()
        overflow = len(text.encode()) - TERMINATION_MESSAGE_LIMIT
        if overflow <= 0:
            return text
        public = self.public()
        if overflow + len(_ELLIPSIS) > _json_size(self.message) and public is not self:
            return public.to_message()
        return dataclasses.replace(self, message=_shortened(self.message, overflow)).to_json()


@dataclasses.dataclass(frozen=True, kw_only=True)
class DumpResult(RunResult):
    """Outcome of one dump attempt: with an artifact when `ok`; the versions whenever known."""

    artifact: ResultArtifact | None = None
    server_version: str | None = None
    pg_dump_version: str | None = None

    def public(self) -> Self:
        """This result minus the artifact's download link."""
        if self.artifact is None or self.artifact.download_url is None:
            return self
        artifact = dataclasses.replace(
            self.artifact, download_url=None, download_url_expires_at=None
        )
        return dataclasses.replace(self, artifact=artifact)


MAX_LISTED_LEFT = 8
"""Leftovers a prune result lists (`leftTotal` counts them all), so it fits the limit."""
MAX_LEFTOVER_TEXT = 240


class PruneOutcome(StrEnum):
    """What a successful prune did."""

    DELETED = "Deleted"
    """Every piece of the artifact is gone now."""
    ALREADY_GONE = "AlreadyGone"
    """Nothing of it was there."""
    FORGOTTEN = "Forgotten"
    """What could be deleted is gone; `left` lists what the destination keeps (Telegram
    messages older than 48 hours, noncurrent versions in a versioned bucket)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PruneLeftover:
    """A piece of the artifact a prune could not delete, and why."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    what: str
    why: str

    def __post_init__(self) -> None:
        if max(len(self.what), len(self.why)) > MAX_LEFTOVER_TEXT:
            raise ValueError(f"a leftover's texts take at most {MAX_LEFTOVER_TEXT} characters")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PruneResult(RunResult):
    """Outcome of one prune attempt: with an `outcome` when `ok`."""

    url: str | None = None
    """The artifact pruned."""
    outcome: PruneOutcome | None = None
    left: tuple[PruneLeftover, ...] = ()
    """The first MAX_LISTED_LEFT pieces left, when Forgotten."""
    left_total: int = 0

    def __post_init__(self) -> None:
        if self.ok and self.outcome is None:
            raise ValueError("a successful prune names its outcome")
        forgotten = self.outcome is PruneOutcome.FORGOTTEN
        if forgotten != (self.left_total > 0) or len(self.left) > min(
            self.left_total, MAX_LISTED_LEFT
        ):
            raise ValueError("only a Forgotten outcome lists what is left, at most leftTotal")
        if forgotten and not self.left:
            raise ValueError("a Forgotten outcome lists what is left")


MAX_LISTED_PROBLEMS = 8
"""Missing prerequisites or cross-tenant references a restore result lists (the totals count
them all), so it fits the limit."""
MAX_PROBLEM_TEXT = 160
MAX_CHECK_VALUE = 64
"""Characters of a check's value (and expectation) a result keeps."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepTime:
    """A restore step the run went through, and how long it took (the last one: until the
    run ended)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    step: RestoreStep
    seconds: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckResult:
    """One `{name, sql, expect}` check run against the restored schema."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _PYDANTIC_CONFIG

    name: str
    passed: bool
    value: str | None = None
    """The first column of the first row, as text (None: SQL NULL or no row)."""
    expected: str
    error: str | None = None
    """The query's error, if it failed."""

    def __post_init__(self) -> None:
        if max(len(self.value or ""), len(self.expected)) > MAX_CHECK_VALUE:
            raise ValueError(f"a check's value takes at most {MAX_CHECK_VALUE} characters")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestoreResult(RunResult):
    """Outcome of one restore attempt.

    `step` is the last step entered (where a failed run failed); `steps` times each one.
    `missing` and `references` list (at most MAX_LISTED_PROBLEMS of) the missing
    prerequisites and cross-tenant references of a MissingPrerequisite or
    CrossTenantReference failure. `alreadyRestored`: an earlier attempt of the same restore
    id had swapped already; nothing was done again."""

    mode: RestoreMode | None = None
    step: RestoreStep | None = None
    steps: tuple[StepTime, ...] = ()
    source_schema: str | None = None
    target_schema: str | None = None
    database: str | None = None
    """Where it was restored: the target's database, or Verify's scratch database."""
    previous_schema: str | None = None
    """Replace: the name the previous schema is kept under."""
    previous_kept_until: datetime | None = None
    tables: int | None = None
    rows: int | None = None
    """Rows loaded (COPY data lines)."""
    checks: tuple[CheckResult, ...] = ()
    missing: tuple[str, ...] = ()
    missing_total: int = 0
    references: tuple[str, ...] = ()
    references_total: int = 0
    already_restored: bool = False
    server_version: str | None = None
    pg_restore_version: str | None = None

    def __post_init__(self) -> None:
        for listed, total in ((self.missing, self.missing_total),
                              (self.references, self.references_total)):  # fmt: skip
            if len(listed) > min(total, MAX_LISTED_PROBLEMS):
                raise ValueError(f"at most {MAX_LISTED_PROBLEMS} problems listed, within the total")
            if any(len(text) > MAX_PROBLEM_TEXT for text in listed):
                raise ValueError(f"a problem takes at most {MAX_PROBLEM_TEXT} characters")
        if self.ok and (self.tables is None or self.target_schema is None):
            raise ValueError("a successful restore names its target and its tables")
