"""A local stand-in for Telegram's cloud Bot API, on 127.0.0.1, for tests and by hand.

It speaks the protocol the runner and a restore use: `POST /bot<token>/<method>` with JSON,
form or multipart/form-data bodies, or GET with a query (getMe, sendDocument, sendMessage,
editMessageCaption, forwardMessage, deleteMessage, getFile), answering
`{"ok": true, "result": ...}`, and file downloads at `GET /file/bot<token>/<file_path>`.
Its failures are the cloud API's: 401 Unauthorized for a wrong token, 404 for a malformed
path, 413 "Request Entity Too Large" (not JSON) for a document over the upload limit, 400
for getFile over the download limit or unknown messages, 400 "message can't be deleted"
for deleteMessage of a message older than 48 hours (`age` makes one so), and, when switched
on with `rate_limit`, 429 with `parameters.retry_after`.

By hand: ``python -m devenv.telegram_stand_in`` serves one bot (any numeric chat id works)
and prints the runner's settings for it, until Ctrl-C.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from devenv.foreground import serve

MB = 1000 * 1000
_METHOD_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>documents/file_\d+)$")
_DISPOSITION = re.compile(r'(?P<key>name|filename)="(?P<value>[^"]*)"')
USERNAME_CHAT_ID = -1001000000001  # what every @username resolves to
DELETABLE_SECONDS = 48 * 3600  # bots may delete messages only this long after they were sent


@dataclass
class StoredFile:
    """A document as the server keeps it."""

    file_id: str
    file_name: str
    data: bytes

    @property
    def file_path(self) -> str:
        return f"documents/file_{self.file_id.removeprefix('f')}"


@dataclass
class Message:
    """A message in a chat."""

    message_id: int
    chat_id: int
    caption: str | None = None
    text: str | None = None
    document: StoredFile | None = None
    deleted: bool = False
    date: int = field(default_factory=lambda: int(time.time()))

    def wire(self) -> dict[str, Any]:
        """The Message object of the Bot API."""
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": {"id": self.chat_id, "type": "supergroup"},
        }
        if self.caption is not None:
            message["caption"] = self.caption
        if self.text is not None:
            message["text"] = self.text
        if self.document is not None:
            message["document"] = {
                "file_id": self.document.file_id,
                "file_unique_id": "u" + self.document.file_id,
                "file_name": self.document.file_name,
                "file_size": len(self.document.data),
            }
        return message


@dataclass(frozen=True)
class Call:
    """One request as the server answered it."""

    method: str
    status: int
    at: float
    """time.monotonic() when it arrived."""


class ApiError(Exception):
    """A Bot API error reply."""

    def __init__(self, status: int, description: str, **extra: Any) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"ok": False, "error_code": status, "description": description, **extra}


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, StoredFile]]:
    """(fields, files) of a multipart/form-data body."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, str] = {}
    files: dict[str, StoredFile] = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        names = {m["key"]: m["value"] for m in _DISPOSITION.finditer(head.decode())}
        if "filename" in names:
            files[names["name"]] = StoredFile("", names["filename"], content)
        else:
            fields[names["name"]] = content.decode()
    return fields, files


class BotApiStandIn:
    """One bot's Bot API server: `url` is its base URL, `messages` what it holds."""

    def __init__(self, token: str, upload_limit: int = 50 * MB, download_limit: int = 20 * MB):
        self.token = token
        self.upload_limit = upload_limit
        self.download_limit = download_limit
        self.messages: list[Message] = []
        self.calls: list[Call] = []
        self._files: dict[str, StoredFile] = {}
        self._limited: tuple[int, int] = (0, 0)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
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
        return {"id": int(self.token.split(":")[0]), "is_bot": True, "username": "backup_bot"}

    def _chat(self, params: dict[str, str]) -> int:
        chat = params.get("chat_id", "")
        if chat.startswith("@"):
            return USERNAME_CHAT_ID
        if not re.fullmatch(r"-?\d+", chat):
            raise ApiError(400, "Bad Request: chat not found")
        return int(chat)

    def _message(self, params: dict[str, str], action: str) -> Message:
        chat = self._chat(params)
        for message in self.messages:
            wanted = str(message.message_id) == params.get("message_id")
            if wanted and message.chat_id == chat and not message.deleted:
                return message
        raise ApiError(400, f"Bad Request: message to {action} not found")

    def _add(self, message: Message) -> Any:
        self.messages.append(message)
        return message.wire()

    def _sendDocument(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        upload = files.get("document")
        if upload is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if len(upload.data) > self.upload_limit:
            raise ApiError(413, "Request Entity Too Large")
        stored = StoredFile(f"f{len(self._files) + 1}", upload.file_name, upload.data)
        self._files[stored.file_id] = stored
        return self._add(
            Message(len(self.messages) + 1, self._chat(params), params.get("caption"), None, stored)
        )

    def _sendMessage(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        chat = self._chat(params)
        return self._add(Message(len(self.messages) + 1, chat, text=params.get("text", "")))

    def _editMessageCaption(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        message = self._message(params, "edit")
        message.caption = params.get("caption")
        return message.wire()

    def _forwardMessage(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        chat = self._chat(params)
        source = self._message({**params, "chat_id": params.get("from_chat_id", "")}, "forward")
        copy = Message(len(self.messages) + 1, chat, source.caption, source.text, source.document)
        return self._add(copy)

    def _deleteMessage(self, params: dict[str, str], files: dict[str, StoredFile]) -> Any:  # noqa: N802
        message = self._message(params, "delete")
        if time.time() - message.date > DELETABLE_SECONDS:
            raise ApiError(400, "Bad Request: message can't be deleted")
        message.deleted = True
        return True

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], api: BotApiStandIn):
        super().__init__(address, handler)
        self.api = api


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path)
        found = _FILE_PATH.match(path.path)
        if found is None:
            self._call(dict(parse_qsl(path.query)), {})
            return
        data = self.server.api.file(found["token"], found["path"])
        if data is None:
            self._reply(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
        else:
            self._reply(200, data, "application/octet-stream")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        content_type = self.headers.get("Content-Type", "")
        params: dict[str, str] = dict(parse_qsl(urlsplit(self.path).query))
        files: dict[str, StoredFile] = {}
        if content_type.startswith("multipart/form-data"):
            fields, files = parse_multipart(body, content_type)
            params |= fields
        elif content_type.startswith("application/json") and body:
            params |= {key: str(value) for key, value in json.loads(body).items()}
        elif body:
            params |= dict(parse_qsl(body.decode()))
        self._call(params, files)

    def _call(self, params: dict[str, str], files: dict[str, StoredFile]) -> None:
        api = self.server.api
        found = _METHOD_PATH.match(urlsplit(self.path).path)
        arrived = time.monotonic()
        method = found["method"] if found else "?"
        try:
            if found is None:
                raise ApiError(404, "Not Found")
            result = api.answer(method, found["token"], params, files)
            status, body = 200, json.dumps({"ok": True, "result": result}).encode()
        except ApiError as error:
            status, body = error.status, json.dumps(error.body).encode()
        api.record(Call(method, status, arrived))
        if status == 413:  # the cloud API's answer is not JSON
            self._reply(413, b"Request Entity Too Large", "text/plain")
        else:
            self._reply(status, body)


def download(base_url: str, token: str, file_id: str) -> bytes:
    """A document's bytes, fetched as a restore does: getFile, then the file URL."""
    with urllib.request.urlopen(f"{base_url}/bot{token}/getFile?file_id={file_id}") as reply:
        file_path = json.load(reply)["result"]["file_path"]
    with urllib.request.urlopen(f"{base_url}/file/bot{token}/{file_path}") as reply:
        data: bytes = reply.read()
        return data


def reassemble(base_url: str, token: str, artifact_url: str) -> tuple[dict[str, Any], bytes]:
    """(the manifest, the artifact), fetched as the README's restore does: the manifest
    message of `telegram://<chat>/<message id>` forwarded to get its file id, the manifest
    downloaded, then its parts, joined in order."""
    chat, message_id = artifact_url.removeprefix("telegram://").split("/")
    query = urlencode({"chat_id": chat, "from_chat_id": chat, "message_id": message_id})
    with urllib.request.urlopen(f"{base_url}/bot{token}/forwardMessage?{query}") as reply:
        manifest_file_id = json.load(reply)["result"]["document"]["file_id"]
    manifest = json.loads(download(base_url, token, manifest_file_id))
    parts = [download(base_url, token, part["fileId"]) for part in manifest["parts"]]
    return manifest, b"".join(parts)


def main() -> int:
    """Serve a bot with a random token; print the runner's settings for it."""
    token = f"{secrets.randbelow(10**9) + 1}:{secrets.token_urlsafe(24)}"
    api = BotApiStandIn(token).start()
    chat = f"--telegram-chat-id -1001234567890 --telegram-api-url {api.url}"
    args = f"--tenant acme {chat} --telegram-file-name acme.pgdump.zst"
    return serve(api.stop, {"TELEGRAM_BOT_TOKEN": token}, args)


if __name__ == "__main__":
    sys.exit(main())
