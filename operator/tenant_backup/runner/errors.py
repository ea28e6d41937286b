"""The one exception the runner's steps raise to end a run, of any subcommand, with a reason."""

from tenant_backup.api.reasons import Reason


class RunError(Exception):
    """A failed run: why (`reason`) and a human-readable `message`."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
