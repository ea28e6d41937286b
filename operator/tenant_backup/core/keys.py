"""Pure: how a Job gets age keys. Recipients (public) as runner arguments, or a Secret key
mounted as a file; an identity (private) only ever as a mounted Secret key, readable by the
runner's user alone: never an argument or an environment variable."""

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_backup.api.encryption import Decryption, EncryptionSpec

RECIPIENTS_VOLUME = "age-recipients"
RECIPIENTS_PATH = "/etc/tenant-backup/age-recipients"
IDENTITY_VOLUME = "age-identity"
IDENTITY_PATH = "/etc/tenant-backup/age-identity"
KEY_FILE = "keys.txt"
IDENTITY_MODE = 0o400

Body = dict[str, Any]


@dataclass(frozen=True)
class KeysPlan:
    """Runner arguments and the volumes that hold key files."""

    args: list[str] = field(default_factory=list)
    volumes: list[Body] = field(default_factory=list)
    volume_mounts: list[Body] = field(default_factory=list)


def _secret_file(volume: str, secret: str, key: str, path: str, mode: int | None) -> KeysPlan:
    item: Body = {"key": key, "path": KEY_FILE}
    source: Body = {"secretName": secret, "items": [item]}
    if mode is not None:
        source["defaultMode"] = mode
    return KeysPlan(
        args=[],
        volumes=[{"name": volume, "secret": source}],
        volume_mounts=[{"name": volume, "mountPath": path, "readOnly": True}],
    )


def recipients_plan(encryption: EncryptionSpec | None) -> KeysPlan:
    """`--age-recipient` for each inline recipient, and the recipients Secret's key mounted as
    `--age-recipients-file`; nothing without encryption."""
    if encryption is None:
        return KeysPlan()
    age = encryption.age
    args = [f"--age-recipient={recipient}" for recipient in age.recipients]
    ref = age.recipients_secret_ref
    if ref is None:
        return KeysPlan(args=args)
    mounted = _secret_file(RECIPIENTS_VOLUME, ref.name, ref.key, RECIPIENTS_PATH, None)
    file_arg = f"--age-recipients-file={posixpath.join(RECIPIENTS_PATH, KEY_FILE)}"
    return KeysPlan([*args, file_arg], mounted.volumes, mounted.volume_mounts)


def identity_plan(decryption: Decryption | None) -> KeysPlan:
    """The identity Secret's key mounted (mode 0400) as `--age-identity-file`; nothing
    without one."""
    if decryption is None:
        return KeysPlan()
    ref = decryption.identity_secret_ref
    mounted = _secret_file(IDENTITY_VOLUME, ref.name, ref.key, IDENTITY_PATH, IDENTITY_MODE)
    file_arg = f"--age-identity-file={posixpath.join(IDENTITY_PATH, KEY_FILE)}"
    return KeysPlan([file_arg], mounted.volumes, mounted.volume_mounts)


def key_secret_problem(
    name: str, key: str, namespace: str, read_secret: Callable[[str], Mapping[str, str] | None]
) -> str | None:
    """What is wrong with the Secret key holding age keys: absent, or empty."""
    secret = read_secret(name)
    if secret is None:
        return f"Secret {name} not found in namespace {namespace}"
    if not (secret.get(key) or "").strip():
        return f"Secret {name} lacks the key: {key}"
    return None
