"""The contract between the operator and the programs its Jobs run, in one place.

Secret layouts (and the environment variables they become in a Job), the artifact URL
formats (built and parsed here only), the dump vocabulary, limits and defaults. Plain
Python with no third-party imports: the runner loads it on every start.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

# -- Tenants ---------------------------------------------------------------------------

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_]*$"
SLUG_MAX_LENGTH = 56  # "tenant_" + 56 = 63 bytes, PostgreSQL's identifier limit.
SCHEMA_PREFIX = "tenant_"

# -- The dump vocabulary ---------------------------------------------------------------


class DumpFormat(StrEnum):
    """pg_dump archive format."""

    CUSTOM = "custom"
    PLAIN = "plain"


class Compression(StrEnum):
    """How the artifact is compressed."""

    ZSTD = "zstd"
    GZIP = "gzip"
    NONE = "none"


class Verification(StrEnum):
    """How much of the artifact is read back before success."""

    TOC = "toc"
    FULL = "full"


class ReadBack(StrEnum):
    """How an artifact was really read back before success (`status.artifact.verification`)."""

    TOC = "toc"
    """pg_restore listed the custom archive's table of contents."""
    FULL = "full"
    """pg_restore read every data block of the custom archive."""
    SCAN = "scan"
    """The plain SQL was read whole: it decompressed, created the schema and ended with
    pg_dump's trailer (what `toc` and `full` both do for plain)."""


class S3Credentials(StrEnum):
    """Where the runner's S3 client takes its credentials from."""

    KEYS = "keys"
    """AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), from the
    destination's Secret; nothing else is read."""
    DEFAULT_CHAIN = "default-chain"
    """The SDK's default chain under the Job's service account: environment, web identity
    token file, shared credentials and config files, container or instance metadata."""


class ChecksumCalculation(StrEnum):
    """When the S3 client adds request checksums."""

    WHEN_REQUIRED = "when_required"
    WHEN_SUPPORTED = "when_supported"


COMPRESSION_LEVELS: dict[Compression, range] = {
    Compression.ZSTD: range(1, 20),
    Compression.GZIP: range(1, 10),
}
# zstd 1 was both fastest and smallest on 290 MB of realistic rows (md5 text, jsonb,
# timestamps; 2 cores): 108 MB in 1.5 s end to end, vs level 3: 114 MB in 2.3 s.
DEFAULT_COMPRESSION_LEVELS: dict[Compression, int] = {Compression.ZSTD: 1, Compression.GZIP: 6}
DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS = 60
MAX_LOCK_WAIT_TIMEOUT_SECONDS = 3600

# -- Encryption ------------------------------------------------------------------------


class Encryption(StrEnum):
    """How an artifact is encrypted."""

    AGE = "age"
    """age (age-encryption.org/v1) to X25519 recipients."""


# An X25519 age recipient: "age1" and 58 characters of Bech32's alphabet (checked in full,
# with its checksum, by the runner).
AGE_RECIPIENT_PATTERN = r"^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$"
AGE_FINGERPRINT_PATTERN = r"^[0-9a-f]{16}$"
AGE_HEADER = b"age-encryption.org/v1\n"
"""How every binary age file begins."""
AGE_EXTENSION = ".age"
MAX_AGE_RECIPIENTS = 16


def age_fingerprint(recipient: str) -> str:
    """A recipient's fingerprint, what status and manifests list instead of the key: the
    first 16 hex digits of the SHA-256 of its (lower-case) text (`printf %s age1... |
    sha256sum`)."""
    return hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:16]


# -- The restore vocabulary ------------------------------------------------------------


PREVIOUS_OF = "previousOf"
"""In a previous schema's comment (JSON): the schema it was before a Replace swapped it out."""
KEEP_UNTIL = "keepUntil"
"""In a previous schema's comment: until when it is kept (ISO 8601)."""
REPLACED_BY = "replacedBy"
"""In a previous schema's comment: the restore id of the Replace that swapped it out."""


class RestoreMode(StrEnum):
    """What a restore does with its target."""

    CREATE_NEW = "create-new"
    """The target schema must not exist; it is created complete or not at all."""
    REPLACE = "replace"
    """The target schema is swapped for the restored one in one transaction; the previous
    one is kept under a recorded name."""
    VERIFY = "verify"
    """A drill: restored into a scratch database, checked, discarded."""


class Privileges(StrEnum):
    """Whether a restore keeps the archive's grants."""

    KEEP = "keep"
    DROP = "drop"


class RestoreStep(StrEnum):
    """The steps of a restore, in order."""

    DOWNLOADING = "Downloading"
    VERIFYING = "Verifying"
    RESTORING = "Restoring"
    CHECKING = "Checking"
    SWAPPING = "Swapping"


RESTORE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"
MAX_RESTORE_CHECKS = 16
DEFAULT_KEEP_PREVIOUS_SECONDS = 86400


# -- Secrets and the environment they become -------------------------------------------


@dataclass(frozen=True)
class SecretKey:
    """One key of a Secret, and the environment variable a Job receives it as."""

    variable: str
    key: str
    optional: bool = False


SecretLayout = tuple[SecretKey, ...]

DEFAULT_DATABASE_PORT = 5432
# The layout of CloudNativePG application Secrets, as libpq variables.
DATABASE_SECRET: SecretLayout = (
    SecretKey("PGHOST", "host"),
    SecretKey("PGPORT", "port", optional=True),
    SecretKey("PGDATABASE", "dbname"),
    SecretKey("PGUSER", "username"),
    SecretKey("PGPASSWORD", "password"),
)
DATABASE_SECRET_CLIENT_CERT: SecretLayout = tuple(
    SecretKey(entry.variable, entry.key, optional=True) if entry.key == "password" else entry
    for entry in DATABASE_SECRET
)
"""The database Secret when a client certificate authenticates: no password needed."""
TLS_CERT_KEY = "tls.crt"  # the keys of a kubernetes.io/tls Secret
TLS_KEY_KEY = "tls.key"
TLS_FAILURES = (
    "certificate verify failed",
    "does not match host name",
    "certificate file",  # root certificate file ... does not exist, could not read ...
    "private key file",
    "server does not support SSL",
    "sslv3 alert",
    "tlsv1 alert",
    "tlsv13 alert",
)
"""libpq's words for a TLS failure (lower case): a certificate, a key, or the server's
refusal of ours; permanent until someone changes a Secret or the server."""
# The S3 credentials Secret, as the AWS SDKs' variables.
S3_SECRET: SecretLayout = (
    SecretKey("AWS_ACCESS_KEY_ID", "accessKeyId"),
    SecretKey("AWS_SECRET_ACCESS_KEY", "secretAccessKey"),
    SecretKey("AWS_SESSION_TOKEN", "sessionToken", optional=True),
)
TELEGRAM_SECRET: SecretLayout = (SecretKey("TELEGRAM_BOT_TOKEN", "botToken"),)
SECRET_VARIABLES = (
    "PGPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "TELEGRAM_BOT_TOKEN",
)
"""Variables holding credentials: redacted from every log line and message."""


def missing_keys(layout: SecretLayout, data: Mapping[str, str]) -> list[str]:
    """The required keys of `layout` that `data` (a decoded Secret) lacks or leaves empty."""
    return [entry.key for entry in layout if not entry.optional and not data.get(entry.key)]


def database_server(data: Mapping[str, str]) -> str:
    """`host:port` of a database Secret: the unit of the per-server concurrency limit."""
    return f"{data['host']}:{data.get('port') or DEFAULT_DATABASE_PORT}"


# -- Destinations' limits and defaults -------------------------------------------------

DEFAULT_S3_REGION = "us-east-1"
MAX_DOWNLOAD_LINK_SECONDS = 604800  # SigV4 presigned URLs live at most 7 days
MB = 1000 * 1000
TELEGRAM_MAX_PART_BYTES = 50 * MB  # sendDocument's limit on the cloud Bot API
TELEGRAM_LOCAL_MAX_PART_BYTES = 2000 * MB  # a Bot API server's own with --local
TELEGRAM_MIN_PART_BYTES = 1 << 20
TELEGRAM_DEFAULT_PART_BYTES = 20 * MB  # what getFile can download back on the cloud Bot API
TELEGRAM_API_URL = "https://api.telegram.org"
TELEGRAM_CLOUD_URL = r"^https://api\.telegram\.org(:443)?/?$"
TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS = 900
TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS = 86400
# A numeric chat id as text, or a public @username (5-32 characters).
CHAT_ID_TEXT = r"^(-?[1-9][0-9]{0,15}|@[A-Za-z][A-Za-z0-9_]{3,31})$"


def telegram_max_part_bytes(api_url: str) -> int:
    """The largest part `api_url` takes: the cloud Bot API's limit, or a local server's."""
    if re.match(TELEGRAM_CLOUD_URL, api_url):
        return TELEGRAM_MAX_PART_BYTES
    return TELEGRAM_LOCAL_MAX_PART_BYTES


# -- Artifact URLs ---------------------------------------------------------------------


class ArtifactUrlError(ValueError):
    """A string that is not an artifact URL of ours."""


@dataclass(frozen=True)
class PvcLocation:
    """A file inside a PersistentVolumeClaim of the backup's namespace."""

    claim: str
    path: str
    """Relative to the claim's root."""

    @property
    def url(self) -> str:
        """`pvc://<claim>/<path>`."""
        return f"pvc://{self.claim}/{self.path}"


@dataclass(frozen=True)
class S3Location:
    """An object in a bucket."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        """`s3://<bucket>/<key>`."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class TelegramLocation:
    """A chat, and the message holding the artifact's manifest once it is sent."""

    chat_id: str
    message_id: int | None = None

    @property
    def url(self) -> str:
        """`telegram://<chat id>/<manifest message id>` (without the id before it is sent)."""
        tail = "" if self.message_id is None else f"/{self.message_id}"
        return f"telegram://{self.chat_id}{tail}"


@dataclass(frozen=True)
class FileLocation:
    """A file on the runner's own filesystem (the runner used by hand)."""

    path: PurePosixPath

    @property
    def url(self) -> str:
        """`file:///<absolute path>`."""
        return self.path.as_uri()


ArtifactLocation = PvcLocation | S3Location | TelegramLocation | FileLocation


def parse_artifact_url(url: str) -> ArtifactLocation:
    """The location an artifact URL names; ArtifactUrlError for anything else."""
    parts = urlsplit(url)
    path = parts.path.lstrip("/")
    if parts.query or parts.fragment:
        raise ArtifactUrlError(f"{url}: an artifact URL has no query or fragment")
    if parts.scheme == "pvc" and parts.netloc and _relative(path):
        return PvcLocation(parts.netloc, path)
    if parts.scheme == "s3" and parts.netloc and path:
        return S3Location(parts.netloc, path)
    if parts.scheme == "telegram" and parts.netloc:
        if path.isdigit():
            return TelegramLocation(parts.netloc, int(path))
        if not path:
            return TelegramLocation(parts.netloc)
    if parts.scheme == "file" and not parts.netloc and parts.path.startswith("/"):
        return FileLocation(PurePosixPath(unquote(parts.path)))
    raise ArtifactUrlError(
        f"{url} is not an artifact URL (pvc://claim/path, s3://bucket/key, "
        "telegram://chat/message or file:///path)"
    )


def _relative(path: str) -> bool:
    """A non-empty relative path without `.` or `..` segments."""
    segments = path.split("/")
    return bool(path) and all(segment not in ("", ".", "..") for segment in segments)
