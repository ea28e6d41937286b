"""HTTP at the edge: POST the signed notice to a webhook."""

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from tenant_backup.adapters.notify.retry import DeliveryError
from tenant_backup.backup.notice import DELIVERY_HEADER, SIGNATURE_HEADER, Notice, sign

USER_AGENT = "tenant-backup-operator"
RETRYABLE_STATUS = frozenset({408, 425, 429})


def receiver(url: str) -> str:
    """How a webhook URL is shown: scheme, host and port only (paths may hold tokens)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def post_webhook(url: str, key: bytes, notice: Notice, timeout: float) -> str:
    """POST the notice; what happened, or a DeliveryError (retryable for 5xx, 408, 425, 429
    and network errors)."""
    shown = receiver(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"{shown}: only http and https URLs are allowed", retryable=False)
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=notice.payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(key, notice.payload),
            DELIVERY_HEADER: notice.delivery_id,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        retryable = error.code >= 500 or error.code in RETRYABLE_STATUS
        raise DeliveryError(f"{shown} answered HTTP {error.code}", retryable=retryable) from error
    except (urllib.error.URLError, OSError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        raise DeliveryError(f"{shown}: {reason}", retryable=True) from error
    return f"{shown} answered HTTP {status}"
