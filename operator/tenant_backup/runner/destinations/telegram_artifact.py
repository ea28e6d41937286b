"""A committed Telegram artifact (`telegram://<chat>/<manifest message id>`) read back and
deleted through the Bot API.

- The Bot API cannot read a message by id: the manifest's file id comes from forwarding its
  message into the same chat, which posts a copy; the copy is deleted at once (a copy that
  cannot be is warned about by reads, and reported as left by deletes). The manifest lists
  every part's message id, file id, size and sha256.
- Read: the manifest's sha256 must be the expected one; then one part at a time (getFile,
  then the file's download, in chunks), each checked against the manifest's size and sha256,
  and the whole against the expected sha256. The cloud Bot API lets bots download files of at
  most 20 MB: larger parts need a local Bot API server. A server run with `--local` names
  each file by its absolute path on its own disk and serves no downloads: the file is read
  there, so its `--dir` must be mounted at the same path.
- Delete: the parts' messages, then the manifest's, 100 a call (deleteMessages), so that an
  interrupted delete can be resumed (the manifest still lists the parts). Bots cannot delete
  messages older than 48 hours (nor, in a channel, without the right): the API refuses
  ("message can't be deleted") and the call deletes none, so that batch is deleted one
  message at a time, and the messages refused are reported as left, with its words. Without
  its manifest message the artifact is already gone: parts without one are never a backup.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tenant_backup.api.contract import TelegramLocation
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.base import (
    CHUNK_SIZE,
    DeleteOutcome,
    Leftover,
    checked,
    delete_outcome,
)
from tenant_backup.runner.destinations.bot_api import BotApi, Fields
from tenant_backup.runner.destinations.telegram import (
    MANIFEST_KIND,
    MAX_DELETED_PER_CALL,
    token_from_env,
)
from tenant_backup.runner.errors import RunError

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 8 << 20  # 10,000 parts take about 3 MB
UNDELETABLE = "bots cannot delete messages older than 48 hours, nor without the right to"


@dataclass(frozen=True)
class ManifestPart:
    """One part as the manifest lists it."""

    part: int
    size_bytes: int
    sha256: str
    message_id: int
    file_id: str


@dataclass(frozen=True)
class Manifest:
    """What a manifest says about its artifact."""

    sha256: str
    size_bytes: int
    parts: tuple[ManifestPart, ...]


def parse_manifest(data: bytes, url: str) -> Manifest:
    """The manifest document's content; ArtifactCorrupt if it is not a whole one of ours."""
    try:
        document = json.loads(data)
        if document["kind"] != MANIFEST_KIND:
            raise ValueError(f"kind {str(document['kind'])[:80]!r}")
        parts = tuple(
            ManifestPart(
                int(p["part"]), int(p["sizeBytes"]), str(p["sha256"]), int(p["messageId"]),
                str(p["fileId"]),
            )
            for p in document["parts"]
        )  # fmt: skip
        manifest = Manifest(str(document["sha256"]), int(document["sizeBytes"]), parts)
    except (ValueError, KeyError, TypeError) as exc:
        raise RunError(Reason.ARTIFACT_CORRUPT, f"{url}: not a manifest ({exc})") from None
    numbers = [p.part for p in parts]
    if numbers != list(range(1, len(parts) + 1)):
        raise RunError(Reason.ARTIFACT_CORRUPT, f"{url}: the manifest's parts are {numbers}")
    if sum(p.size_bytes for p in parts) != manifest.size_bytes:
        raise RunError(Reason.ARTIFACT_CORRUPT, f"{url}: the manifest's sizes do not add up")
    return manifest


def _field(reply: Any, *path: str) -> Any:
    """`reply[path[0]][path[1]]...`, or None."""
    for key in path:
        reply = reply.get(key) if isinstance(reply, dict) else None
    return reply


class TelegramArtifact:
    """A manifest message and the part messages it lists."""

    @classmethod
    def connect(
        cls, location: TelegramLocation, api_url: str, sleep: Callable[[float], None]
    ) -> TelegramArtifact:
        """The artifact, reached with the environment's bot token; `sleep` waits out rate
        limits."""
        if location.message_id is None:
            raise RunError(Reason.VALIDATION_FAILED, f"{location.url}: no manifest message id")
        return cls(BotApi(api_url, token_from_env(), sleep), location.chat_id, location.message_id)

    def __init__(self, api: BotApi, chat_id: str, message_id: int) -> None:
        self.url = TelegramLocation(chat_id, message_id).url
        self._api = api
        self._chat = chat_id
        self._message_id = message_id

    @contextlib.contextmanager
    def open_reader(self, expected_sha256: str, chunk_size: int) -> Iterator[Iterator[bytes]]:
        """The parts' bytes in order, in chunks, checked against the manifest and
        `expected_sha256`."""
        file_id, copy_left = self._forward()
        if copy_left:
            log.warning("left %s: %s", *copy_left)
        manifest = self._manifest(file_id)
        if manifest.sha256 != expected_sha256:
            raise RunError(
                Reason.ARTIFACT_CORRUPT,
                f"{self.url}: the manifest says sha256 {manifest.sha256[:64]}, "
                f"expected {expected_sha256}",
            )
        parts = self._parts(manifest, chunk_size)
        chunks = checked(parts, expected_sha256, self.url, manifest.size_bytes)
        with contextlib.closing(chunks):
            yield chunks

    def _parts(self, manifest: Manifest, chunk_size: int) -> Iterator[bytes]:
        for part in manifest.parts:
            what = f"part {part.part} of {self.url}"
            file_chunks = self._download(part.file_id, chunk_size, what)
            yield from checked(file_chunks, part.sha256, what, part.size_bytes)

    def _download(self, file_id: str, chunk_size: int, what: str) -> Iterator[bytes]:
        file_path = _field(self._api.call("getFile", {"file_id": file_id}), "file_path")
        if not isinstance(file_path, str):
            raise RunError(Reason.DESTINATION_UNAVAILABLE, f"getFile of {what}: no file path")
        if file_path.startswith("/"):
            return self._api.read_local(file_path, chunk_size)
        return self._api.download(file_path, chunk_size)

    def _forward(self) -> tuple[str, Leftover | None]:
        """The manifest's file id, learnt by forwarding its message, and what is left of the
        copy that made (deleted at once, best effort); ArtifactNotFound if there is no such
        message."""
        fields: Fields = {
            "chat_id": self._chat,
            "from_chat_id": self._chat,
            "message_id": self._message_id,
            "disable_notification": True,
        }
        reply = self._api.call("forwardMessage", fields)
        copy = _field(reply, "message_id")
        copy_left = self._delete_copy(copy) if isinstance(copy, int) else None
        file_id, size = _field(reply, "document", "file_id"), _field(reply, "document", "file_size")
        if not isinstance(file_id, str):
            raise RunError(Reason.ARTIFACT_CORRUPT, f"{self.url}: the message is no document")
        if isinstance(size, int) and size > MAX_MANIFEST_BYTES:
            raise RunError(Reason.ARTIFACT_CORRUPT, f"{self.url}: a {size}-byte document")
        return file_id, copy_left

    def _delete_copy(self, message_id: int) -> Leftover | None:
        what = f"message {message_id} (a forwarded copy of the manifest)"
        try:
            return self._delete_message(message_id, what)
        except RunError as exc:
            return Leftover(what, exc.message)

    def _manifest(self, file_id: str) -> Manifest:
        """The manifest document, downloaded and parsed."""
        data = bytearray()
        for chunk in self._download(file_id, CHUNK_SIZE, f"the manifest of {self.url}"):
            data += chunk
            if len(data) > MAX_MANIFEST_BYTES:
                raise RunError(Reason.ARTIFACT_CORRUPT, f"{self.url}: the manifest is too big")
        return parse_manifest(bytes(data), self.url)

    def delete(self) -> DeleteOutcome:
        """Delete the parts' messages, then the manifest's; the ones the API refuses to
        delete are left, and said so."""
        try:
            file_id, copy_left = self._forward()
        except RunError as exc:
            if exc.reason is Reason.ARTIFACT_NOT_FOUND:
                return delete_outcome(removed=False)
            raise
        manifest = self._manifest(file_id)
        messages = [
            (p.message_id, f"message {p.message_id} (part {p.part})") for p in manifest.parts
        ]
        messages.append((self._message_id, f"message {self._message_id} (the manifest)"))
        left = [copy_left] if copy_left else []
        for start in range(0, len(messages), MAX_DELETED_PER_CALL):
            left += self._delete_batch(messages[start : start + MAX_DELETED_PER_CALL])
        log.info("deleted %s: %d of %d messages left", self.url, len(left), len(messages))
        return delete_outcome(True, left)

    def _delete_batch(self, messages: list[tuple[int, str]]) -> list[Leftover]:
        """Delete up to 100 messages in one call; if the API refuses, one at a time, to learn
        which are left."""
        ids = [message_id for message_id, _ in messages]
        try:
            self._api.call("deleteMessages", {"chat_id": self._chat, "message_ids": ids})
        except RunError as exc:
            if exc.reason is not Reason.PERMISSION_DENIED:
                raise
            found = (self._delete_message(message_id, what) for message_id, what in messages)
            return [leftover for leftover in found if leftover]
        return []

    def _delete_message(self, message_id: int, what: str) -> Leftover | None:
        """Delete one message (gone already is fine): what is left of it, and why."""
        try:
            self._api.call("deleteMessage", {"chat_id": self._chat, "message_id": message_id})
        except RunError as exc:
            if exc.reason is Reason.ARTIFACT_NOT_FOUND:
                return None
            if exc.reason is Reason.PERMISSION_DENIED:
                return Leftover(what, f"{exc.message} ({UNDELETABLE})")
            raise
        return None
