"""`tenant-backup prune`: delete one committed artifact by its URL, through its destination's
deleter, and report what became of it.

Outcomes: `Deleted`, `AlreadyGone`, or `Forgotten` (what could be deleted is gone; the rest
the destination keeps and a retry cannot delete: Telegram messages older than 48 hours, a
versioned bucket's noncurrent versions), listed, not an error. Anything else fails with its
reason (S3 AccessDenied: PermissionDenied; a file that cannot be unlinked; the service not
reached: DestinationUnavailable). Credentials come only from the environment, as for `dump`.
The frame (`runner.frame`) runs it: redaction, signals, the failed result, the output.
"""

import argparse

from tenant_backup.api.contract import ArtifactUrlError, parse_artifact_url
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import (
    MAX_LEFTOVER_TEXT,
    MAX_LISTED_LEFT,
    PruneLeftover,
    PruneOutcome,
    PruneResult,
)
from tenant_backup.runner import frame
from tenant_backup.runner.destinations import delete
from tenant_backup.runner.destinations.base import (
    AlreadyGone,
    Deleted,
    DeleteOutcome,
    Leftover,
    PartlyLeft,
)
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import (
    access_from_args,
    add_access_arguments,
    add_result_file_argument,
    result_file,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `prune` subcommand's arguments on `parser`."""
    parser.add_argument(
        "--artifact-url",
        required=True,
        help="the artifact: pvc://claim/path, s3://bucket/key, telegram://chat/message, file://",
    )
    add_result_file_argument(parser)
    add_access_arguments(parser)


def _short(text: str) -> str:
    return text if len(text) <= MAX_LEFTOVER_TEXT else text[: MAX_LEFTOVER_TEXT - 3] + "..."


def pruned(url: str, outcome: DeleteOutcome) -> PruneResult:
    """The result of a delete that ended with `outcome`."""
    if isinstance(outcome, Deleted):
        return PruneResult(
            ok=True, reason=Reason.SUCCEEDED, message=f"deleted {url}", url=url,
            outcome=PruneOutcome.DELETED,
        )  # fmt: skip
    if isinstance(outcome, AlreadyGone):
        return PruneResult(
            ok=True, reason=Reason.SUCCEEDED, message=f"{url} was already gone", url=url,
            outcome=PruneOutcome.ALREADY_GONE,
        )  # fmt: skip
    return _forgotten(url, outcome)


def _forgotten(url: str, outcome: PartlyLeft) -> PruneResult:
    left: tuple[Leftover, ...] = outcome.left
    listed = tuple(PruneLeftover(what=_short(p.what), why=_short(p.why)) for p in left)
    return PruneResult(
        ok=True,
        reason=Reason.SUCCEEDED,
        message=f"deleted what could be of {url}; {len(left)} pieces left, forgotten",
        url=url,
        outcome=PruneOutcome.FORGOTTEN,
        left=listed[:MAX_LISTED_LEFT],
        left_total=len(left),
    )


class Prune:
    """`tenant-backup prune`, as the frame runs it."""

    failure_reason = Reason.PRUNE_FAILED

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args

    def run(self, context: frame.Context) -> PruneResult:
        """Delete the artifact; what became of it."""
        url: str = self._args.artifact_url
        try:
            location = parse_artifact_url(url)
        except ArtifactUrlError as exc:
            raise RunError(Reason.VALIDATION_FAILED, str(exc)) from exc
        outcome = delete(location, access_from_args(self._args), context.interrupts.sleep)
        return pruned(location.url, outcome)

    def failed(self) -> PruneResult:
        """The artifact the failed run was to delete."""
        return PruneResult(ok=False, url=self._args.artifact_url)


def run(args: argparse.Namespace) -> int:
    """Entry point of `tenant-backup prune`: 0 once the artifact's fate is known."""
    return frame.run(Prune(args), result_file(args))
