"""One channel's notification of an outcome: its Secret read, sent with retries, and the
result as a status Delivery. Never raises for a delivery problem."""

import logging
from collections.abc import Callable
from datetime import datetime

from tenant_backup.adapters import outbound
from tenant_backup.adapters.kube import Kube, KubeError
from tenant_backup.adapters.notify.email import send_email, smtp_server
from tenant_backup.adapters.notify.retry import DeliveryError, with_retries
from tenant_backup.adapters.notify.webhook import post_webhook
from tenant_backup.api.notifications import Channel, Delivery, DeliveryState, Notifications
from tenant_backup.core.notice import Notice
from tenant_backup.settings import Settings

HMAC_KEY = "hmacKey"
log = logging.getLogger(__name__)


def deliver(
    kube: Kube,
    settings: Settings,
    namespace: str,
    wanted: Notifications,
    notice: Notice,
    channel: Channel,
    clock: Callable[[], datetime],
) -> Delivery:
    """Send `notice` on `channel` as `wanted` (an object's notification settings in
    `namespace`) configures it; `Sent`, or `Failed` with a safe message."""
    try:
        send = _sender(kube, settings, namespace, wanted, channel, notice)
        message = with_retries(send, settings.notify_attempts, settings.notify_backoff_seconds)
        state = DeliveryState.SENT
    except DeliveryError as error:
        message, state = str(error), DeliveryState.FAILED
        log.warning("%s of %s failed: %s", channel, notice.subject, message)
    return Delivery(channel=channel, state=state, message=message, time=clock())


def _sender(
    kube: Kube,
    settings: Settings,
    namespace: str,
    wanted: Notifications,
    channel: Channel,
    notice: Notice,
) -> Callable[[], str]:
    """A function sending `notice` once on `channel`, its configuration read beforehand."""
    policy = outbound.policy_of(settings)
    if channel is Channel.EMAIL and wanted.email is not None:
        email = wanted.email
        server = smtp_server(_secret(kube, namespace, email.smtp_secret_ref.name), email.tls)
        timeout = settings.smtp_timeout_seconds
        return lambda: send_email(server, email.to, notice, timeout, policy)
    if channel is Channel.WEBHOOK and wanted.webhook is not None:
        webhook = wanted.webhook
        key = _secret(kube, namespace, webhook.secret_ref.name).get(HMAC_KEY)
        if not key:
            raise DeliveryError(
                f"Secret {webhook.secret_ref.name} lacks the key {HMAC_KEY}", retryable=False
            )
        return lambda: post_webhook(
            webhook.url, key.encode(), notice, webhook.timeout_seconds, policy
        )
    raise DeliveryError(f"{channel.value} is not configured", retryable=False)


def _secret(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    try:
        secret = kube.read_secret(namespace, name)
    except KubeError as error:
        raise DeliveryError(f"reading Secret {name}: {error}", retryable=False) from error
    if secret is None:
        raise DeliveryError(f"Secret {name} not found in namespace {namespace}", retryable=False)
    return secret
