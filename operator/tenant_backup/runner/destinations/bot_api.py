"""A small Telegram Bot API client on urllib: JSON and multipart calls, file downloads in
chunks, failures mapped to reasons; calls that post to a chat paced by its flood limits, and
HTTP 429 (`retry_after`) waited out within one budget per run (`bot_api_limits`).

The bot token is part of every request URL, so no URL is ever put in a message, and every
message that leaves this module has the token removed.
"""

import contextlib
import http.client
import json
import logging
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, cast

from tenant_backup.api.contract import TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.classify import redact
from tenant_backup.runner.destinations.bot_api_limits import ChatLimits, Pacer, WaitBudget
from tenant_backup.runner.errors import RunError

log = logging.getLogger(__name__)

Fields = Mapping[str, str | int | bool | list[int]]

TIMEOUT_SECONDS = 120
USER_AGENT = "tenant-backup-operator"
DEFAULT_WAIT_BUDGET_SECONDS = TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS
_STATUS_REASONS = {
    401: Reason.AUTH_FAILED,
    404: Reason.AUTH_FAILED,  # the Bot API's answer to a malformed token (or a wrong apiUrl)
    403: Reason.PERMISSION_DENIED,
    413: Reason.VALIDATION_FAILED,  # the part size is too large for this server: never better
}

# Calls that post to a chat: paced by its flood limits. (Deletes are not: they go 100 a
# call, and a clean-up after a termination signal must not wait.)
PACED_METHODS = frozenset({"sendDocument", "sendMessage", "forwardMessage", "copyMessage"})

# 400 replies that mean the bot may not post there: never in the chat, or without the right
# (the Bot API server's own words, TDLib's, and MTProto's errors passed on as they are); or
# may not delete or forward that message (deleting: older than 48 hours, or no right).
_DENIED_WORDS = (
    "chat not found",
    "not enough rights",
    "need administrator rights",
    "have no write access",
    "have no rights to send",
    "chat_write_forbidden",
    "chat_restricted",
    "can't be deleted",
    "can't be forwarded",
)
# 400 replies to reading or deleting what is not there.
_GONE_WORDS = ("message to forward not found", "message to delete not found", "invalid file_id")
_TOO_BIG = "file is too big"


@dataclass(frozen=True)
class Document:
    """A file to send: its name and bytes (sent as they are, not copied)."""

    file_name: str
    data: bytes | bytearray


class RateLimitedError(Exception):
    """HTTP 429: the call may be repeated after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


def reply_reason(status: int, description: str) -> Reason:
    """Reason for a failed call's HTTP status and description."""
    if status in _STATUS_REASONS:
        return _STATUS_REASONS[status]
    if any(words in description.lower() for words in _DENIED_WORDS):
        return Reason.PERMISSION_DENIED
    if any(words in description.lower() for words in _GONE_WORDS):
        return Reason.ARTIFACT_NOT_FOUND
    if _TOO_BIG in description.lower():
        return Reason.VALIDATION_FAILED
    if status >= 500 or status == 429:
        return Reason.DESTINATION_UNAVAILABLE
    return Reason.UPLOAD_FAILED


def _hint(status: int, description: str) -> str:
    """What to do about a failure, where the API's words do not say."""
    if status == 413:
        return ": lower partSizeBytes"
    if _TOO_BIG in description.lower():
        return ": the cloud Bot API lets bots download files of at most 20 MB"
    return ""


def parse_reply(method: str, status: int, body: bytes) -> Any:
    """The call's `result`; RateLimitedError for a 429; RunError for any other failure."""
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None  # e.g. the HTML of a 413 from a proxy in front of the API
    if not isinstance(reply, dict):
        reply = {"ok": False, "description": http.client.responses.get(status, "no JSON reply")}
    if reply.get("ok") is True and 200 <= status < 300:
        return reply.get("result")
    error_code = reply.get("error_code")
    code = error_code if isinstance(error_code, int) else status
    parameters = reply.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    retry_after = parameters.get("retry_after")
    if code == 429 and isinstance(retry_after, int):
        raise RateLimitedError(max(retry_after, 1))
    description = str(reply.get("description", ""))[:500]
    migrated = parameters.get("migrate_to_chat_id")
    if isinstance(migrated, int):
        raise RunError(
            Reason.VALIDATION_FAILED,
            f"Bot API {method}: the group was upgraded to a supergroup: set chatId to {migrated}",
        )
    hint = _hint(code, description)
    raise RunError(
        reply_reason(code, description), f"Bot API {method}: HTTP {code}: {description}{hint}"
    )


def form_value(value: str | int | bool | list[int]) -> str:
    """A field as a form sends it: JSON for booleans and lists (the server takes `true`, not
    Python's `True`)."""
    return value if isinstance(value, str) else json.dumps(value)


def multipart(fields: Mapping[str, str], document: Document) -> tuple[str, list[bytes | bytearray]]:
    """Content-Type and body pieces of a multipart/form-data request with one file."""
    boundary = secrets.token_hex(16)
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="document"; '
        f'filename="{document.file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", [head, document.data, tail]


class BotApi:
    """One bot's calls to one Bot API server, paced for one chat."""

    def __init__(
        self,
        base_url: str,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        wait_budget: WaitBudget | None = None,
    ) -> None:
        """`sleep` waits (and may raise to stop waiting); `wait_budget` bounds the waits for
        HTTP 429 replies, all calls together."""
        self.base_url = base_url
        self.pacer = Pacer()
        self.budget = wait_budget or WaitBudget(DEFAULT_WAIT_BUDGET_SECONDS)
        self.paced_seconds = 0.0
        self._token = token
        self._sleep = sleep

    def pace(self, limits: ChatLimits) -> None:
        """Pace the posting calls by `limits` from now on."""
        self.pacer.limits = limits

    def call(self, method: str, fields: Fields, document: Document | None = None) -> Any:
        """Call `method` (multipart with `document`, JSON otherwise); its result."""
        paced = method in PACED_METHODS
        while True:
            if paced and (delay := self.pacer.delay()) > 0:
                self.paced_seconds += delay
                self._sleep(delay)
            reply = self._post(method, fields, document)
            if paced:
                self.pacer.mark()
            try:
                return parse_reply(method, *reply)
            except RateLimitedError as limited:
                self._wait_out(method, limited.retry_after)
            except RunError as exc:
                raise RunError(exc.reason, redact(exc.message, [self._token])) from None

    def _wait_out(self, method: str, retry_after: int) -> None:
        """Sleep `retry_after` seconds, or DestinationUnavailable if the budget is spent."""
        if not self.budget.take(retry_after):
            raise RunError(
                Reason.DESTINATION_UNAVAILABLE,
                f"Bot API {method}: still rate limited (retry after {retry_after} s), "
                f"more than is left: {self.budget.describe()}",
            )
        log.warning("Bot API %s: rate limited, retry in %ds", method, retry_after)
        self._sleep(retry_after)

    def _post(self, method: str, fields: Fields, document: Document | None) -> tuple[int, bytes]:
        """(HTTP status, body); RunError if the server cannot be reached."""
        body: list[bytes | bytearray]
        if document is None:
            content_type, body = "application/json", [json.dumps(dict(fields)).encode()]
        else:
            content_type, body = multipart({k: form_value(v) for k, v in fields.items()}, document)
        request = urllib.request.Request(  # noqa: S310 (the scheme was checked: http or https)
            f"{self.base_url}/bot{self._token}/{method}",
            data=cast(Iterable[bytes], iter(body)),  # any bytes-like piece is sent as is
            method="POST",
            headers={
                "Content-Type": content_type,
                "Content-Length": str(sum(len(piece) for piece in body)),
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error, contextlib.suppress(OSError, http.client.HTTPException):
                return error.code, error.read()
            return error.code, b""  # the body was cut off: the status alone tells
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise self._unreachable(method, exc) from None

    def download(self, file_path: str, chunk_size: int) -> Iterator[bytes]:
        """The file at `file_path` (as getFile names it), in chunks of at most `chunk_size`
        read as they are used: one request; ArtifactNotFound if the server has no such file."""
        request = urllib.request.Request(  # noqa: S310 (the scheme was checked: http or https)
            f"{self.base_url}/file/bot{self._token}/{urllib.parse.quote(file_path)}",
            headers={"User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                while chunk := response.read(chunk_size):
                    yield chunk
        except urllib.error.HTTPError as error:
            error.close()
            reason = (
                Reason.ARTIFACT_NOT_FOUND if error.code == 404 else reply_reason(error.code, "")
            )
            raise RunError(reason, f"Bot API file download: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise self._unreachable("file download", exc) from None

    def read_local(self, file_path: str, chunk_size: int) -> Iterator[bytes]:
        """The file a `--local` server's getFile names by its absolute path on the server's
        disk (`<dir>/<token>/documents/...`; that server serves no file downloads), read
        where it is mounted at the same path; in chunks of at most `chunk_size`."""
        path = PurePosixPath(file_path)
        if ".." in path.parts or self._token not in path.parts:
            raise RunError(Reason.ARTIFACT_CORRUPT, "getFile: a local path outside the bot's files")
        try:
            with open(path, "rb") as file:
                while chunk := file.read(chunk_size):
                    yield chunk
        except FileNotFoundError:
            raise RunError(
                Reason.DESTINATION_UNAVAILABLE,
                "the Bot API server runs with --local and keeps files on its own disk: mount its "
                "--dir read-only at the same path to read them",
            ) from None
        except OSError as exc:
            raise RunError(
                Reason.DESTINATION_UNAVAILABLE, f"reading a --local server's file: {exc.strerror}"
            ) from None

    def _unreachable(self, what: str, exc: Exception) -> RunError:
        """DestinationUnavailable for a request that got no answer, without the token."""
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        message = f"Bot API {what}: cannot reach {self.base_url}: {reason}"
        return RunError(Reason.DESTINATION_UNAVAILABLE, redact(message, [self._token]))
