"""S3-compatible object storage: the artifact streams up as a multipart upload that is
completed only after the stream was verified; any failure (pg_dump dying, a signal, a failed
check) aborts the upload, so neither an object nor an incomplete upload remains.

- Parts are sized from the schema's on-disk size so a dump stays under 10,000 parts, and grow
  if it outruns that estimate anyway. Memory: one part being filled, one in flight, in two
  buffers that take turns.
- Every part carries Content-MD5, checked by the server whatever the checksum setting.
- The object's metadata (set when the upload starts) holds the tenant, format, compression and
  server/pg_dump versions. Its SHA-256 and size are known only at the end, and S3 cannot change
  a multipart object's metadata without copying it whole (MinIO rewrote 240 MB in 0.7 s; AWS
  refuses single copies over 5 GiB). So they go to a sidecar object `<key>.sha256`
  (`sha256sum -c` format; the same facts in its metadata), written just before the upload is
  completed: whoever sees the artifact finds its sidecar.
- Uploads of the same key left by a killed earlier attempt are aborted when a run starts.

The client, its credentials and error reasons: `s3_client`. Reading and deleting committed
artifacts: `s3_artifact`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import posixpath
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:  # stubs only: botocore's client is used without boto3's session layer
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.base import ArtifactFacts, Digest, DownloadLink
from tenant_backup.runner.destinations.s3_client import (
    abort_stale_uploads,
    abort_upload,
    open_client,
    s3_error,
)
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import S3Target

log = logging.getLogger(__name__)

MIB = 1 << 20
MIN_PART_SIZE = 5 * MIB  # S3's minimum (but for the last part): two in memory
MAX_PART_SIZE = 5 << 30  # S3's limit
MAX_PARTS = 10_000  # S3's limit
PLANNED_PARTS = 9_000  # headroom below MAX_PARTS
SIZE_FACTOR = 2  # a dump can outgrow its tables (bytea as hex text, uncompressed plain SQL)
GROWTH_EVERY = 2_500  # parts after which the part size doubles, should the estimate be short
SIDECAR_SUFFIX = ".sha256"


def base_part_size(size_estimate: int) -> int:
    """max(5 MiB, estimate * factor / 9000), within S3's limits."""
    wanted = math.ceil(size_estimate * SIZE_FACTOR / PLANNED_PARTS)
    return min(max(MIN_PART_SIZE, wanted), MAX_PART_SIZE)


def part_size(number: int, base: int) -> int:
    """Size of part `number` (from 1): `base`, doubling every GROWTH_EVERY parts."""
    return min(base << ((number - 1) // GROWTH_EVERY), MAX_PART_SIZE)


def presign(client: S3Client, bucket: str, key: str, seconds: int) -> DownloadLink:
    """A GET URL for the object, valid `seconds` (signing happens locally, no request)."""
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
    )
    return DownloadLink(url=url, expires_at=expires_at)


def object_metadata(facts: ArtifactFacts) -> dict[str, str]:
    """User metadata (`x-amz-meta-*`) describing the artifact; an encrypted one's says so,
    with its recipients' fingerprints (comma separated)."""
    metadata = {
        "tenant": facts.tenant,
        "format": facts.format,
        "compression": facts.compression,
        "server-version": facts.server_version,
        "pg-dump-version": facts.pg_dump_version,
    }
    if facts.encryption is not None:
        metadata |= {"encryption": facts.encryption, "recipients": ",".join(facts.recipients)}
    return metadata


def sidecar_body(digest: Digest, key: str) -> bytes:
    """`<sha256>  <file name>` as `sha256sum -c` reads it."""
    return f"{digest.sha256}  {posixpath.basename(key)}\n".encode()


class S3Upload:
    """One artifact as a multipart upload."""

    @classmethod
    def start(
        cls, target: S3Target, url: str, facts: ArtifactFacts, size_estimate: int
    ) -> S3Upload:
        """Connect with the credentials the connection names and start the upload."""
        client = open_client(target)
        return cls(client, target.bucket, target.key, url, facts, base_part_size(size_estimate))

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        url: str,
        facts: ArtifactFacts,
        base_size: int,
    ) -> None:
        self.url = url
        self._client = client
        self._bucket = bucket
        self._key = key
        self._facts = facts
        self._base_size = base_size
        abort_stale_uploads(client, bucket, key, url)
        try:
            created = client.create_multipart_upload(
                Bucket=bucket,
                Key=key,
                Metadata=object_metadata(facts),
                ContentType="application/octet-stream",
            )
        except (BotoCoreError, ClientError) as exc:
            raise s3_error(f"start an upload to {url}", exc) from exc
        self._upload_id = created["UploadId"]
        log.info("uploading to %s in parts of %d MiB", url, base_size // MIB)
        self._buffer = bytearray()  # the part being filled: its first `_filled` bytes
        self._filled = 0
        self._in_flight: bytearray | None = None  # the part being sent, filled next
        self._parts: list[CompletedPartTypeDef] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-part")
        self._pending: Future[CompletedPartTypeDef] | None = None
        self._sidecar_written = False
        self._closed = False

    def _upload_part(self, number: int, body: bytearray) -> CompletedPartTypeDef:
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        reply = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=cast(bytes, body),  # any bytes-like body is sent as is
            ContentMD5=md5,
        )
        return {"PartNumber": number, "ETag": reply["ETag"]}

    def _wait(self) -> None:
        """Wait for the part in flight; its failure fails the upload."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        try:
            self._parts.append(pending.result())
        except (BotoCoreError, ClientError) as exc:
            raise s3_error(f"upload part {len(self._parts) + 1} of {self.url}", exc) from exc

    def _send(self) -> None:
        """Hand the filled buffer to the uploader once the part before it is done, and fill
        that part's buffer next: two buffers, allocated once (again only when parts grow)."""
        body = self._buffer
        del body[self._filled :]  # a reused buffer is longer than a short last part
        self._wait()
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise RunError(Reason.UPLOAD_FAILED, f"{self.url} needs more than {MAX_PARTS} parts")
        self._pending = self._pool.submit(self._upload_part, number, body)
        free, self._in_flight = self._in_flight, body
        self._buffer = bytearray() if free is None or len(free) != self._next_part_size() else free
        self._filled = 0

    def _next_part_size(self) -> int:
        in_flight = 0 if self._pending is None else 1
        return part_size(len(self._parts) + in_flight + 1, self._base_size)

    def write(self, data: bytes) -> None:
        """Buffer `data`; each full part is handed to the uploader (not copied) while the next
        one fills."""
        view = memoryview(data)
        while view:
            size = self._next_part_size()
            taken = min(len(view), size - self._filled)
            # Overwrites a reused buffer in place; appends to a new one.
            self._buffer[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
            if self._filled == size:
                self._send()

    def finish(self) -> None:
        """Upload the last part and wait for every part."""
        if self._filled or not (self._parts or self._pending):
            self._send()
        self._wait()

    def local_copy(self) -> None:
        """No local copy: the stream is verified on its way up."""
        return None

    def commit(self, digest: Digest) -> None:
        """Write the sidecar, then complete the upload: the object appears whole."""
        sidecar_metadata = object_metadata(self._facts) | {
            "sha256": digest.sha256,
            "size-bytes": str(digest.size_bytes),
        }
        try:
            self._sidecar_written = True
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._key + SIDECAR_SUFFIX,
                Body=sidecar_body(digest, self._key),
                ContentType="text/plain",
                Metadata=sidecar_metadata,
            )
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        except (BotoCoreError, ClientError) as exc:
            raise s3_error(f"complete {self.url}", exc) from exc
        self._closed = True
        self._pool.shutdown()
        log.info("completed %s: %d parts", self.url, len(self._parts))

    def abort(self) -> None:
        """Abort the upload and delete the sidecar (no-op after commit); never raises."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)  # a part in flight ends first
        abort_upload(self._client, self._bucket, self._key, self._upload_id, self.url)
        if self._sidecar_written:
            try:
                self._client.delete_object(Bucket=self._bucket, Key=self._key + SIDECAR_SUFFIX)
            except (BotoCoreError, ClientError) as exc:
                log.error("cannot delete %s%s: %s", self.url, SIDECAR_SUFFIX, exc)
        log.info("aborted the upload of %s", self.url)

    def download_link(self, seconds: int) -> DownloadLink:
        """A presigned GET URL of the committed object."""
        return presign(self._client, self._bucket, self._key, seconds)

    def throttled(self) -> None:
        """S3 throttling is botocore's retries' business: not measured."""
        return None
