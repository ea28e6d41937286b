"""Pure: a notification of an outcome as every channel sends it, whatever the kind."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-TenantBackup-Signature"
DELIVERY_HEADER = "X-TenantBackup-Delivery"


@dataclass(frozen=True)
class Notice:
    """One outcome, rendered."""

    delivery_id: str
    """The same for every copy of this notice: receivers can drop duplicates by it."""
    subject: str
    text: str
    payload: bytes
    """The webhook body: compact JSON, exactly the bytes that are signed."""


def sign(key: bytes, body: bytes) -> str:
    """The signature header value: `sha256=<hex HMAC-SHA256 of body>`."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def human_duration(seconds: int) -> str:
    """`3725` -> `1h2m5s`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def compact(document: dict[str, Any]) -> bytes:
    """`document` as compact JSON bytes."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def text_of(lines: list[tuple[str, str]]) -> str:
    """Labelled lines, aligned, for people."""
    return "".join(f"{label + ':':<10} {value}\n" for label, value in lines)
