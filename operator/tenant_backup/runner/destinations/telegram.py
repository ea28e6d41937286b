"""Telegram through the Bot API: the artifact streams out as documents (sendDocument) of at
most the part size, and is complete only once a manifest document follows them.

- Memory: one part. At commit the manifest (`<file>.manifest.json`) lists every part's size
  and SHA-256 with the artifact's. Only the manifest's message makes the artifact: its id is
  in the artifact URL, `telegram://<chat id>/<manifest message id>`.
- Before pg_dump starts, the token and the bot's right to post in the chat are checked
  (`telegram_chat`); the chat's type sets the pace of the sends (`bot_api_limits`).
- Every document is sent silently (`disable_notification`) and as a document, whatever its
  bytes look like (`disable_content_type_detection`).
- Failure or interruption: no manifest is sent, and the parts already sent are deleted
  (deleteMessages, 100 a call), best effort: a bot may not be allowed to delete them
  (channels without the right, messages over 48 hours old), and a part whose upload was cut
  off mid-reply is unknown to us. Parts without a manifest are never a backup.

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
from tenant_backup.runner.destinations.base import ArtifactFacts, Digest, DownloadLink, Throttled
from tenant_backup.runner.destinations.bot_api import BotApi, Document, Fields
from tenant_backup.runner.destinations.bot_api_limits import WaitBudget, chat_limits
from tenant_backup.runner.destinations.telegram_chat import writable_chat
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import TelegramTarget

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "TELEGRAM_BOT_TOKEN"  # noqa: S105 (a variable name)
_TOKEN = re.compile(r"[A-Za-z0-9:_-]{1,200}")
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_KIND = "tenant-backup-telegram-manifest/v1"
MAX_DELETED_PER_CALL = 100  # deleteMessages' limit
# Sent with every document: no notification for the chat's members, and a document comes
# back as a document (not, say, a video because its first bytes look like one).
QUIET_DOCUMENT: Fields = {"disable_notification": True, "disable_content_type_detection": True}


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


def caption(file_name: str, part: int, size: int, sha256: str) -> str:
    """A part's caption (the count is the manifest's)."""
    return f"{file_name} part {part}, {size} bytes, sha256 {sha256}"


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
        **_encryption(file_name, facts),
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


def _encryption(file_name: str, facts: ArtifactFacts) -> dict[str, Any]:
    """An encrypted artifact's entries of the manifest: to whom, and how to decrypt it."""
    if facts.encryption is None:
        return {}
    return {
        "encryption": {"scheme": facts.encryption, "recipients": list(facts.recipients)},
        "decrypt": f"age -d -i <identity file> {file_name} > {file_name.removesuffix('.age')}",
    }


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
        """Check that the environment's bot token may post documents to the chat, and get
        ready to send; `sleep` waits for the chat's rate limits."""
        budget = WaitBudget(target.max_rate_limit_wait_seconds)
        api = BotApi(target.api_url, token_from_env(), sleep, budget)
        chat = writable_chat(api, target.chat_id)
        api.pace(chat_limits(chat.type))
        log.info("sending to %s %s in parts of at most %d bytes", chat.type, url, target.part_size)
        return cls(api, target, url, facts)

    def __init__(self, api: BotApi, target: TelegramTarget, url: str, facts: ArtifactFacts) -> None:
        self.url = url
        self._api = api
        self._target = target
        self._facts = facts
        self._buffer = bytearray()
        self._parts: list[SentPart] = []
        self._closed = False

    def _send(self) -> None:
        """Send the buffer as the next part."""
        number, size = len(self._parts) + 1, len(self._buffer)
        document = Document(part_file_name(self._target.file_name, number), self._buffer)
        sha256 = hashlib.sha256(self._buffer).hexdigest()
        text = caption(self._target.file_name, number, size, sha256)
        sent = self._send_document(text, document)
        self._parts.append(
            SentPart(number, document.file_name, size, sha256, sent.message_id, sent.file_id)
        )
        self._buffer = bytearray()
        log.info("sent part %d (%d bytes) to %s", number, size, self.url)

    def _send_document(self, text: str, document: Document) -> SentDocument:
        fields: Fields = {"chat_id": self._target.chat_id, "caption": text, **QUIET_DOCUMENT}
        return sent_document(self._api.call("sendDocument", fields, document))

    def write(self, data: bytes) -> None:
        """Buffer `data`; a full part is sent once more bytes follow it."""
        view = memoryview(data)
        while view:
            if len(self._buffer) == self._target.part_size:
                self._send()
            room = self._target.part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]

    def finish(self) -> None:
        """Send the last part."""
        if self._buffer:
            self._send()

    def local_copy(self) -> None:
        """No local copy: the stream is verified on its way out."""
        return None

    def commit(self, digest: Digest) -> None:
        """Send the manifest: the artifact exists."""
        name, total = self._target.file_name, len(self._parts)
        body = manifest(name, self._facts, digest, self._parts)
        document = Document(name + MANIFEST_SUFFIX, body)
        text = f"{name}: manifest of {total} parts, {digest.size_bytes} bytes, sha256 "
        sent = self._send_document(text + digest.sha256, document)
        self._closed = True
        self.url = TelegramLocation(str(sent.chat_id), sent.message_id).url
        log.info("sent the manifest of %d parts: %s", total, self.url)

    def abort(self) -> None:
        """Delete the parts sent (no-op after commit), best effort; never raises."""
        if self._closed:
            return
        self._closed = True
        for start in range(0, len(self._parts), MAX_DELETED_PER_CALL):
            batch = self._parts[start : start + MAX_DELETED_PER_CALL]
            ids = [part.message_id for part in batch]
            try:
                self._api.call(
                    "deleteMessages", {"chat_id": self._target.chat_id, "message_ids": ids}
                )
            except RunError as exc:
                log.error("cannot delete parts %d-%d: %s", batch[0].part, batch[-1].part, exc)
                continue
            log.info("deleted the %d parts sent to %s", len(batch), self.url)

    def throttled(self) -> Throttled:
        """The time the sends waited for the chat's rate limits."""
        return Throttled(self._api.paced_seconds, self._api.budget.spent)

    def download_link(self, seconds: int) -> DownloadLink | None:
        """Telegram download links hold the bot token: none are made."""
        del seconds
        return None
