"""TenantBackup spec: what to back up, from where, to where, and how hard to try."""

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, WithJsonSchema

from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.contract import (
    CHAT_ID_TEXT,
    DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS,
    DEFAULT_S3_REGION,
    MAX_DOWNLOAD_LINK_SECONDS,
    MAX_LOCK_WAIT_TIMEOUT_SECONDS,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    TELEGRAM_API_URL,
    TELEGRAM_DEFAULT_PART_BYTES,
    TELEGRAM_MAX_PART_BYTES,
    TELEGRAM_MIN_PART_BYTES,
    ChecksumCalculation,
    Compression,
    DumpFormat,
    Verification,
)

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Relative path segments that cannot start with a dot: no "..", no "/", no hidden names.
RELATIVE_PATH = r"^([A-Za-z0-9_-][A-Za-z0-9._-]*)(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$"

EMAIL_ADDRESS = r"^[^@\s<>]+@[^@\s<>]+$"
HTTP_URL = r"^https?://\S+$"

ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


class SecretReference(ApiModel):
    """A Secret in the TenantBackup's own namespace."""

    name: ResourceName
    """Name of the Secret."""


class SslMode(StrEnum):
    """libpq sslmode."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class DatabaseSource(ApiModel):
    """Where the tenant's schema lives. Credentials only ever come from the Secret."""

    secret_ref: SecretReference
    """Secret with keys `host`, `dbname`, `username`, `password` and optionally `port`
    (the layout of CloudNativePG application Secrets). The role needs read access to the
    tenant schema and must own its tables or have BYPASSRLS."""
    ssl_mode: SslMode = SslMode.PREFER
    """libpq sslmode for the dump and for the operator's checks."""


class PvcDestination(ApiModel):
    """A PersistentVolumeClaim in the TenantBackup's namespace, mounted by the dump Job."""

    claim_name: ResourceName
    """Name of the PersistentVolumeClaim."""
    path: Annotated[str, Field(max_length=255, pattern=RELATIVE_PATH)] | None = None
    """Directory inside the claim, relative, no `.` or `..` segments; default: the claim's
    root."""


# An S3 key prefix: empty, or relative segments each ending in "/" (no "..", no leading dot).
KEY_PREFIX = r"^([A-Za-z0-9_-][A-Za-z0-9._-]*/)*$"
# Bucket names as S3 allows them (3-63 lower-case letters, digits, dots, hyphens).
BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class KeyReference(ApiModel):
    """One key of a Secret or ConfigMap in the TenantBackup's namespace."""

    name: ResourceName
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")] = (
        "ca.crt"
    )
    """The key holding the PEM bundle."""


class DownloadLink(ApiModel):
    """Opt-in presigned GET URL written to `status.artifact.downloadUrl`: anyone who can read
    the status can download the artifact until it expires."""

    expires_in_seconds: Annotated[int, Field(ge=1, le=MAX_DOWNLOAD_LINK_SECONDS)] = 3600
    """Lifetime of the link, at most 604800 (7 days, the SigV4 limit)."""


class S3Destination(ApiModel):
    """An S3-compatible bucket; the object key is `<keyPrefix><tenant>/<file>`."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.caSecretRef) && has(self.caConfigMapRef))",
                "set at most one of caSecretRef and caConfigMapRef",
            )
        )
    )

    bucket: Annotated[str, Field(pattern=BUCKET_NAME)]
    """Bucket name."""
    key_prefix: Annotated[str, Field(max_length=512, pattern=KEY_PREFIX)] = ""
    """Prepended to `<tenant>/<file>`: empty, or segments each ending in `/`."""
    region: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")] = (
        DEFAULT_S3_REGION
    )
    """Bucket region (what requests are signed for)."""
    endpoint: Annotated[str, Field(max_length=2048, pattern=HTTP_URL)] | None = None
    """Endpoint URL of an S3-compatible service; default: AWS S3 of `region`."""
    force_path_style: bool = False
    """`https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (most
    S3-compatible services need this)."""
    credentials_secret_ref: SecretReference
    """Secret with keys `accessKeyId` and `secretAccessKey`, and optionally `sessionToken`;
    they reach the dump Job only as environment variables from the Secret."""
    ca_secret_ref: KeyReference | None = None
    """Secret key holding the PEM CA bundle to trust for the endpoint's TLS."""
    ca_config_map_ref: KeyReference | None = None
    """ConfigMap key holding the PEM CA bundle to trust for the endpoint's TLS."""
    checksum_calculation: ChecksumCalculation = ChecksumCalculation.WHEN_REQUIRED
    """`when_required` (works with every S3-compatible service) or `when_supported` (adds
    CRC32 checksums where the API allows). Parts always carry Content-MD5."""
    download_link: DownloadLink | None = None
    """Opt in to a presigned download URL in status after success."""


# http(s), a host name or [IPv6] literal, an optional port and path: no userinfo, query or
# fragment (the bot token is appended as a path segment).
BOT_API_URL = r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]+)*/?$"
MAX_CHAT_ID = (1 << 53) - 1  # chat ids have at most 52 significant bits

ChatId = Annotated[
    Annotated[int, Field(ge=-MAX_CHAT_ID, le=MAX_CHAT_ID)]
    | Annotated[str, Field(max_length=33, pattern=CHAT_ID_TEXT)],
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "pattern": CHAT_ID_TEXT,
            "maxLength": 33,
            "minimum": -MAX_CHAT_ID,
            "maximum": MAX_CHAT_ID,
        }
    ),
]


class TelegramDestination(ApiModel):
    """A Telegram chat, through the Bot API: the artifact is sent as documents of at most
    `partSizeBytes`, then a manifest document listing the parts and their SHA-256s."""

    chat_id: ChatId
    """Target chat: a numeric id (e.g. `-1001234567890`, as integer or string) or a public
    `@username`."""
    secret_ref: SecretReference
    """Secret with key `botToken`; it reaches the dump Job only as an environment variable."""
    api_url: Annotated[str, Field(max_length=2048, pattern=BOT_API_URL)] = TELEGRAM_API_URL
    """Bot API base URL, http or https, without credentials: a local Bot API server's, say."""
    part_size_bytes: Annotated[
        int, Field(ge=TELEGRAM_MIN_PART_BYTES, le=TELEGRAM_MAX_PART_BYTES)
    ] = TELEGRAM_DEFAULT_PART_BYTES
    """Largest part sent, 1 MiB to 50 MB (sendDocument's limit); the default, 20 MB, is the
    most that bots can download back from the cloud Bot API."""


class Destination(ApiModel):
    """Where the artifact goes: exactly one of the destinations below."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "[has(self.pvc), has(self.s3), has(self.telegram)].filter(d, d).size() == 1",
                "exactly one destination must be set: pvc, s3 or telegram",
            )
        )
    )

    pvc: PvcDestination | None = None
    """Write the artifact to a PersistentVolumeClaim."""
    s3: S3Destination | None = None
    """Upload the artifact to an S3-compatible bucket."""
    telegram: TelegramDestination | None = None
    """Send the artifact to a Telegram chat, in parts."""


class DumpOptions(ApiModel):
    """How pg_dump runs."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.compressionLevel) || self.compression == 'zstd' || "
                "(self.compression == 'gzip' && self.compressionLevel <= 9)",
                "compressionLevel must be 1-19 for zstd, 1-9 for gzip, and unset for none",
                field_path=".compressionLevel",
            )
        )
    )

    format: DumpFormat = DumpFormat.CUSTOM
    """`custom` (pg_restore, selective and parallel restore) or `plain` (SQL for psql)."""
    compression: Compression = Compression.ZSTD
    """`zstd` (multi-threaded, in the runner: fastest and smallest), `gzip` (pg_dump's own,
    single-threaded) or `none`."""
    compression_level: Annotated[int, Field(ge=1, le=19)] | None = None
    """Compression level: zstd 1-19, gzip 1-9; default: the runner's tuned default."""


class RetryPolicy(ApiModel):
    """Attempts after retryable failures, with exponential backoff."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.maxBackoffSeconds >= self.backoffSeconds",
                "maxBackoffSeconds must not be less than backoffSeconds",
                field_path=".maxBackoffSeconds",
            )
        )
    )

    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """Attempts in total, the first included."""
    backoff_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    """Wait before the second attempt; doubles for each attempt after it."""
    max_backoff_seconds: Annotated[int, Field(ge=0, le=86400)] = 600
    """Upper bound of the wait between attempts."""


class Timeouts(ApiModel):
    """Bounds on how long one attempt may take."""

    active_deadline_seconds: Annotated[int, Field(ge=10, le=604800)] = 3600
    """Deadline of each attempt's Job, from its start."""
    lock_wait_timeout_seconds: Annotated[int, Field(ge=1, le=MAX_LOCK_WAIT_TIMEOUT_SECONDS)] = (
        DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS
    )
    """How long pg_dump waits for its table locks before giving up (retryable)."""


class DeletionPolicy(StrEnum):
    """What happens to the artifact when the TenantBackup is deleted."""

    RETAIN = "Retain"


class NotifyOn(StrEnum):
    """Outcomes that can be notified."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class SmtpTls(StrEnum):
    """How the SMTP connection is secured."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class EmailNotification(ApiModel):
    """An email through an SMTP relay."""

    to: Annotated[
        list[Annotated[str, Field(max_length=254, pattern=EMAIL_ADDRESS)]],
        Field(min_length=1, max_length=20),
    ]
    """Recipients."""
    smtp_secret_ref: SecretReference
    """Secret with keys `host` and `from`, and optionally `port` (default by `tls`: 587, 465
    or 25), `username` and `password`."""
    tls: SmtpTls = SmtpTls.STARTTLS
    """`starttls` (upgrade a plain connection), `tls` (TLS from the start) or `none`; the
    server certificate is verified for the first two."""


class WebhookNotification(ApiModel):
    """A signed JSON POST."""

    url: Annotated[str, Field(max_length=2048, pattern=HTTP_URL)]
    """Receiver URL, http or https."""
    secret_ref: SecretReference
    """Secret with key `hmacKey`: the body is signed with HMAC-SHA256, sent as header
    `X-TenantBackup-Signature: sha256=<hex>`."""
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    """Timeout of each delivery attempt."""


class Notifications(ApiModel):
    """Who hears about the final outcome, and how; each channel is sent at most once."""

    on: Annotated[
        list[NotifyOn],
        Field(min_length=1, max_length=2, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ] = Field(default=[NotifyOn.SUCCEEDED, NotifyOn.FAILED])
    """Outcomes to notify; default both."""
    email: EmailNotification | None = None
    webhook: WebhookNotification | None = None


class TenantBackupSpec(ApiModel):
    """One backup of one tenant's schema. Immutable: create another object for another run."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "spec is immutable: create a new TenantBackup to take another backup",
            )
        )
    )

    tenant: Annotated[str, Field(min_length=1, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN)]
    """Tenant slug; the schema dumped is `tenant_<slug>`. Lower-case letters, digits and `_`,
    not starting with `_`, at most 56 characters."""
    database: DatabaseSource
    destination: Destination
    dump: DumpOptions = Field(default_factory=DumpOptions)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    verify: Verification = Verification.TOC
    """`toc`: pg_restore lists the archive (plain: the SQL is scanned); `full`: pg_restore also
    reads every data block. Reported in the `Verified` condition."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """`Retain` keeps the artifact when the TenantBackup is deleted."""
    notifications: Notifications = Field(default_factory=Notifications)
    """Email and webhook notifications of the outcome; none unless a channel is set."""
