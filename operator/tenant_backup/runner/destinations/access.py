"""How the runner reaches stored artifacts beyond what their URLs say: where the claim is
mounted, how to connect to S3, which Bot API server to call. Credentials are not settings:
they come only from the environment (the contract's S3_SECRET and TELEGRAM_SECRET), or for S3
on request from the SDK's default chain."""

from dataclasses import dataclass
from pathlib import Path

from tenant_backup.api.contract import TELEGRAM_API_URL, ChecksumCalculation, S3Credentials


@dataclass(frozen=True)
class S3Connection:
    """How to reach an S3-compatible service (a dump's `S3Target` adds the object)."""

    region: str
    endpoint: str | None
    force_path_style: bool
    checksum: ChecksumCalculation
    ca_file: Path | None
    credentials: S3Credentials


@dataclass(frozen=True)
class Access:
    """Settings for reaching artifacts by their URLs."""

    pvc_root: Path | None = None
    """Where the claim of `pvc://` URLs is mounted (a Job mounts it at /backup)."""
    s3: S3Connection | None = None
    """How to reach the service of `s3://` URLs."""
    telegram_api_url: str = TELEGRAM_API_URL
    """The Bot API server of `telegram://` URLs (an http(s) URL, checked by the caller)."""
