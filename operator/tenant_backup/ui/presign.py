"""S3 presigned GET URLs (AWS Signature Version 4, query-string form), signed locally with
credentials the user's token could read: pure, no S3 client, no request.

The URL carries the access key ID (every presigned URL does) and a signature, never the
secret key; whoever holds it may download that one object until it expires.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class S3Credentials:
    """What signs: an access key pair and an optional session token."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"S3Credentials(access_key_id={self.access_key_id!r}, ...)"


@dataclass(frozen=True)
class S3Target:
    """Where the object is: the endpoint (`https://host[:port]`), its region and addressing."""

    bucket: str
    key: str
    region: str
    endpoint: str | None = None
    """None: AWS's regional endpoint."""
    path_style: bool = False


def presigned_get(
    target: S3Target, credentials: S3Credentials, now: datetime, expires_seconds: int
) -> str:
    """A URL that GETs `target` until `now + expires_seconds`."""
    endpoint = urlsplit(target.endpoint or f"https://s3.{target.region}.amazonaws.com")
    object_path = "/" + _encode(target.key, safe="/~")
    if target.path_style:
        host, path = endpoint.netloc, endpoint.path.rstrip("/") + f"/{target.bucket}{object_path}"
    else:
        host, path = f"{target.bucket}.{endpoint.netloc}", endpoint.path.rstrip("/") + object_path
    day, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{day}/{target.region}/s3/aws4_request"
    query = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key_id}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires_seconds),
        "X-Amz-SignedHeaders": "host",
    }
    if credentials.session_token:
        query["X-Amz-Security-Token"] = credentials.session_token
    canonical_query = "&".join(
        f"{_encode(name)}={_encode(value)}" for name, value in sorted(query.items())
    )
    canonical_request = "\n".join(
        ["GET", path, canonical_query, f"host:{host}", "", "host", UNSIGNED_PAYLOAD]
    )
    to_sign = "\n".join(
        [ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (day, target.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{endpoint.scheme}://{host}{path}?{canonical_query}&X-Amz-Signature={signature}"


def _encode(value: str, safe: str = "~") -> str:
    """RFC 3986 encoding as SigV4 wants it: unreserved characters (and `safe`) kept."""
    return quote(value, safe=safe)
