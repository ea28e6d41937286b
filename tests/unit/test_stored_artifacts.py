"""Reading and deleting stored artifacts, the pure parts: digests checked while streaming,
manifests parsed, Bot API replies of reads and deletes, and what a URL alone does not say."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tenant_backup.api.contract import S3Location, TelegramLocation
from tenant_backup.api.reasons import Reason, is_retryable
from tenant_backup.runner.destinations import open_reader
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.destinations.base import Leftover, PartlyLeft, checked, sha256_hex
from tenant_backup.runner.destinations.bot_api import BotApi, Fields, parse_reply
from tenant_backup.runner.destinations.telegram import MANIFEST_KIND
from tenant_backup.runner.destinations.telegram_artifact import (
    UNDELETABLE,
    TelegramArtifact,
    parse_manifest,
)
from tenant_backup.runner.errors import RunError
from tests.support.artifacts import failure, sha256

URL = "telegram://-100/7"


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


def _manifest(**changes: Any) -> bytes:
    part = {"part": 1, "sizeBytes": 4, "sha256": "a" * 64, "messageId": 5, "fileId": "f5"}
    document = {"kind": MANIFEST_KIND, "sha256": "b" * 64, "sizeBytes": 8}
    document["parts"] = [part, part | {"part": 2, "messageId": 6, "fileId": "f6"}]
    return json.dumps(document | changes).encode()


def test_a_manifest_lists_its_parts_in_order() -> None:
    manifest = parse_manifest(_manifest(), URL)
    assert (manifest.sha256, manifest.size_bytes) == ("b" * 64, 8)
    assert [(p.part, p.message_id, p.file_id) for p in manifest.parts] == [
        (1, 5, "f5"),
        (2, 6, "f6"),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "not a manifest (Expecting value"),
        (_manifest(kind="something/v2"), "not a manifest (kind 'something/v2')"),
        (_manifest(parts=[{"part": 1}]), "not a manifest ('sizeBytes')"),
        (_manifest(sizeBytes=9), "the manifest's sizes do not add up"),
        (_manifest(parts=json.loads(_manifest())["parts"][::-1]), "parts are [2, 1]"),
    ],
)
def test_a_broken_manifest_is_corrupt(data: bytes, problem: str) -> None:
    error = failure(lambda: parse_manifest(data, URL))
    assert error.reason is Reason.ARTIFACT_CORRUPT
    assert error.message.startswith(f"{URL}: ")
    assert problem in error.message


BAD_REQUESTS = {
    "message to forward not found": Reason.ARTIFACT_NOT_FOUND,
    "message to delete not found": Reason.ARTIFACT_NOT_FOUND,
    "invalid file_id": Reason.ARTIFACT_NOT_FOUND,
    "message can't be deleted": Reason.PERMISSION_DENIED,  # older than 48 hours, or no right
    "message can't be forwarded": Reason.PERMISSION_DENIED,
    "message to edit not found": Reason.UPLOAD_FAILED,  # an upload's, as before
}


@pytest.mark.parametrize("words", BAD_REQUESTS)
def test_bot_api_replies_of_reads_and_deletes(words: str) -> None:
    reply = {"ok": False, "error_code": 400, "description": f"Bad Request: {words}"}
    error = failure(lambda: parse_reply("m", 400, json.dumps(reply).encode()))
    assert error.reason is BAD_REQUESTS[words]


def test_a_part_too_big_to_download_says_why() -> None:
    body = b'{"ok": false, "error_code": 400, "description": "Bad Request: file is too big"}'
    error = failure(lambda: parse_reply("getFile", 400, body))
    assert (error.reason, error.message) == (
        Reason.VALIDATION_FAILED,
        "Bot API getFile: HTTP 400: Bad Request: file is too big: the cloud Bot API lets bots "
        "download files of at most 20 MB",
    )


def test_what_a_url_alone_does_not_say_is_asked_for() -> None:
    no_s3 = failure(lambda: open_reader(S3Location("b", "k"), Access(), "a" * 64))
    assert (no_s3.reason, no_s3.message) == (
        Reason.VALIDATION_FAILED,
        "s3://b/k: no S3 connection settings",
    )
    no_id = failure(lambda: open_reader(TelegramLocation("-100"), Access(), "a" * 64))
    assert no_id.message == "telegram://-100: no manifest message id"


class NoDeletesApi(BotApi):
    """A channel where the bot may post but not delete: every deleteMessage(s) is refused."""

    NOT_ALLOWED = "Bot API deleteMessage: HTTP 400: Bad Request: message can't be deleted"

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1", "1:token")
        self.methods: list[str] = []

    def call(self, method: str, fields: Fields, document: Any = None) -> Any:
        self.methods.append(method)
        if method in ("deleteMessage", "deleteMessages"):
            raise RunError(Reason.PERMISSION_DENIED, self.NOT_ALLOWED)
        if method == "forwardMessage":
            return {"message_id": 99, "document": {"file_id": "m", "file_size": 300}}
        return {"file_path": f"documents/{fields['file_id']}"}

    def download(self, file_path: str, chunk_size: int) -> Iterator[bytes]:
        yield _manifest()


def test_every_message_the_api_refuses_to_delete_is_left_even_the_forwarded_copy() -> None:
    api = NoDeletesApi()
    outcome = TelegramArtifact(api, "-100", 7).delete()
    deletes = [method for method in api.methods if method.startswith("delete")]
    assert deletes == ["deleteMessage", "deleteMessages"] + ["deleteMessage"] * 3
    why = f"{NoDeletesApi.NOT_ALLOWED} ({UNDELETABLE})"
    assert outcome == PartlyLeft(
        (
            Leftover("message 99 (a forwarded copy of the manifest)", why),
            Leftover("message 5 (part 1)", why),
            Leftover("message 6 (part 2)", why),
            Leftover("message 7 (the manifest)", why),
        )
    )
