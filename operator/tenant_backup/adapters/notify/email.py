"""SMTP at the edge: one plain-text message to the backup's recipients, through the
outbound gate."""

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

from tenant_backup.adapters import outbound
from tenant_backup.adapters.notify.retry import DeliveryError
from tenant_backup.api import kinds
from tenant_backup.api.notifications import SmtpTls
from tenant_backup.core.egress import EgressPolicy
from tenant_backup.core.notice import Notice

DEFAULT_PORTS = {SmtpTls.STARTTLS: 587, SmtpTls.TLS: 465, SmtpTls.NONE: 25}


@dataclass(frozen=True)
class SmtpServer:
    """A relay and the login for it, from the SMTP Secret."""

    host: str
    port: int
    sender: str
    tls: SmtpTls
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def smtp_server(secret: Mapping[str, str], tls: SmtpTls) -> SmtpServer:
    """The relay a Secret describes; a DeliveryError names what is wrong with it."""
    missing = [key for key in ("host", "from") if not secret.get(key)]
    if bool(secret.get("username")) != bool(secret.get("password")):
        missing.append("password" if secret.get("username") else "username")
    if missing:
        raise DeliveryError(f"the SMTP Secret lacks: {', '.join(missing)}", retryable=False)
    port = secret.get("port") or str(DEFAULT_PORTS[tls])
    if not port.isdigit():
        raise DeliveryError("the SMTP Secret's port is not a number", retryable=False)
    return SmtpServer(
        host=secret["host"],
        port=int(port),
        sender=secret["from"],
        tls=tls,
        username=secret.get("username") or None,
        password=secret.get("password") or None,
    )


def compose(server: SmtpServer, to: Sequence[str], notice: Notice) -> EmailMessage:
    """The message; its Message-ID is the notice's delivery id, the same for every copy."""
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = server.sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{notice.delivery_id}@{kinds.GROUP}>"
    message.set_content(notice.text)
    return message


class _PinnedSMTP(smtplib.SMTP):
    """SMTP to a checked address; TLS (STARTTLS, or implicit in the subclass below) verifies
    the certificate against the host name, smtplib's `_host` (set by `_open`)."""

    destination: outbound.Destination
    _host: str  # smtplib's own attribute, which its __init__ sets only when it connects

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        """smtplib's hook for the connection: the checked address, never `host` again."""
        return outbound.connect(self.destination, timeout)


class _PinnedSMTPS(smtplib.SMTP_SSL, _PinnedSMTP):
    """Implicit TLS to a checked address (SMTP_SSL wraps the socket `_PinnedSMTP` opens)."""


def _open(
    destination: outbound.Destination, tls: SmtpTls, timeout: float, context: ssl.SSLContext
) -> smtplib.SMTP:
    """A session with the relay at the checked address, its greeting read."""
    smtp: _PinnedSMTP = (
        _PinnedSMTPS(timeout=timeout, context=context)
        if tls is SmtpTls.TLS
        else _PinnedSMTP(timeout=timeout)
    )
    smtp.destination, smtp._host = destination, destination.host
    try:
        code, message = smtp.connect(destination.host, destination.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, message)
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_email(
    server: SmtpServer,
    to: Sequence[str],
    notice: Notice,
    timeout: float,
    policy: EgressPolicy,
    resolve: outbound.Resolver = outbound.system_resolver,
) -> str:
    """Send the notice; what happened, or a DeliveryError (retryable for 4xx and network,
    never for a refused destination)."""
    where = f"{server.host}:{server.port}"
    try:
        refused = _send(
            outbound.check(server.host, server.port, policy, resolve), server, to, notice, timeout
        )
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryError(f"{where} refused every recipient", retryable=False) from error
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(
            f"{where} answered SMTP {error.smtp_code}", retryable=400 <= error.smtp_code < 500
        ) from error
    except smtplib.SMTPNotSupportedError as error:
        raise DeliveryError(
            f"{where} lacks a required extension (STARTTLS or AUTH)", retryable=False
        ) from error
    except smtplib.SMTPException as error:
        raise DeliveryError(f"{where}: not an SMTP answer", retryable=True) from error
    except (outbound.DestinationNotAllowedError, outbound.NameNotResolvedError, OSError) as error:
        text, retryable = outbound.failure_text(error)
        raise DeliveryError(f"{where}: {text}", retryable=retryable) from error
    accepted = len(to) - len(refused)
    note = f"; refused: {', '.join(sorted(refused))}" if refused else ""
    return f"sent to {accepted} recipient(s) via {where}{note}"


def _send(
    destination: outbound.Destination,
    server: SmtpServer,
    to: Sequence[str],
    notice: Notice,
    timeout: float,
) -> dict[str, tuple[int, bytes]]:
    """One SMTP session to the checked destination; the recipients refused."""
    context = ssl.create_default_context()
    smtp = _open(destination, server.tls, timeout, context)
    try:
        if server.tls is SmtpTls.STARTTLS:
            smtp.starttls(context=context)
        if server.username and server.password:
            smtp.login(server.username, server.password)
        refused = smtp.send_message(compose(server, to, notice))
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()  # sent already: a failing goodbye changes nothing
    finally:
        smtp.close()  # no QUIT after an error: it could wait for a broken peer
    return refused
