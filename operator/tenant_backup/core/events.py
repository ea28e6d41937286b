"""An Event to post on one of our objects once the status that caused it is written."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event: Normal or Warning, a reason and a message."""

    type: str
    reason: str
    message: str
