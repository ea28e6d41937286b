"""Reading and deleting stored artifacts, the pure parts: digests checked while streaming."""

from tenant_backup.api.reasons import Reason, is_retryable
from tenant_backup.runner.destinations.base import checked, sha256_hex
from tests.support.artifacts import failure, sha256


def test_read_failures_are_permanent() -> None:
    assert not is_retryable(Reason.ARTIFACT_NOT_FOUND)
    assert not is_retryable(Reason.ARTIFACT_CORRUPT)


def test_the_expected_digest_is_64_hex_digits() -> None:
    assert sha256_hex(" " + "AB" * 32 + "\n") == "ab" * 32
    error = failure(lambda: sha256_hex("ab" * 31))
    assert (error.reason, error.message) == (
        Reason.VALIDATION_FAILED,
        "the expected sha256 must be 64 hex digits",
    )


def test_chunks_pass_through_and_are_checked_after_the_last() -> None:
    chunks = [b"ab", b"", b"cd"]
    assert list(checked(chunks, sha256(b"abcd"), "x", 4)) == chunks
    short = checked(chunks, sha256(b"abcd"), "x", 5)
    assert next(short) == b"ab"  # bytes flow before the verdict
    assert failure(lambda: list(short)).message == "x: 4 bytes, expected 5"
    wrong = failure(lambda: list(checked(chunks, sha256(b"abce"), "x")))
    assert wrong.reason is Reason.ARTIFACT_CORRUPT
    assert wrong.message == f"x: sha256 {sha256(b'abcd')}, expected {sha256(b'abce')}"
