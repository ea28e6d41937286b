"""Where an artifact goes: a claim, an S3-compatible bucket, or a Telegram chat."""

from typing import Annotated, Self

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.contract import (
    CHAT_ID_TEXT,
    DEFAULT_S3_REGION,
    MAX_DOWNLOAD_LINK_SECONDS,
    TELEGRAM_API_URL,
    TELEGRAM_CLOUD_URL,
    TELEGRAM_DEFAULT_PART_BYTES,
    TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS,
    TELEGRAM_LOCAL_MAX_PART_BYTES,
    TELEGRAM_MAX_PART_BYTES,
    TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS,
    TELEGRAM_MIN_PART_BYTES,
    ChecksumCalculation,
    S3Credentials,
    telegram_max_part_bytes,
)
from tenant_backup.api.references import HTTP_URL, KeyReference, ResourceName, SecretReference

# Relative path segments that cannot start with a dot: no "..", no "/", no hidden names.
RELATIVE_PATH = r"^([A-Za-z0-9_-][A-Za-z0-9._-]*)(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$"


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
            ),
            cel(
                "has(self.credentialsSecretRef) != self.defaultCredentialChain",
                "set exactly one of credentialsSecretRef and defaultCredentialChain: true",
            ),
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
    credentials_secret_ref: SecretReference | None = None
    """Secret with keys `accessKeyId` and `secretAccessKey`, and optionally `sessionToken`;
    they reach the dump Job only as environment variables from the Secret, and no other
    source of credentials is read. Exactly one of this and `defaultCredentialChain`."""
    default_credential_chain: bool = False
    """`true`: no Secret; the Jobs find credentials by the AWS SDK's default chain under
    their service account (workload identity: a web identity token file with a role, EKS
    Pod Identity, a mounted shared credentials file, instance metadata)."""
    ca_secret_ref: KeyReference | None = None
    """Secret key holding the PEM CA bundle to trust for the endpoint's TLS."""
    ca_config_map_ref: KeyReference | None = None
    """ConfigMap key holding the PEM CA bundle to trust for the endpoint's TLS."""
    checksum_calculation: ChecksumCalculation = ChecksumCalculation.WHEN_REQUIRED
    """`when_required` (works with every S3-compatible service) or `when_supported` (adds
    CRC32 checksums where the API allows). Parts always carry Content-MD5."""
    download_link: DownloadLink | None = None
    """Opt in to a presigned download URL in status after success."""

    @model_validator(mode="after")
    def _one_source_of_credentials(self) -> Self:
        if (self.credentials_secret_ref is not None) == self.default_credential_chain:
            raise ValueError(
                "set exactly one of credentialsSecretRef and defaultCredentialChain: true"
            )
        return self

    @property
    def credentials(self) -> S3Credentials:
        """Where the Jobs' S3 client takes its credentials from."""
        return S3Credentials.DEFAULT_CHAIN if self.default_credential_chain else S3Credentials.KEYS


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


# `telegram_max_part_bytes` in CEL (defaults apply before rules: both fields are set).
_PART_SIZE_RULE = (
    f"!self.apiUrl.matches(r'{TELEGRAM_CLOUD_URL}') "
    f"|| self.partSizeBytes <= {TELEGRAM_MAX_PART_BYTES}"
)


class TelegramDestination(ApiModel):
    """A Telegram chat, through the Bot API: the artifact is sent as documents of at most
    `partSizeBytes`, then a manifest document listing the parts and their SHA-256s."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                _PART_SIZE_RULE,
                f"the cloud Bot API takes parts of at most {TELEGRAM_MAX_PART_BYTES} bytes",
                ".partSizeBytes",
            )
        )
    )

    chat_id: ChatId
    """Target chat: a numeric id (e.g. `-1001234567890`, as integer or string) or a public
    `@username`."""
    secret_ref: SecretReference
    """Secret with key `botToken`; it reaches the dump Job only as an environment variable."""
    api_url: Annotated[str, Field(max_length=2048, pattern=BOT_API_URL)] = TELEGRAM_API_URL
    """Bot API base URL, http or https, without credentials: a local Bot API server's, say."""
    part_size_bytes: Annotated[
        int, Field(ge=TELEGRAM_MIN_PART_BYTES, le=TELEGRAM_LOCAL_MAX_PART_BYTES)
    ] = TELEGRAM_DEFAULT_PART_BYTES
    """Largest part sent: 1 MiB to 50 MB (sendDocument's limit) on the cloud Bot API, up to
    2000 MB on a local Bot API server (`--local`); the runner holds one part in memory. The
    default, 20 MB, is the most that bots can download back from the cloud Bot API."""
    max_rate_limit_wait_seconds: Annotated[
        int, Field(ge=0, le=TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS)
    ] = TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS
    """How long one attempt may wait out the chat's rate limits (HTTP 429 with
    `retry_after`), all its calls together, before it fails as DestinationUnavailable (and is
    retried). The runner's own pacing of its sends is not counted."""

    @model_validator(mode="after")
    def _part_size_fits_the_server(self) -> Self:
        largest = telegram_max_part_bytes(self.api_url)
        if self.part_size_bytes > largest:
            raise ValueError(f"the cloud Bot API takes parts of at most {largest} bytes")
        return self


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
