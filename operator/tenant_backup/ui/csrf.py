"""CSRF tokens: an HMAC of what the request is bound to (a session id, a pre-sign-in cookie,
or the proxy's token), so a page of another site can neither read nor forge one."""

import hashlib
import hmac

CSRF_FIELD = "csrf"


def csrf_token(secret: bytes, bound_to: str) -> str:
    """The form token for `bound_to`, under the server's `secret`."""
    return hmac.new(secret, b"csrf\0" + bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, bound_to: str, submitted: str | None) -> bool:
    """Whether `submitted` is `bound_to`'s token (compared in constant time)."""
    if not submitted or not bound_to:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to), submitted)


def token_key(bearer_token: str) -> str:
    """A stable key for a bearer token that does not reveal it (proxy mode's CSRF binding and
    rate-limit cache)."""
    return hashlib.sha256(bearer_token.encode()).hexdigest()
