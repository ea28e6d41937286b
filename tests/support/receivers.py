"""Real notification receivers for tests: an SMTP server (aiosmtpd, optionally STARTTLS
and AUTH), an HTTP server recording webhook POSTs (or redirecting them), and a TCP listener
recording connections, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from devenv.processes import free_port


def self_signed_certificate(directory: Path, name: str = "IP:127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `name` (a subjectAltName) and its key (also the CA to trust)."""
    stem = name.replace(":", "-")
    cert, key = directory / f"{stem}-cert.pem", directory / f"{stem}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=tenant-backup-test",
         "-addext", f"subjectAltName={name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class Mail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None
    tls: bool


class SmtpReceiver:
    """An SMTP server collecting messages; with `cert`, STARTTLS is required (or, if
    `implicit_tls`, TLS from the first byte), and with `login`, AUTH with exactly that login
    is required too."""

    def __init__(
        self,
        cert: tuple[Path, Path] | None = None,
        login: tuple[str, str] | None = None,
        implicit_tls: bool = False,
    ):
        self.mails: list[Mail] = []
        self.port = free_port()
        self._login = login
        params: dict[str, Any] = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, cert))
            if implicit_tls:
                params.update(ssl_context=context)
            else:
                params.update(tls_context=context, require_starttls=True)
        if login is not None:
            params.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **params)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._login == (
            data.login.decode(),
            data.password.decode(),
        )
        if not ok:
            return AuthResult(success=False, handled=False)  # aiosmtpd then answers 535
        return AuthResult(success=True, auth_data=data.login.decode())

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """aiosmtpd's hook: keep the message."""
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.mails.append(
            Mail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message_from_bytes(content, policy=policy.default),
                login=session.auth_data if isinstance(session.auth_data, str) else None,
                tls=session.ssl is not None,
            )
        )
        return "250 OK"

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()


@dataclass(frozen=True)
class Hook:
    """One POST as the webhook receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def signed_with(self, key: bytes) -> bool:
        """Whether the signature header is HMAC-SHA256 of the body under `key`."""
        expected = "sha256=" + hmac.new(key, self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-tenantbackup-signature", ""), expected)


class WebhookReceiver:
    """An HTTP server answering every POST with `status` (after `delay` seconds), on `host`;
    with `location`, a redirect there; with `cert`, HTTPS."""

    def __init__(
        self,
        status: int = 200,
        delay: float = 0.0,
        host: str = "127.0.0.1",
        location: str | None = None,
        cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.status, self.delay, self.location = status, delay, location
        self.hooks: list[Hook] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.hooks.append(Hook(self.path, headers, body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.scheme = "http"
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, cert))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.host, self.port = host, self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to POST (with a path that must not show in status or Events)."""
        return self.url_via(self.host)

    def url_via(self, name: str) -> str:
        """The URL with `name` for the host."""
        return f"{self.scheme}://{name}:{self.port}/hooks/secret-token"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class ConnectionRecorder:
    """A TCP listener on `host` that accepts, records the peer and closes: proof that nothing
    connected to an address (or that something did)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.peers: list[str] = []
        self._socket = socket.create_server((host, 0))
        self._socket.settimeout(0.1)
        self.host, self.port = host, self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, peer = self._socket.accept()
            except TimeoutError:
                continue
            self.peers.append(str(peer[0]))
            connection.close()

    def __enter__(self) -> ConnectionRecorder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()
