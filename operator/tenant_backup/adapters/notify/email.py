"""SMTP at the edge: one plain-text message to the backup's recipients."""

import contextlib
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

from tenant_backup.adapters.notify.retry import DeliveryError
from tenant_backup.api import kinds
from tenant_backup.api.notifications import SmtpTls
from tenant_backup.backup.notice import Notice

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


def send_email(server: SmtpServer, to: Sequence[str], notice: Notice, timeout: float) -> str:
    """Send the notice; what happened, or a DeliveryError (retryable for 4xx and network)."""
    where = f"{server.host}:{server.port}"
    context = ssl.create_default_context()
    try:
        smtp = (
            smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
            if server.tls is SmtpTls.TLS
            else smtplib.SMTP(server.host, server.port, timeout=timeout)
        )
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
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryError(f"{where} refused every recipient", retryable=False) from error
    except smtplib.SMTPResponseException as error:
        raw = error.smtp_error
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        raise DeliveryError(
            f"{where} answered {error.smtp_code}: {text}", retryable=400 <= error.smtp_code < 500
        ) from error
    except ssl.SSLError as error:
        raise DeliveryError(f"{where}: TLS failed: {error.reason}", retryable=False) from error
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"{where}: {error}", retryable=True) from error
    accepted = len(to) - len(refused)
    note = f"; refused: {', '.join(sorted(refused))}" if refused else ""
    return f"sent to {accepted} recipient(s) via {where}{note}"
