"""How the runner reaches stored artifacts beyond what their URLs say. Credentials are not
settings: they come only from the environment (the contract's S3_SECRET)."""

from dataclasses import dataclass
from pathlib import Path

from tenant_backup.api.contract import ChecksumCalculation


@dataclass(frozen=True)
class S3Connection:
    """How to reach an S3-compatible service (a dump's `S3Target` adds the object)."""

    region: str
    endpoint: str | None
    force_path_style: bool
    checksum: ChecksumCalculation
    ca_file: Path | None
