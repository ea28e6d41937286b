"""Artifacts in a Telegram chat, through the local stand-in for the cloud Bot API: the
manifest found by forwarding its message (the copy deleted), parts downloaded one at a time
and checked, corruption and absence told apart; deleted, or said to be left where the API
refuses (messages older than 48 hours)."""

from __future__ import annotations

import time

import pytest

from devenv.telegram_stand_in import BotApiStandIn
from tenant_backup.api.contract import TELEGRAM_MIN_PART_BYTES, TelegramLocation, parse_artifact_url
from tenant_backup.runner.destinations import delete
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.destinations.base import Leftover, PartlyLeft
from tenant_backup.runner.destinations.telegram import TelegramUpload
from tenant_backup.runner.destinations.telegram_artifact import UNDELETABLE
from tenant_backup.runner.options import TelegramTarget
from tests.support.artifacts import FACTS, assert_round_trip, payload, read_failure, sha256, write

CHAT = "-1001234567890"
FILE = "acme-20261125T120000Z-0a1b2c3d.pgdump.zst"
PART = TELEGRAM_MIN_PART_BYTES


@pytest.fixture
def access(bot_api: BotApiStandIn, monkeypatch: pytest.MonkeyPatch) -> Access:
    """The stand-in's URL; its bot token in the environment."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot_api.token)
    return Access(telegram_api_url=bot_api.url)


def _written(access: Access, data: bytes) -> TelegramLocation:
    target = TelegramTarget(CHAT, FILE, access.telegram_api_url, PART)
    url = write(TelegramUpload.start(target, f"telegram://{CHAT}", FACTS, time.sleep), data)
    location = parse_artifact_url(url)
    assert isinstance(location, TelegramLocation)
    return location


def test_round_trip(bot_api: BotApiStandIn, access: Access) -> None:
    data = payload(2 * PART + 12345)
    location = _written(access, data)
    sent = bot_api.live()
    assert [m.message_id for m in sent] == [1, 2, 3, 4]  # three parts, the manifest
    assert location.message_id == 4
    assert_round_trip(location, access, data, chunk_size=64 * 1024)
    assert bot_api.live() == []
    forwarded = [m for m in bot_api.messages if m not in sent]
    assert forwarded  # the manifest's copies, each deleted at once
    assert all(m.deleted for m in forwarded)
    methods = [call.method for call in bot_api.calls]
    assert methods.count("getFile") == (1 + 3) + 1  # read: the manifest, each part; delete


def test_a_missing_manifest_is_not_found(bot_api: BotApiStandIn, access: Access) -> None:
    error = read_failure(TelegramLocation(CHAT, 42), access, "a" * 64)
    assert (error.reason, error.message) == (
        "ArtifactNotFound",
        "Bot API forwardMessage: HTTP 400: Bad Request: message to forward not found",
    )


def test_changed_bytes_are_corrupt(bot_api: BotApiStandIn, access: Access) -> None:
    data = payload(2 * PART + 12345)
    location = _written(access, data)
    part = bot_api.messages[1].document
    assert part is not None
    original = part.data
    part.data = original[:100] + bytes([original[100] ^ 1]) + original[101:]
    error = read_failure(location, access, sha256(data))
    assert error.reason == "ArtifactCorrupt"
    assert error.message == (
        f"part 2 of {location.url}: sha256 {sha256(part.data)}, expected {sha256(original)}"
    )
    part.data = original
    other = sha256(b"another artifact")
    error = read_failure(location, access, other)
    assert (
        error.message
        == f"{location.url}: the manifest says sha256 {sha256(data)}, expected {other}"
    )


def test_messages_older_than_48_hours_are_left_and_said_so(
    bot_api: BotApiStandIn, access: Access
) -> None:
    location = _written(access, payload(PART + 1))
    bot_api.age(1, hours=49)  # the first part
    bot_api.age(3, hours=49)  # the manifest
    why = f"Bot API deleteMessage: HTTP 400: Bad Request: message can't be deleted ({UNDELETABLE})"
    assert delete(location, access) == PartlyLeft(
        (Leftover("message 1 (part 1)", why), Leftover("message 3 (the manifest)", why))
    )
    assert [m.message_id for m in bot_api.live()] == [1, 3]
    assert delete(location, access) == PartlyLeft(
        (Leftover("message 1 (part 1)", why), Leftover("message 3 (the manifest)", why))
    )


def test_a_wrong_token_is_auth_failed(
    bot_api: BotApiStandIn, access: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = _written(access, b"x")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot_api.token.split(":")[0] + ":wrong")
    error = read_failure(location, access, sha256(b"x"))
    assert (error.reason, error.message) == (
        "AuthFailed",
        "Bot API forwardMessage: HTTP 401: Unauthorized",
    )
