"""Telegram as the real Bot API behaves, against the stand-in: flood limits kept (one upload
in-process, paced by the limits the stand-in announces; two runner processes at the real
limits), 429s waited out within the run's budget, 30 parts deleted in one call, and chats
the bot may not post to (migrated, kicked, blocked, refused) failing before pg_dump."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest

from devenv.telegram_chats import FloodLimits
from devenv.telegram_restore import reassemble
from devenv.telegram_stand_in import BotApiStandIn
from devenv.tenants import Database
from tenant_backup.api.contract import TELEGRAM_MIN_PART_BYTES
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations import telegram
from tenant_backup.runner.destinations.base import Digest
from tenant_backup.runner.destinations.bot_api_limits import ChatLimits
from tenant_backup.runner.destinations.telegram import TelegramUpload
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import TelegramTarget
from tests.support.artifacts import FACTS, payload
from tests.support.dump_runs import Run, add_blobs, assert_failed
from tests.support.telegram_runs import CHAT, FILE, run_to_telegram

PART = TELEGRAM_MIN_PART_BYTES
PARTS = 30
# The stand-in's limits scaled down tenfold, and the runner paced by them: 31 sends take ~4 s.
SCALED = FloodLimits(interval=0.1, burst=20, window=6.0)


@pytest.fixture
def scaled(bot_api: BotApiStandIn, monkeypatch: pytest.MonkeyPatch) -> BotApiStandIn:
    """The stand-in with `SCALED` limits, the runner pacing by them; its token in the env."""
    bot_api.flood = SCALED
    limits = ChatLimits(SCALED.interval, SCALED.burst, SCALED.window)
    monkeypatch.setattr(telegram, "chat_limits", lambda chat_type: limits)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot_api.token)
    return bot_api


def _upload(api: BotApiStandIn, budget: int = 900) -> TelegramUpload:
    target = TelegramTarget(CHAT, FILE, api.url, PART, budget)
    return TelegramUpload.start(target, f"telegram://{CHAT}", FACTS, time.sleep)


def _sends(api: BotApiStandIn) -> list[float]:
    """When the sends the stand-in accepted arrived."""
    return [c.at for c in api.calls if c.method == "sendDocument" and c.status == 200]


def test_30_parts_to_a_group_keep_within_its_limits_without_a_429(scaled: BotApiStandIn) -> None:
    upload = _upload(scaled)
    upload.write(payload(PARTS * PART))
    upload.finish()
    upload.commit(_digest(PARTS * PART))
    assert [call.status for call in scaled.calls if call.status != 200] == []
    sent = _sends(scaled)
    assert len(sent) == PARTS + 1
    # (arrival times: the stand-in counts a send a moment later, when it admits it)
    assert all(b - a >= SCALED.interval * 0.9 for a, b in pairwise(sent))
    assert all(sent[i] - sent[i - 20] >= SCALED.window - 0.05 for i in range(20, len(sent)))
    throttled = upload.throttled()
    assert throttled.rate_limited_seconds == 0
    assert throttled.paced_seconds >= SCALED.window - 1  # the 21st waited for the window


def test_injected_429s_are_waited_out_within_the_budget(scaled: BotApiStandIn) -> None:
    upload = _upload(scaled, budget=4)
    upload.write(payload(10 * PART + 1))  # ten parts sent
    scaled.rate_limit(calls=3, retry_after=1)
    upload.write(payload(20 * PART))
    upload.finish()
    upload.commit(_digest(PARTS * PART + 1))
    assert [call.status for call in scaled.calls].count(429) == 3
    assert upload.throttled().rate_limited_seconds == 3
    scaled.rate_limit(calls=2, retry_after=1)  # one wait more than the budget allows
    with pytest.raises(RunError) as caught:
        _upload(scaled, budget=1)
    assert caught.value.reason is Reason.DESTINATION_UNAVAILABLE
    assert caught.value.message == (
        "Bot API getMe: still rate limited (retry after 1 s), more than is left: "
        "1 of the run's 1 s for rate-limit waits spent"
    )


def test_abort_deletes_30_parts_in_one_call(scaled: BotApiStandIn) -> None:
    upload = _upload(scaled)
    upload.write(payload(PARTS * PART + 1))  # 30 parts sent, one byte buffered
    upload.abort()
    deletes = [call for call in scaled.calls if call.method.startswith("delete")]
    assert [(call.method, call.status) for call in deletes] == [("deleteMessages", 200)]
    assert len(scaled.messages) == PARTS
    assert scaled.live() == []


def _digest(size: int) -> Digest:
    return Digest("ab" * 32, size)


@pytest.fixture
def big_tenant_db(tenant_db: Database) -> Database:
    """tenant_db whose tenant_acme holds ~3 MiB of incompressible rows: four 1 MiB parts."""
    add_blobs(tenant_db, 3_000)
    return tenant_db


def test_two_jobs_posting_to_one_group_at_once_both_finish(
    big_tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    def job(name: str) -> Run:
        (tmp_path / name).mkdir()
        return run_to_telegram(
            big_tenant_db, bot_api, tmp_path / name, "--telegram-part-size", str(PART)
        )

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(job, ["a", "b"]))
    for run in runs:
        assert run.returncode == 0, run.stderr
    sent = _sends(bot_api)
    assert len(sent) == 2 * 5  # four parts and a manifest each
    assert all(b - a >= 0.95 for a, b in pairwise(sent))
    waited = sum(run.result["artifact"]["rateLimitedSeconds"] for run in runs)
    assert waited == [call.status for call in bot_api.calls].count(429)  # 1 s each
    for run in runs:
        _, body = reassemble(bot_api.url, bot_api.token, run.result["artifact"]["url"])
        assert len(body) == run.result["artifact"]["sizeBytes"]


def test_a_migrated_group_fails_at_once_naming_its_new_id(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bot_api.chat(-4001).migrated_to = int(CHAT)
    run = run_to_telegram(tenant_db, bot_api, tmp_path, "--telegram-chat-id=-4001")
    assert_failed(run, "ValidationFailed", retryable=False)
    assert run.result["message"] == (
        f"Bot API sendChatAction: the group was upgraded to a supergroup: set chatId to {CHAT}"
    )
    assert "running " not in run.stderr  # pg_dump never started
    assert bot_api.messages == []


REFUSALS = [
    (400, "Bad Request: need administrator rights in the channel chat"),
    (400, "Bad Request: have no write access to the chat"),
    (400, "Bad Request: have no rights to send a message"),
    (400, "Bad Request: CHAT_WRITE_FORBIDDEN"),
    (400, "Bad Request: CHAT_RESTRICTED"),
]


@pytest.mark.parametrize(
    ("chat_id", "setup", "message"),
    [
        *[(-1001234567890, {"refusal": refusal}, f"HTTP {refusal[0]}: {refusal[1]}")
          for refusal in REFUSALS],
        (-4002, {"bot_status": "kicked"}, "it was removed from it"),
        (-1001234567891, {"bot_status": "left"},
         "HTTP 403: Forbidden: bot is not a member of the supergroup chat"),
        (-1001234567892, {"type": "channel"},
         "it is no administrator allowed to post messages (a channel needs one)"),
        (-1001234567893, {"bot_status": "restricted", "can_send_documents": False},
         "it may not send documents (the chat's permissions)"),
        (4003, {"blocked": True}, "HTTP 403: Forbidden: bot was blocked by the user"),
    ],
)  # fmt: skip
def test_a_chat_the_bot_may_not_post_to_fails_before_pg_dump(
    tenant_db: Database,
    bot_api: BotApiStandIn,
    tmp_path: Path,
    chat_id: int,
    setup: dict[str, object],
    message: str,
) -> None:
    chat = bot_api.chat(chat_id)
    for name, value in setup.items():
        setattr(chat, name, value)
    run = run_to_telegram(tenant_db, bot_api, tmp_path, f"--telegram-chat-id={chat_id}")
    assert_failed(run, "PermissionDenied", retryable=False)
    assert run.result["message"].endswith(message)
    assert "running " not in run.stderr  # pg_dump never started
    assert bot_api.messages == []
