"""One channel's notification of a backup's outcome: its Secret read, sent with retries,
and the result as a status Delivery. Never raises for a delivery problem."""

import logging
from collections.abc import Callable
from datetime import datetime

from tenant_backup.adapters import outbound
from tenant_backup.adapters.kube import Kube, KubeError
from tenant_backup.adapters.notify.email import send_email, smtp_server
from tenant_backup.adapters.notify.retry import DeliveryError, with_retries
from tenant_backup.adapters.notify.webhook import post_webhook
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.notifications import Channel, Delivery, DeliveryState
from tenant_backup.backup.notice import Notice, notice_for
from tenant_backup.settings import Settings

HMAC_KEY = "hmacKey"
log = logging.getLogger(__name__)


def deliver(
    kube: Kube,
    settings: Settings,
    backup: TenantBackup,
    channel: Channel,
    clock: Callable[[], datetime],
) -> Delivery:
    """Send the backup's outcome on `channel`; `Sent`, or `Failed` with a safe message."""
    try:
        send = _sender(kube, settings, backup, channel, notice_for(backup))
        message = with_retries(send, settings.notify_attempts, settings.notify_backoff_seconds)
        state = DeliveryState.SENT
    except DeliveryError as error:
        message, state = str(error), DeliveryState.FAILED
        meta = backup.metadata
        log.warning("%s of %s/%s failed: %s", channel, meta.namespace, meta.name, message)
    return Delivery(channel=channel, state=state, message=message, time=clock())


def _sender(
    kube: Kube, settings: Settings, backup: TenantBackup, channel: Channel, notice: Notice
) -> Callable[[], str]:
    """A function sending `notice` once on `channel`, its configuration read beforehand."""
    wanted = backup.spec.notifications
    policy = outbound.policy_of(settings)
    if channel is Channel.EMAIL and wanted.email is not None:
        email = wanted.email
        server = smtp_server(_secret(kube, backup, email.smtp_secret_ref.name), email.tls)
        timeout = settings.smtp_timeout_seconds
        return lambda: send_email(server, email.to, notice, timeout, policy)
    if channel is Channel.WEBHOOK and wanted.webhook is not None:
        webhook = wanted.webhook
        key = _secret(kube, backup, webhook.secret_ref.name).get(HMAC_KEY)
        if not key:
            raise DeliveryError(
                f"Secret {webhook.secret_ref.name} lacks the key {HMAC_KEY}", retryable=False
            )
        return lambda: post_webhook(
            webhook.url, key.encode(), notice, webhook.timeout_seconds, policy
        )
    raise DeliveryError(f"{channel.value} is not configured", retryable=False)


def _secret(kube: Kube, backup: TenantBackup, name: str) -> dict[str, str]:
    try:
        secret = kube.read_secret(backup.metadata.namespace, name)
    except KubeError as error:
        raise DeliveryError(f"reading Secret {name}: {error}", retryable=False) from error
    if secret is None:
        raise DeliveryError(
            f"Secret {name} not found in namespace {backup.metadata.namespace}", retryable=False
        )
    return secret
