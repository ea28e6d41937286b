"""The runner subcommands' arguments: those they share (the tenant, the result file, the
destination, how to reach stored artifacts) and the `dump` subcommand's, and the options
they become."""

import argparse
import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from tenant_backup.api.contract import (
    CHAT_ID_TEXT,
    COMPRESSION_LEVELS,
    DEFAULT_COMPRESSION_LEVELS,
    DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS,
    DEFAULT_S3_REGION,
    MAX_DOWNLOAD_LINK_SECONDS,
    TELEGRAM_API_URL,
    TELEGRAM_DEFAULT_PART_BYTES,
    TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS,
    TELEGRAM_LOCAL_MAX_PART_BYTES,
    TELEGRAM_MAX_PART_BYTES,
    TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS,
    TELEGRAM_MIN_PART_BYTES,
    ChecksumCalculation,
    Compression,
    DumpFormat,
    FileLocation,
    S3Credentials,
    S3Location,
    TelegramLocation,
    Verification,
    telegram_max_part_bytes,
)
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.access import Access, S3Connection
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.pgdump import VERSIONED_ROOT

TERMINATION_LOG = Path("/dev/termination-log")
FILE_NAME = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}"


@dataclass(frozen=True)
class LocalTarget:
    """A file on a local or mounted filesystem."""

    path: Path


@dataclass(frozen=True)
class S3Target(S3Connection):
    """An object in an S3-compatible bucket; credentials as `credentials` says."""

    bucket: str
    key: str
    download_link_seconds: int | None


@dataclass(frozen=True)
class TelegramTarget:
    """A Telegram chat reached through the Bot API; the bot token comes only from the
    environment."""

    chat_id: str
    file_name: str
    api_url: str
    part_size: int
    max_rate_limit_wait_seconds: int = TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS
    """All the run's waits for HTTP 429 replies together."""


Target = LocalTarget | S3Target | TelegramTarget


@dataclass(frozen=True)
class DumpOptions:
    """Everything one dump run needs besides the libpq environment."""

    tenant: str
    target: Target
    artifact_url: str
    format: DumpFormat
    compression: Compression
    compression_level: int | None
    lock_wait_timeout_seconds: int
    verify: Verification
    pg_bin_dir: Path | None
    pg_root: Path
    age_recipients: tuple[str, ...] = ()
    """Inline age recipients (public keys)."""
    age_recipients_file: Path | None = None
    """A file of more recipients (a mounted Secret key)."""

    @property
    def encrypted(self) -> bool:
        """Whether the artifact is encrypted with age."""
        return bool(self.age_recipients) or self.age_recipients_file is not None


def add_choice(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    default: StrEnum,
    text: str,
) -> None:
    """An option taking a member of `default`'s enum, by value."""
    kind = type(default)
    parser.add_argument(flag, type=kind, choices=list(kind), default=default, help=text)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments every runner subcommand has: the tenant, the result file, the
    PostgreSQL client tools."""
    parser.add_argument("--tenant", required=True, help="tenant slug; the schema is tenant_<slug>")
    add_result_file_argument(parser)
    parser.add_argument("--pg-bin-dir", type=Path, help="directory holding pg_dump and pg_restore")
    parser.add_argument(
        "--pg-root",
        type=Path,
        default=VERSIONED_ROOT,
        help="where <major>/bin holds each major's tools (used unless --pg-bin-dir)",
    )


def add_result_file_argument(parser: argparse.ArgumentParser) -> None:
    """Declare `--result-file` (read by `result_file`)."""
    parser.add_argument(
        "--result-file",
        type=Path,
        help=f"where to write the JSON result too (default: {TERMINATION_LOG} if it exists)",
    )


def _add_s3_connection_arguments(s3: argparse._ArgumentGroup) -> None:
    """How to reach an S3-compatible service (read by `_s3_connection`)."""
    s3.add_argument("--s3-region", default=DEFAULT_S3_REGION, help="bucket region")
    s3.add_argument("--s3-endpoint", help="endpoint URL of an S3-compatible service")
    s3.add_argument("--s3-force-path-style", action="store_true", help="path-style bucket URLs")
    add_choice(
        s3,
        "--s3-checksum",
        ChecksumCalculation.WHEN_REQUIRED,
        "request checksums; parts always carry Content-MD5",
    )
    s3.add_argument("--s3-ca-file", type=Path, help="PEM bundle of the CAs to trust for TLS")
    add_choice(
        s3,
        "--s3-credentials",
        S3Credentials.KEYS,
        "keys: only AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; "
        "default-chain: the SDK's default chain (environment, AWS_WEB_IDENTITY_TOKEN_FILE "
        "with AWS_ROLE_ARN, shared credentials and config files, container or instance "
        "metadata)",
    )


def _s3_connection(args: argparse.Namespace) -> S3Connection:
    return S3Connection(
        region=args.s3_region,
        endpoint=args.s3_endpoint,
        force_path_style=args.s3_force_path_style,
        checksum=args.s3_checksum,
        ca_file=args.s3_ca_file,
        credentials=args.s3_credentials,
    )


def _telegram_api_url(url: str) -> str:
    """`url` without a trailing slash; ValidationFailed unless an http(s) URL without
    userinfo."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise RunError(
            Reason.VALIDATION_FAILED, "--telegram-api-url must be an http(s) URL, no userinfo"
        )
    return url.rstrip("/")


def add_access_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare how stored artifacts are reached by their URLs (read by `access_from_args`):
    where the claim of `pvc://` URLs is mounted, the S3 service, the Bot API server."""
    parser.add_argument("--pvc-root", type=Path, help="where the claim of pvc:// URLs is mounted")
    s3 = parser.add_argument_group(
        "S3",
        "Credentials from AWS_* variables, or by the SDK's chain: see --s3-credentials.",
    )
    _add_s3_connection_arguments(s3)
    telegram = parser.add_argument_group("Telegram", "The bot token only from TELEGRAM_BOT_TOKEN.")
    telegram.add_argument("--telegram-api-url", default=TELEGRAM_API_URL, help="Bot API base URL")


def access_from_args(args: argparse.Namespace) -> Access:
    """The settings `add_access_arguments` declared; RunError if one is invalid."""
    return Access(
        pvc_root=args.pvc_root,
        s3=_s3_connection(args),
        telegram_api_url=_telegram_api_url(args.telegram_api_url),
    )


def add_destination_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare where the artifact is: exactly one of a file, an S3 object, a Telegram chat,
    and each destination's settings (read by `target_from_args`)."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--output", type=Path, help="path of the artifact (a local file)")
    where.add_argument("--s3-bucket", help="the artifact is in this S3 bucket instead")
    where.add_argument("--telegram-chat-id", help="the artifact is in this Telegram chat instead")
    s3 = parser.add_argument_group(
        "S3 destination",
        "Credentials from AWS_* variables, or by the SDK's chain: see --s3-credentials.",
    )
    s3.add_argument("--s3-key", help="object key (required with --s3-bucket)")
    _add_s3_connection_arguments(s3)
    s3.add_argument(
        "--s3-download-link-seconds",
        type=int,
        help=f"after success, presign a GET URL valid this long (1-{MAX_DOWNLOAD_LINK_SECONDS} "
        "seconds); it goes only to the result file, never to stdout or logs",
    )
    telegram = parser.add_argument_group(
        "Telegram destination", "The bot token only from TELEGRAM_BOT_TOKEN."
    )
    telegram.add_argument(
        "--telegram-file-name", help="artifact file name (required with --telegram-chat-id)"
    )
    telegram.add_argument("--telegram-api-url", default=TELEGRAM_API_URL, help="Bot API base URL")
    telegram.add_argument(
        "--telegram-part-size",
        type=int,
        default=TELEGRAM_DEFAULT_PART_BYTES,
        help=f"largest part in bytes ({TELEGRAM_MIN_PART_BYTES}-{TELEGRAM_MAX_PART_BYTES}; "
        f"up to {TELEGRAM_LOCAL_MAX_PART_BYTES} for a local Bot API server)",
    )
    telegram.add_argument(
        "--telegram-max-rate-limit-wait-seconds",
        type=int,
        default=TELEGRAM_DEFAULT_RATE_LIMIT_WAIT_SECONDS,
        help="give up once the run's waits for rate limits (HTTP 429) would exceed this "
        f"(0-{TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `dump` subcommand's arguments on `parser`."""
    add_common_arguments(parser)
    add_destination_arguments(parser)
    parser.add_argument("--artifact-url", help="URL recorded in the result (default: file URL)")
    add_choice(parser, "--format", DumpFormat.CUSTOM, "pg_dump format")
    add_choice(
        parser,
        "--compression",
        Compression.ZSTD,
        "zstd: by the runner, multi-threaded; gzip: pg_dump's own",
    )
    defaults = ", ".join(f"{codec} {level}" for codec, level in DEFAULT_COMPRESSION_LEVELS.items())
    parser.add_argument("--compression-level", type=int, help=f"default: {defaults}")
    parser.add_argument(
        "--lock-wait-timeout-seconds",
        type=int,
        default=DEFAULT_LOCK_WAIT_TIMEOUT_SECONDS,
        help="give up if a table lock is not granted in time",
    )
    add_choice(
        parser,
        "--verify",
        Verification.TOC,
        "toc: list the archive; full: read all of it (plain: a scan of the SQL, either way)",
    )
    age = parser.add_argument_group(
        "Encryption", "Encrypt the artifact with age (after compression, verified before)."
    )
    age.add_argument(
        "--age-recipient",
        action="append",
        default=[],
        help="an age X25519 recipient (age1...), repeatable",
    )
    age.add_argument(
        "--age-recipients-file", type=Path, help="a file of recipients, one a line (age -R)"
    )


def result_file(args: argparse.Namespace) -> Path | None:
    """Where the result goes besides stdout."""
    path: Path | None = args.result_file
    if path is None and TERMINATION_LOG.exists():
        return TERMINATION_LOG
    return path


def _level(compression: Compression, level: int | None) -> int | None:
    if compression is Compression.NONE:
        if level is not None:
            raise RunError(Reason.VALIDATION_FAILED, "--compression-level needs a compression")
        return None
    allowed = COMPRESSION_LEVELS[compression]
    if level is None:
        return DEFAULT_COMPRESSION_LEVELS[compression]
    if level not in allowed:
        raise RunError(
            Reason.VALIDATION_FAILED,
            f"{compression} level must be within {allowed.start}..{allowed.stop - 1}",
        )
    return level


def from_args(args: argparse.Namespace) -> DumpOptions:
    """Check the parsed arguments' combinations and fill in defaults."""
    if args.lock_wait_timeout_seconds < 1:
        raise RunError(Reason.VALIDATION_FAILED, "--lock-wait-timeout-seconds must be >= 1")
    target = target_from_args(args)
    if args.artifact_url and isinstance(target, TelegramTarget):
        raise RunError(
            Reason.VALIDATION_FAILED, "--artifact-url cannot be set: Telegram names it on commit"
        )
    return DumpOptions(
        tenant=args.tenant,
        target=target,
        artifact_url=args.artifact_url or default_url(target),
        format=args.format,
        compression=args.compression,
        compression_level=_level(args.compression, args.compression_level),
        lock_wait_timeout_seconds=args.lock_wait_timeout_seconds,
        verify=args.verify,
        pg_bin_dir=args.pg_bin_dir,
        pg_root=args.pg_root,
        age_recipients=tuple(args.age_recipient),
        age_recipients_file=args.age_recipients_file,
    )


def _telegram_target(args: argparse.Namespace) -> TelegramTarget:
    if not re.fullmatch(CHAT_ID_TEXT, args.telegram_chat_id):
        raise RunError(Reason.VALIDATION_FAILED, "--telegram-chat-id: not a chat id or @username")
    if not args.telegram_file_name or not re.fullmatch(FILE_NAME, args.telegram_file_name):
        raise RunError(
            Reason.VALIDATION_FAILED, "--telegram-chat-id needs a --telegram-file-name like a.b"
        )
    api_url = _telegram_api_url(args.telegram_api_url)
    largest = telegram_max_part_bytes(args.telegram_api_url)
    if not TELEGRAM_MIN_PART_BYTES <= args.telegram_part_size <= largest:
        raise RunError(
            Reason.VALIDATION_FAILED,
            f"--telegram-part-size must be within {TELEGRAM_MIN_PART_BYTES}..{largest}",
        )
    wait = args.telegram_max_rate_limit_wait_seconds
    if not 0 <= wait <= TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS:
        raise RunError(
            Reason.VALIDATION_FAILED,
            "--telegram-max-rate-limit-wait-seconds must be within "
            f"0..{TELEGRAM_MAX_RATE_LIMIT_WAIT_SECONDS}",
        )
    return TelegramTarget(
        chat_id=args.telegram_chat_id,
        file_name=args.telegram_file_name,
        api_url=api_url,
        part_size=args.telegram_part_size,
        max_rate_limit_wait_seconds=wait,
    )


def target_from_args(args: argparse.Namespace) -> Target:
    """The destination `add_destination_arguments` declared; RunError if it is incomplete."""
    if args.output is not None:
        return LocalTarget(args.output)
    if args.telegram_chat_id is not None:
        return _telegram_target(args)
    if not args.s3_key:
        raise RunError(Reason.VALIDATION_FAILED, "--s3-bucket needs --s3-key")
    seconds = args.s3_download_link_seconds
    if seconds is not None and not 1 <= seconds <= MAX_DOWNLOAD_LINK_SECONDS:
        raise RunError(
            Reason.VALIDATION_FAILED,
            f"--s3-download-link-seconds must be within 1..{MAX_DOWNLOAD_LINK_SECONDS} (7 days)",
        )
    return S3Target(
        bucket=args.s3_bucket,
        key=args.s3_key,
        download_link_seconds=seconds,
        **dataclasses.asdict(_s3_connection(args)),
    )


def default_url(target: Target) -> str:
    """The artifact URL when the caller names none: a file URL, `s3://bucket/key`, or
    `telegram://<chat>` (the manifest's message id is appended on commit)."""
    if isinstance(target, LocalTarget):
        return FileLocation(PurePosixPath(target.path.absolute())).url
    if isinstance(target, TelegramTarget):
        return TelegramLocation(target.chat_id).url
    return S3Location(target.bucket, target.key).url
