"""The follow-ups of an outcome: the notifications the spec asks for, and what status records
of them and of the history database."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from tenant_backup.api.attempts import AttemptStatus, Phase, Text
from tenant_backup.api.base import ApiModel
from tenant_backup.api.references import HTTP_URL, SecretReference

EMAIL_ADDRESS = r"^[^@\s<>]+@[^@\s<>]+$"


class NotifyOn(StrEnum):
    """Outcomes that can be notified."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class SmtpTls(StrEnum):
    """How the SMTP connection is secured."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class EmailNotification(ApiModel):
    """An email through an SMTP relay."""

    to: Annotated[
        list[Annotated[str, Field(max_length=254, pattern=EMAIL_ADDRESS)]],
        Field(min_length=1, max_length=20),
    ]
    """Recipients."""
    smtp_secret_ref: SecretReference
    """Secret with keys `host` and `from`, and optionally `port` (default by `tls`: 587, 465
    or 25), `username` and `password`."""
    tls: SmtpTls = SmtpTls.STARTTLS
    """`starttls` (upgrade a plain connection), `tls` (TLS from the start) or `none`; the
    server certificate is verified for the first two."""


class WebhookNotification(ApiModel):
    """A signed JSON POST."""

    url: Annotated[str, Field(max_length=2048, pattern=HTTP_URL)]
    """Receiver URL, http or https."""
    secret_ref: SecretReference
    """Secret with key `hmacKey`: the body is signed with HMAC-SHA256, sent as header
    `X-TenantBackup-Signature: sha256=<hex>`."""
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    """Timeout of each delivery attempt."""


class Notifications(ApiModel):
    """Who hears about the final outcome, and how; each channel is sent at most once."""

    on: Annotated[
        list[NotifyOn],
        Field(min_length=1, max_length=2, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ] = Field(default=[NotifyOn.SUCCEEDED, NotifyOn.FAILED])
    """Outcomes to notify; default both."""
    email: EmailNotification | None = None
    webhook: WebhookNotification | None = None


class Channel(StrEnum):
    """A notification channel."""

    EMAIL = "Email"
    WEBHOOK = "Webhook"


class DeliveryState(StrEnum):
    """Where one notification is; `Sending` is written before sending (at-most-once)."""

    SENDING = "Sending"
    SENT = "Sent"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"
    """The operator stopped while sending: it may or may not have arrived; not re-sent."""


class Delivery(ApiModel):
    """One channel's notification of the outcome."""

    channel: Channel
    state: DeliveryState
    message: Text = ""
    time: datetime


class HistoryMark(ApiModel):
    """The object's state as last written to the history database."""

    phase: Phase
    attempts: int
    finished_attempts: int


class FollowUpStatus(AttemptStatus):
    """The status of a kind whose outcome is recorded in the history database and notified."""

    history: HistoryMark | None = None
    """What the history database holds of this object, when history is enabled."""
    notifications: Annotated[list[Delivery], Field(max_length=len(Channel))] = Field(
        default_factory=list
    )
    """The outcome's notifications, one per channel."""
