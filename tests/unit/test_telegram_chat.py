"""The Telegram destination's checks before pg_dump (may the bot post documents to the chat?)
and its pacing of the sends by the chat's flood limits, on a fake clock."""

from pathlib import Path
from typing import Any

import pytest

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.bot_api import BotApi, Document, Fields
from tenant_backup.runner.destinations.bot_api_limits import (
    GROUP_CHAT,
    PRIVATE_CHAT,
    Pacer,
    chat_limits,
)
from tenant_backup.runner.destinations.telegram_chat import Chat, writable_chat
from tenant_backup.runner.errors import RunError

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


class ChatApi(BotApi):
    """Answers getMe, getChat and getChatMember as told, recording the calls."""

    def __init__(self, chat: dict[str, Any], member: dict[str, Any]) -> None:
        super().__init__("http://127.0.0.1:1", TOKEN)
        self.methods: list[str] = []
        self._replies = {"getMe": {"id": 42}, "getChat": chat, "getChatMember": member}

    def call(self, method: str, fields: Fields, document: Document | None = None) -> Any:
        self.methods.append(method)
        if method == "getChatMember":
            assert fields["user_id"] == 42  # the bot itself
        return self._replies.get(method, True)


@pytest.mark.parametrize(
    ("chat", "member"),
    [
        ({"id": 7, "type": "private"}, {}),
        ({"id": -5, "type": "group"}, {"status": "member"}),
        ({"id": -5, "type": "group", "permissions": {"can_send_documents": False}},
         {"status": "administrator"}),
        ({"id": -1005, "type": "supergroup"}, {"status": "restricted", "is_member": True}),
        ({"id": -1005, "type": "channel"}, {"status": "administrator", "can_post_messages": True}),
        ({"id": -1005, "type": "channel"}, {"status": "creator"}),
    ],
)  # fmt: skip
def test_a_bot_that_may_post_documents_passes(chat: dict[str, Any], member: Any) -> None:
    api = ChatApi(chat, member)
    assert writable_chat(api, str(chat["id"])) == Chat(chat["id"], chat["type"])
    asked = ["getMe", "getChat", "getChatMember", "sendChatAction"]
    if chat["type"] == "private":
        asked.remove("getChatMember")
    assert api.methods == asked


@pytest.mark.parametrize(
    ("chat", "member", "why"),
    [
        ({"type": "group"}, {"status": "left"}, "group -5: it is not a member"),
        ({"type": "supergroup"}, {"status": "kicked"}, "supergroup -5: it was removed from it"),
        ({"type": "supergroup"}, {"status": "restricted", "is_member": False},
         "supergroup -5: it is not a member"),
        ({"type": "supergroup"}, {"status": "restricted", "is_member": True,
                                  "can_send_documents": False},
         "supergroup -5: it may not send documents (the chat's permissions)"),
        ({"type": "group", "permissions": {"can_send_documents": False}}, {"status": "member"},
         "group -5: it may not send documents (the chat's permissions)"),
        ({"type": "channel"}, {"status": "member"},
         "channel -5: it is no administrator allowed to post messages (a channel needs one)"),
        ({"type": "channel"}, {"status": "administrator", "can_post_messages": False},
         "channel -5: it is no administrator allowed to post messages (a channel needs one)"),
    ],
)  # fmt: skip
def test_a_bot_that_may_not_post_is_permission_denied_before_any_send(
    chat: dict[str, Any], member: dict[str, Any], why: str
) -> None:
    api = ChatApi({"id": -5} | chat, member)
    with pytest.raises(RunError) as caught:
        writable_chat(api, "-5")
    assert caught.value.reason is Reason.PERMISSION_DENIED
    assert caught.value.message == f"the bot cannot send documents to {why}"
    assert api.methods == ["getMe", "getChat", "getChatMember"]


def test_chat_types_set_the_limits() -> None:
    assert chat_limits("private") is PRIVATE_CHAT
    assert [chat_limits(kind) for kind in ("group", "supergroup", "channel", "?")] == [
        GROUP_CHAT
    ] * 4


def _schedule(pacer: Pacer, clock: list[float], sends: int) -> list[float]:
    """When each of `sends` calls goes out, each answered at once."""
    times = []
    for _ in range(sends):
        clock[0] += pacer.delay()
        times.append(clock[0])
        pacer.mark()
    return times


def test_a_group_gets_one_send_a_second_and_20_a_minute() -> None:
    clock = [1000.0]
    times = _schedule(Pacer(GROUP_CHAT, lambda: clock[0]), clock, 31)  # 30 parts, a manifest
    offsets = [t - 1000.0 for t in times]
    assert offsets[:20] == [float(i) for i in range(20)]
    assert offsets[20:] == [60.0 + i for i in range(11)]  # the 21st a minute after the 1st
    for i in range(20, 31):
        assert times[i] - times[i - 20] >= 60.0


def test_a_private_chat_gets_one_send_a_second() -> None:
    clock = [0.0]
    times = _schedule(Pacer(PRIVATE_CHAT, lambda: clock[0]), clock, 31)
    assert times == [float(i) for i in range(31)]


def test_slow_replies_count_from_when_they_came() -> None:
    clock = [0.0]
    pacer = Pacer(GROUP_CHAT, lambda: clock[0])
    pacer.mark()
    clock[0] += 3.0  # an upload that took 3 s: no wait after it
    assert pacer.delay() == 0.0


def test_a_local_servers_files_are_read_from_its_disk_inside_the_bots_directory(
    tmp_path: Path,
) -> None:
    api = BotApi("http://127.0.0.1:1", TOKEN)
    documents = tmp_path / TOKEN / "documents"
    documents.mkdir(parents=True)
    (documents / "file_1").write_bytes(b"x" * 10)
    assert list(api.read_local(str(documents / "file_1"), 4)) == [b"xxxx", b"xxxx", b"xx"]
    for outside in (tmp_path / "file_1", documents / ".." / ".." / "file_1"):
        with pytest.raises(RunError) as caught:
            list(api.read_local(str(outside), 4))
        assert caught.value.reason is Reason.ARTIFACT_CORRUPT
    with pytest.raises(RunError) as caught:
        list(api.read_local(str(documents / "file_2"), 4))
    assert caught.value.reason is Reason.DESTINATION_UNAVAILABLE
    assert "mount its --dir read-only at the same path" in caught.value.message
    assert TOKEN not in caught.value.message
