"""The Bot API stand-in's wire: the objects it keeps and sends (files, messages), the
requests it parses (query, form, JSON, multipart/form-data) and the HTTP server answering
them."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from devenv.telegram_chats import ApiError

_METHOD_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>documents/file_\d+)$")
_DISPOSITION = re.compile(r'(?P<key>name|filename)="(?P<value>[^"]*)"')


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
    chat_type: str = "supergroup"
    options: frozenset[str] = frozenset()
    """The boolean options sent true (e.g. `disable_notification`)."""

    def wire(self) -> dict[str, Any]:
        """The Message object of the Bot API."""
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": {"id": self.chat_id, "type": self.chat_type},
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
    chat: str | None = None
    """Its `chat_id`, as sent."""


def to_bool(value: str | None) -> bool:
    """A boolean parameter as the server reads it."""
    return value in ("true", "yes", "1")


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


class Answering(Protocol):
    """The server behind the HTTP side."""

    def answer(
        self, method: str, token: str, params: dict[str, str], files: dict[str, StoredFile]
    ) -> Any:
        """The result of one method call, or ApiError."""

    def record(self, call: Call) -> None:
        """Note a request and its answer."""

    def file(self, token: str, path: str) -> bytes | None:
        """The bytes at a file path, for the download URL with `token`."""


class Server(ThreadingHTTPServer):
    """The HTTP side of `api`, on `address`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Answering):
        super().__init__(address, _Handler)
        self.api = api


class _Handler(BaseHTTPRequestHandler):
    server: Server

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
            values = json.loads(body).items()
            params |= {k: v if isinstance(v, str) else json.dumps(v) for k, v in values}
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
        api.record(Call(method, status, arrived, params.get("chat_id")))
        self._reply(status, body)
