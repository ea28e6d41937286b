"""A local stand-in for Telegram's cloud Bot API, on 127.0.0.1, for tests and by hand.

It speaks the protocol the runner and a restore use: `POST /bot<token>/<method>` with JSON,
form or multipart/form-data bodies, or GET with a query (getMe, getChat, getChatMember,
sendChatAction, sendDocument, sendMessage, forwardMessage, deleteMessage, deleteMessages,
getFile), answering `{"ok": true, "result": ...}`, and file downloads at
`GET /file/bot<token>/<file_path>`. Values are read as the server reads them: JSON values
as their JSON text, booleans true only as `true`, `yes` or `1` (`Client::to_bool`).

Its failures are the cloud API's: 401 Unauthorized for a wrong token, 404 for a malformed
path, 413 "Request Entity Too Large" for a document over the upload limit (JSON, like every
cloud reply), 400 for getFile over the download limit or unknown messages, 400 "message
can't be deleted" for messages older than 48 hours (`age` makes one so; deleteMessages then
deletes none of its batch: the stand-in's assumption, the conservative one), the chats'
refusals, migrations and flood control of `telegram_chats` (`chat` sets a chat up), and,
injected with `rate_limit`, 429 with `parameters.retry_after` for the next calls.

By hand: ``python -m devenv.telegram_stand_in`` serves one bot (any numeric chat id works)
and prints the runner's settings for it, until Ctrl-C.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from typing import Any

from devenv.foreground import serve
from devenv.telegram_chats import ApiError, ChatState, FloodLimits, chat_key
from devenv.telegram_wire import Call, Message, Server, StoredFile, to_bool

MB = 1000 * 1000
MAX_DELETED_PER_CALL = 100
DELETABLE_SECONDS = 48 * 3600  # bots may delete messages only this long after they were sent


class BotApiStandIn:
    """One bot's Bot API server: `url` is its base URL, `messages` what it holds."""

    def __init__(
        self,
        token: str,
        upload_limit: int = 50 * MB,
        download_limit: int = 20 * MB,
        flood: FloodLimits | None = None,
    ):
        """`flood`: the flood limits (the real ones by default)."""
        self.token = token
        self.upload_limit = upload_limit
        self.download_limit = download_limit
        self.flood = flood or FloodLimits()
        self.messages: list[Message] = []
        self.calls: list[Call] = []
        self.chats: dict[int, ChatState] = {}
        self._files: dict[str, StoredFile] = {}
        self._limited: tuple[int, int] = (0, 0)
        self._lock = threading.Lock()
        self._server = Server(("127.0.0.1", 0), self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> BotApiStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rate_limit(self, calls: int, retry_after: int) -> None:
        """Answer the next `calls` method calls with 429 and `retry_after`."""
        with self._lock:
            self._limited = (calls, retry_after)

    def record(self, call: Call) -> None:
        """Note a request and its answer."""
        with self._lock:
            self.calls.append(call)

    def age(self, message_id: int, hours: float) -> None:
        """Make message `message_id` as if it had been sent `hours` earlier."""
        with self._lock:
            for message in self.messages:
                if message.message_id == message_id:
                    message.date -= int(hours * 3600)

    def chat(self, chat_id: int) -> ChatState:
        """Chat `chat_id`, known from its id alone until set up otherwise."""
        with self._lock:
            return self._known(chat_id)

    def _known(self, chat_id: int) -> ChatState:
        return self.chats.setdefault(chat_id, ChatState.of(chat_id))

    def live(self) -> list[Message]:
        """The messages not deleted."""
        with self._lock:
            return [m for m in self.messages if not m.deleted]

    # --- the protocol -----------------------------------------------------------------------

    def answer(
        self, method: str, token: str, params: dict[str, str], files: dict[str, StoredFile]
    ) -> Any:
        """The result of one method call, or ApiError."""
        with self._lock:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            calls, retry_after = self._limited
            if calls > 0:
                self._limited = (calls - 1, retry_after)
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    parameters={"retry_after": retry_after},
                )
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            return handler(params, files)

    def _getMe(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        return {"id": self._bot_id(), "is_bot": True, "username": "backup_bot"}

    def _bot_id(self) -> int:
        return int(self.token.split(":")[0])

    def _chat(self, params: dict[str, str]) -> ChatState:
        return self._known(chat_key(params.get("chat_id", "")))

    def _getChat(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        chat = self._chat(params)
        chat.check_read()
        return chat.wire()

    def _getChatMember(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        chat = self._chat(params)
        chat.check_read()
        if params.get("user_id") != str(self._bot_id()):
            raise ApiError(400, "Bad Request: user not found")
        return chat.member(self._bot_id())

    def _sendChatAction(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        self._chat(params).check_send()
        return True

    def _message(self, params: dict[str, str], action: str) -> Message:
        chat = self._chat(params)
        for message in self.messages:
            wanted = str(message.message_id) == params.get("message_id")
            if wanted and message.chat_id == chat.id and not message.deleted:
                return message
        raise ApiError(400, f"Bad Request: message to {action} not found")

    def _send(self, params: dict[str, str], made: Message) -> Any:
        """Post `made` to the chat of `params`, if the chat and its flood limits allow."""
        chat = self._chat(params)
        chat.check_send()
        now = time.monotonic()
        chat.flood_wait(now, self.flood)
        chat.note_sent(now)
        made.message_id, made.chat_id, made.chat_type = len(self.messages) + 1, chat.id, chat.type
        made.options = frozenset(key for key, value in params.items() if to_bool(value))
        self.messages.append(made)
        return made.wire()

    def _sendDocument(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        upload = files.get("document")
        if upload is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if len(upload.data) > self.upload_limit:
            raise ApiError(413, "Request Entity Too Large")
        stored = StoredFile(f"f{len(self._files) + 1}", upload.file_name, upload.data)
        sent = self._send(params, Message(0, 0, params.get("caption"), None, stored))
        self._files[stored.file_id] = stored
        return sent

    def _sendMessage(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        return self._send(params, Message(0, 0, text=params.get("text", "")))

    def _forwardMessage(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        source = self._message({**params, "chat_id": params.get("from_chat_id", "")}, "forward")
        copy = Message(0, 0, source.caption, source.text, source.document)
        return self._send(params, copy)

    def _deleteMessage(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        self._chat(params).check_write()
        self._delete([self._message(params, "delete")])
        return True

    def _deleteMessages(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        chat = self._chat(params)
        chat.check_write()
        try:
            ids = json.loads(params.get("message_ids", ""))
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse message_ids JSON object") from None
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        if len(ids) > MAX_DELETED_PER_CALL:
            raise ApiError(400, "Bad Request: too many message identifiers specified")
        wanted = {str(i) for i in ids}
        found = [
            m
            for m in self.messages
            if m.chat_id == chat.id and str(m.message_id) in wanted and not m.deleted
        ]  # the ones not found are skipped
        self._delete(found)
        return True

    def _delete(self, messages: list[Message]) -> None:
        """Delete all of `messages`, or none if one is too old to."""
        if any(time.time() - m.date > DELETABLE_SECONDS for m in messages):
            raise ApiError(400, "Bad Request: message can't be deleted")
        for message in messages:
            message.deleted = True

    def _getFile(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        stored = self._files.get(params.get("file_id", ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > self.download_limit:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": "u" + stored.file_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def file(self, token: str, path: str) -> bytes | None:
        """The bytes at a file path, for the download URL with `token`."""
        with self._lock:
            if token != self.token:
                return None
            found = [f for f in self._files.values() if f.file_path == path]
            return found[0].data if found else None


def main() -> int:
    """Serve a bot with a random token; print the runner's settings for it."""
    token = f"{secrets.randbelow(10**9) + 1}:{secrets.token_urlsafe(24)}"
    api = BotApiStandIn(token).start()
    chat = f"--telegram-chat-id -1001234567890 --telegram-api-url {api.url}"
    args = f"--tenant acme {chat} --telegram-file-name acme.pgdump.zst"
    return serve(api.stop, {"TELEGRAM_BOT_TOKEN": token}, args)


if __name__ == "__main__":
    sys.exit(main())
