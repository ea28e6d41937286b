"""Telegram through the Bot API: the artifact streams out as documents (sendDocument) of at
most the part size, and is complete only once a manifest document follows them.

- Memory: one part. A full part is sent when the next byte arrives, so the last part is
  known as such and captioned `part n/n`; at commit the earlier ones get their `/n` too
  (editMessageCaption), then the manifest (`<file>.manifest.json`) lists every part's size
  and SHA-256 with the artifact's. Only the manifest's message makes the artifact: its id is
  in the artifact URL, `telegram://<chat id>/<manifest message id>`.
- The bot token is checked (getMe) before pg_dump starts.
- Failure or interruption: no manifest is sent, and the parts already sent are deleted
  (deleteMessage), best effort: a bot may not be allowed to delete them (channels without
  the right, messages over 48 hours old), and a part whose upload was cut off mid-reply is
  unknown to us. Parts without a manifest are never a backup.

Reading and deleting committed artifacts: `telegram_artifact`.
"""

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenant_backup.api.contract import TelegramLocation
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.base import ArtifactFacts, Digest, DownloadLink
from tenant_backup.runner.destinations.bot_api import BotApi, Document, Fields
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import TelegramTarget

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "TELEGRAM_BOT_TOKEN"  # noqa: S105 (a variable name)
_TOKEN = re.compile(r"[A-Za-z0-9:_-]{1,200}")
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_KIND = "tenant-backup-telegram-manifest/v1"


def token_from_env() -> str:
    """The bot token the Job's Secret put in the environment (a file's trailing newline
    dropped); AuthFailed if absent or not shaped like a token (it goes into request URLs)."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not _TOKEN.fullmatch(token):
        raise RunError(Reason.AUTH_FAILED, f"{TOKEN_VARIABLE} must hold a bot token")
    return token


@dataclass(frozen=True)
class SentPart:
    """One part as Telegram holds it."""

    part: int
    file_name: str
    size_bytes: int
    sha256: str
    message_id: int
    file_id: str


def part_file_name(file_name: str, part: int) -> str:
    """`<file>.part0001`: the parts sort in order."""
    return f"{file_name}.part{part:04d}"


def caption(file_name: str, part: int, total: int | None, size: int, sha256: str) -> str:
    """A part's caption; `total` is None while the count is not yet known."""
    count = f"/{total}" if total is not None else ""
    return f"{file_name} part {part}{count}, {size} bytes, sha256 {sha256}"


def manifest(file_name: str, facts: ArtifactFacts, digest: Digest, parts: list[SentPart]) -> bytes:
    """The manifest document: the artifact, and the parts that make it up, in order."""
    document = {
        "kind": MANIFEST_KIND,
        "fileName": file_name,
        "tenant": facts.tenant,
        "format": facts.format,
        "compression": facts.compression,
        "serverVersion": facts.server_version,
        "pgDumpVersion": facts.pg_dump_version,
        "sizeBytes": digest.size_bytes,
        "sha256": digest.sha256,
        "reassemble": f"cat {file_name}.part* > {file_name}; its sha256 must be the above",
        "parts": [
            {
                "part": p.part,
                "fileName": p.file_name,
                "sizeBytes": p.size_bytes,
                "sha256": p.sha256,
                "messageId": p.message_id,
                "fileId": p.file_id,
            }
            for p in parts
        ],
    }
    return json.dumps(document, indent=2).encode() + b"\n"


@dataclass(frozen=True)
class SentDocument:
    """What a sendDocument reply says about the message it made."""

    chat_id: int
    message_id: int
    file_id: str


def sent_document(reply: Any) -> SentDocument:
    """The message a sendDocument reply describes, or UploadFailed."""
    try:
        return SentDocument(
            chat_id=int(reply["chat"]["id"]),
            message_id=int(reply["message_id"]),
            file_id=str(reply["document"]["file_id"]),
        )
    except (KeyError, TypeError, ValueError):
        raise RunError(Reason.UPLOAD_FAILED, "sendDocument: unexpected reply") from None


class TelegramUpload:
    """One artifact as a series of documents in a chat."""

    @classmethod
    def start(
        cls, target: TelegramTarget, url: str, facts: ArtifactFacts, sleep: Callable[[float], None]
    ) -> "TelegramUpload":
        """Check the environment's bot token with the server, and get ready to send; `sleep`
        waits out rate limits."""
        api = BotApi(target.api_url, token_from_env(), sleep)
        api.call("getMe", {})
        log.info("sending to %s in parts of at most %d bytes", url, target.part_size)
        return cls(api, target, url, facts)

    def __init__(self, api: BotApi, target: TelegramTarget, url: str, facts: ArtifactFacts) -> None:
        self.url = url
        self._api = api
        self._target = target
        self._facts = facts
        self._buffer = bytearray()
        self._parts: list[SentPart] = []
        self._closed = False

    def _send(self, total: int | None) -> None:
        """Send the buffer as the next part."""
        number, size = len(self._parts) + 1, len(self._buffer)
        document = Document(part_file_name(self._target.file_name, number), self._buffer)
        sha256 = hashlib.sha256(self._buffer).hexdigest()
        fields: Fields = {
            "chat_id": self._target.chat_id,
            "caption": caption(self._target.file_name, number, total, size, sha256),
        }
        sent = sent_document(self._api.call("sendDocument", fields, document))
        self._parts.append(
            SentPart(number, document.file_name, size, sha256, sent.message_id, sent.file_id)
        )
        self._buffer = bytearray()
        log.info("sent part %d (%d bytes) to %s", number, size, self.url)

    def write(self, data: bytes) -> None:
        """Buffer `data`; a full part is sent once more bytes follow it."""
        view = memoryview(data)
        while view:
            if len(self._buffer) == self._target.part_size:
                self._send(total=None)
            room = self._target.part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]

    def finish(self) -> None:
        """Send the last part, which knows the count."""
        if self._buffer:
            self._send(total=len(self._parts) + 1)

    def local_copy(self) -> None:
        """No local copy: the stream is verified on its way out."""
        return None

    def commit(self, digest: Digest) -> None:
        """Caption every part with the count, then send the manifest: the artifact exists."""
        name, chat_id, total = self._target.file_name, self._target.chat_id, len(self._parts)
        for part in self._parts[:-1]:
            text = caption(name, part.part, total, part.size_bytes, part.sha256)
            self._api.call(
                "editMessageCaption",
                {"chat_id": chat_id, "message_id": part.message_id, "caption": text},
            )
        body = manifest(name, self._facts, digest, self._parts)
        document = Document(name + MANIFEST_SUFFIX, body)
        text = f"{name}: manifest of {total} parts, {digest.size_bytes} bytes, sha256 "
        reply = self._api.call(
            "sendDocument", {"chat_id": chat_id, "caption": text + digest.sha256}, document
        )
        sent = sent_document(reply)
        self._closed = True
        self.url = TelegramLocation(str(sent.chat_id), sent.message_id).url
        log.info("sent the manifest of %d parts: %s", total, self.url)

    def abort(self) -> None:
        """Delete the parts sent (no-op after commit), best effort; never raises."""
        if self._closed:
            return
        self._closed = True
        for part in self._parts:
            fields: Fields = {"chat_id": self._target.chat_id, "message_id": part.message_id}
            try:
                self._api.call("deleteMessage", fields)
            except RunError as exc:
                log.error("cannot delete part %d (message %d): %s", part.part, part.message_id, exc)
        if self._parts:
            log.info("deleted the %d parts sent to %s", len(self._parts), self.url)

    def download_link(self, seconds: int) -> DownloadLink | None:
        """Telegram download links hold the bot token: none are made."""
        del seconds
        return None
