"""Where an artifact's bytes go: one module per destination, behind the `Upload` interface
of `base`. `open_upload` picks the module for the options, importing S3's client only when
an S3 target is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenant_backup.runner.destinations.base import ArtifactFacts, Upload
from tenant_backup.runner.interrupt import Interrupts

if TYPE_CHECKING:
    from tenant_backup.runner.options import Target


def open_upload(
    target: Target, url: str, facts: ArtifactFacts, size_estimate: int, interrupts: Interrupts
) -> Upload:
    """Start writing one artifact to `target`; nothing is visible until `commit`. Waits the
    destination asks for end early on a termination signal."""
    # Imported here: options imports this package (for S3Connection).
    from tenant_backup.runner.options import LocalTarget, TelegramTarget

    if isinstance(target, LocalTarget):
        from tenant_backup.runner.destinations.local import LocalUpload

        return LocalUpload(target.path, url)
    if isinstance(target, TelegramTarget):
        from tenant_backup.runner.destinations.telegram import TelegramUpload

        return TelegramUpload.start(target, url, facts, interrupts.sleep)
    from tenant_backup.runner.destinations.s3 import S3Upload

    return S3Upload.start(target, url, facts, size_estimate)
