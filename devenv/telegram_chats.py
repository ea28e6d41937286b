"""The chats of the Bot API stand-in: their type, the bot's membership and rights in them, and
the flood control of the real service, answered as the real server answers.

Sources, for each answer (telegram-bot-api is tdlib/telegram-bot-api, `Client.cpp`):
- Access to a chat, checked before any call that writes to it (`Client::check_chat`, with
  `AccessRights::Write`): a basic group upgraded to a supergroup answers 400 "Bad Request:
  group chat was upgraded to a supergroup chat" with `parameters.migrate_to_chat_id`; a bot
  removed from a chat 403 "Forbidden: bot was kicked from the <type> chat"; a bot not in it
  403 "Forbidden: bot is not a member of the <type> chat" (supergroups and channels refuse
  reads too). A user who blocked the bot: TDLib's USER_IS_BLOCKED, which
  `Client::fail_query_with_error` turns into 403 "Forbidden: bot was blocked by the user".
- Rights, checked by TDLib when sending: in a channel only administrators allowed to post,
  else 400 "Bad Request: need administrator rights in the channel chat"; a member without the
  right to send documents, 400 "Bad Request: not enough rights to send documents to the chat".
  Other refusals seen in the wild ("have no write access to the chat", "have no rights to send
  a message", MTProto's CHAT_WRITE_FORBIDDEN and CHAT_RESTRICTED, which the server passes on
  as "Bad Request: <NAME>" because an all-capitals 403 becomes a 400) are injected with
  `ChatState.refusal`.
- Flood control: the Bot API FAQ asks for at most about one message per second in one chat and
  20 per minute in one group; python-telegram-bot's wiki adds channels to the latter. Beyond
  them the service answers 429 "Too Many Requests: retry after N" with
  `parameters.retry_after` N (`Client::get_retry_after_time` reads N from that text), the
  seconds until the window has room. Only sent messages count here.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

USERNAME_CHAT_ID = -1001000000001  # what every @username resolves to: a channel
SUPERGROUP_IDS_BELOW = -1000000000000  # supergroup and channel ids are -100<id>


class ApiError(Exception):
    """A Bot API error reply."""

    def __init__(self, status: int, description: str, **extra: Any) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"ok": False, "error_code": status, "description": description, **extra}


@dataclass(frozen=True)
class FloodLimits:
    """At most one message every `interval` seconds in a chat, and in a group (or channel) at
    most `burst` in any `window` seconds."""

    interval: float = 1.0
    burst: int = 20
    window: float = 60.0


@dataclass
class ChatState:
    """One chat as the server knows it, and the bot's place in it."""

    id: int
    type: str
    """`private`, `group`, `supergroup` or `channel`."""
    bot_status: str = "member"
    """getChatMember's status: creator, administrator, member, restricted, left, kicked."""
    can_post_messages: bool = True
    """An administrator's right to post in a channel."""
    can_send_documents: bool = True
    """A restricted member's right; in a group, also every member's (the chat permission)."""
    blocked: bool = False
    """A private chat whose user blocked the bot."""
    migrated_to: int | None = None
    """A basic group upgraded to the supergroup of this id."""
    refusal: tuple[int, str] | None = None
    """Any other refusal of sends, as (HTTP status, description)."""
    sent: deque[float] = field(default_factory=deque)

    @classmethod
    def of(cls, chat_id: int) -> ChatState:
        """A chat as an id alone suggests: users' ids are positive, groups' negative,
        supergroups' -100<id>; @usernames are channels where the bot may post."""
        if chat_id == USERNAME_CHAT_ID:
            return cls(chat_id, "channel", bot_status="administrator")
        if chat_id > 0:
            return cls(chat_id, "private")
        return cls(chat_id, "supergroup" if chat_id < SUPERGROUP_IDS_BELOW else "group")

    def wire(self) -> dict[str, Any]:
        """getChat's ChatFullInfo."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type in ("group", "supergroup"):
            chat["permissions"] = {"can_send_documents": self.can_send_documents}
        return chat

    def member(self, user_id: int) -> dict[str, Any]:
        """getChatMember's ChatMember for the bot."""
        member: dict[str, Any] = {"status": self.bot_status, "user": {"id": user_id}}
        if self.bot_status == "administrator":
            member["can_post_messages"] = self.can_post_messages
        if self.bot_status == "restricted":
            member |= {"is_member": True, "can_send_documents": self.can_send_documents}
        return member

    def check_read(self) -> None:
        """What `check_chat` refuses to a read (getChat, getChatMember)."""
        if self.type in ("supergroup", "channel") and self.bot_status in ("kicked", "left"):
            self.check_write()

    def check_write(self) -> None:
        """What `check_chat` refuses to a write (sends, chat actions, deletes)."""
        kind = self.type
        if self.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                parameters={"migrate_to_chat_id": self.migrated_to},
            )
        if self.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if self.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def check_send(self) -> None:
        """What a send of a document (or its chat action) is refused, after `check_write`."""
        self.check_write()
        status = self.bot_status
        if self.type == "channel":
            admin = status == "creator" or (status == "administrator" and self.can_post_messages)
            if not admin:
                raise ApiError(400, "Bad Request: need administrator rights in the channel chat")
        elif status in ("member", "restricted") and not self.can_send_documents:
            raise ApiError(400, "Bad Request: not enough rights to send documents to the chat")
        if self.refusal is not None:
            raise ApiError(*self.refusal)

    def flood_wait(self, now: float, limits: FloodLimits) -> None:
        """429 with `retry_after` if one more message now would exceed the limits."""
        while self.sent and self.sent[0] <= now - limits.window:
            self.sent.popleft()
        ready = self.sent[-1] + limits.interval if self.sent else now
        if self.type != "private" and len(self.sent) >= limits.burst:
            ready = max(ready, self.sent[-limits.burst] + limits.window)
        if ready > now:
            retry_after = max(1, math.ceil(ready - now))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                parameters={"retry_after": retry_after},
            )

    def note_sent(self, now: float) -> None:
        """Count a message sent now."""
        self.sent.append(now)


def chat_key(chat_id: str) -> int:
    """The numeric id a request's `chat_id` names; 400 "chat not found" if none."""
    if chat_id.startswith("@"):
        return USERNAME_CHAT_ID
    if not re.fullmatch(r"-?\d+", chat_id):
        raise ApiError(400, "Bad Request: chat not found")
    return int(chat_id)
