"""age keys as the runner takes them: recipients (public, from arguments or a mounted file)
checked in full and fingerprinted, and identities (private) read from a mounted file only.

An identity's text is never logged or reported: errors name the file and the line, not the
key (pyrage's own messages quote no key either).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyrage

from tenant_backup.api.contract import MAX_AGE_RECIPIENTS, age_fingerprint
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError

IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


@dataclass(frozen=True)
class Recipients:
    """The recipients an artifact is encrypted to, and their fingerprints (in order)."""

    keys: tuple[pyrage.x25519.Recipient, ...]
    fingerprints: tuple[str, ...]


def key_lines(text: str) -> list[str]:
    """The keys of an age key file: one a line, `#` comments and blank lines skipped."""
    stripped = (line.strip() for line in text.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def read_recipients_file(path: Path) -> list[str]:
    """The recipients listed in the file at `path` (age's `-R` format)."""
    try:
        return key_lines(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(Reason.VALIDATION_FAILED, f"cannot read recipients {path}: {exc}") from exc


def parse_recipients(texts: Iterable[str]) -> Recipients:
    """Each `age1...` recipient checked (Bech32 and all), duplicates dropped; ValidationFailed
    for none, too many or a malformed one."""
    unique: dict[str, str] = {}  # Bech32 is case-insensitive: one entry per key
    for text in texts:
        unique.setdefault(text.strip().lower(), text.strip())
    if not 0 < len(unique) <= MAX_AGE_RECIPIENTS:
        raise RunError(
            Reason.VALIDATION_FAILED,
            f"encryption needs 1-{MAX_AGE_RECIPIENTS} age recipients, not {len(unique)}",
        )
    keys = []
    for text in unique.values():
        try:
            keys.append(pyrage.x25519.Recipient.from_str(text))
        except pyrage.RecipientError as exc:
            raise RunError(
                Reason.VALIDATION_FAILED, f"not an age X25519 recipient: {text[:80]!r} ({exc})"
            ) from exc
    return Recipients(tuple(keys), tuple(age_fingerprint(text) for text in unique))


def read_identities(path: Path) -> list[pyrage.x25519.Identity]:
    """The X25519 identities in the file at `path` (what `age-keygen` writes); DecryptionFailed
    if it cannot be read or holds none, naming the line of a malformed one, never its text."""
    try:
        lines = key_lines(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RunError(
            Reason.DECRYPTION_FAILED, f"cannot read the identity file {path}: {why}"
        ) from None
    identities = []
    for number, line in enumerate(lines, start=1):
        try:
            identities.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise RunError(
                Reason.DECRYPTION_FAILED,
                f"{path}: key {number} is not an age identity ({IDENTITY_PREFIX}...)",
            ) from None
    if not identities:
        raise RunError(Reason.DECRYPTION_FAILED, f"{path} holds no age identity")
    return identities
