"""The frame every runner subcommand runs in, so that each is only its body.

Around the body: secrets are redacted from every log record and from the result's message;
SIGTERM and SIGINT are handled (`Interrupts`); a RunError, or any other exception (a bug),
becomes a failed result with its reason and retryability; the result goes to stdout
(container logs) without bearer credentials and, whole, to the result file (the pod's
termination message). The exit status is 0 on success, 128 + the signal that interrupted
the run, else 1.
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

from tenant_backup.api.contract import SECRET_VARIABLES
from tenant_backup.api.reasons import Reason, is_retryable
from tenant_backup.api.result import RunResult
from tenant_backup.runner.classify import redact
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts

log = logging.getLogger(__name__)

R = TypeVar("R", bound=RunResult)
R_co = TypeVar("R_co", bound=RunResult, covariant=True)


class Secrets:
    """What the logs and the result's message redact: the credential variables' values, and
    any made during the run (a download link)."""

    def __init__(self, values: list[str]) -> None:
        self._values = [value for value in values if value]

    @classmethod
    def from_env(cls) -> "Secrets":
        """The values of SECRET_VARIABLES in this process's environment."""
        return cls([os.environ.get(name, "") for name in SECRET_VARIABLES])

    def add(self, value: str) -> None:
        """Redact `value` too from now on."""
        if value:
            self._values.append(value)

    def redact(self, text: str) -> str:
        """`text` without any of the secrets or a conninfo `password=...` value."""
        return redact(text, self._values)


_TRACEBACKS = logging.Formatter()


class RedactFilter(logging.Filter):
    """Removes secrets from log records (and their tracebacks) before any handler formats
    them."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._secrets.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:  # a traceback quotes exception messages
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._secrets.redact(record.exc_text)
        return True


@contextlib.contextmanager
def _redacted(secrets: Secrets) -> Iterator[None]:
    """Every handler of the root logger redacts `secrets` while in the block."""
    redacting = RedactFilter(secrets)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redacting)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(redacting)


@dataclass(frozen=True)
class Context:
    """What the frame gives a subcommand's body."""

    interrupts: Interrupts
    secrets: Secrets


class Command(Protocol[R_co]):
    """A subcommand's body, as the frame runs it."""

    @property
    def failure_reason(self) -> Reason:
        """The reason of a failure the body did not name: an unexpected exception."""

    def run(self, context: Context) -> R_co:
        """Do the work: its result (`ok`); raise RunError on failure."""

    def failed(self) -> R_co:
        """What the body learned before it failed, as a result with `ok` False; the frame
        adds the reason, retryability and message."""


def run(command: Command[R], result_file: Path | None) -> int:
    """Run `command` in the frame; its exit status."""
    secrets = Secrets.from_env()
    interrupts = Interrupts()
    with _redacted(secrets), interrupts.installed():
        result = _outcome(command, Context(interrupts, secrets))
        _emit(result, result_file)
    if result.ok:
        return 0
    if result.reason is Reason.DUMP_INTERRUPTED and interrupts.signum is not None:
        return 128 + interrupts.signum
    return 1


def _outcome(command: Command[R], context: Context) -> R:
    try:
        return command.run(context)
    except RunError as exc:
        log.error("failed (%s): %s", exc.reason, exc.message)
        reason, message = exc.reason, exc.message
    except Exception as exc:  # a bug: still report a result rather than crash silently
        log.exception("unexpected error")
        reason, message = command.failure_reason, f"internal error: {type(exc).__name__}: {exc}"
    return replace(
        command.failed(),
        ok=False,
        reason=reason,
        retryable=is_retryable(reason),
        message=context.secrets.redact(message),
    )


def _emit(result: RunResult, path: Path | None) -> None:
    """The result to the result file; stdout (container logs) gets it without bearer
    credentials."""
    sys.stdout.write(result.public().to_message() + "\n")
    sys.stdout.flush()
    if path is not None:
        try:
            path.write_text(result.to_message())
        except OSError as exc:
            log.warning("cannot write result to %s: %s", path, exc)
