"""Before any data moves: may the bot post documents to the chat?

getMe (the token), getChat (the chat exists and is known to the bot; its type sets the pace),
getChatMember of the bot itself (its status and rights; not asked in a private chat), and
sendChatAction (`upload_document`), which the Bot API server checks for write access like a
send: a group upgraded to a supergroup, a bot kicked or blocked, or a chat that forbids it to
write fails here, as PermissionDenied or ValidationFailed, before pg_dump starts.
"""

from dataclasses import dataclass
from typing import Any

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.bot_api import BotApi
from tenant_backup.runner.errors import RunError

_GONE = {"left": "is not a member", "kicked": "was removed from it"}


@dataclass(frozen=True)
class Chat:
    """A chat as getChat describes it."""

    id: int
    type: str
    """`private`, `group`, `supergroup` or `channel`."""


def _rights_problem(chat: Any, member: Any) -> str | None:
    """Why the bot, a member of `chat` with getChatMember's `member`, may not send documents
    there; None if it may."""
    status, kind = member.get("status"), chat.get("type")
    if status in _GONE:
        return _GONE[status]
    if status == "creator":
        return None
    if kind == "channel":
        if status == "administrator" and member.get("can_post_messages"):
            return None
        return "is no administrator allowed to post messages (a channel needs one)"
    if status == "administrator":
        return None
    if status == "restricted" and not member.get("is_member", True):
        return "is not a member"
    rights = member if status == "restricted" else (chat.get("permissions") or {})
    if rights.get("can_send_documents") is False:
        return "may not send documents (the chat's permissions)"
    return None


def writable_chat(api: BotApi, chat_id: str) -> Chat:
    """The chat, once the bot has shown it may post documents there; AuthFailed for a wrong
    token, PermissionDenied if it may not post, ValidationFailed for a migrated group."""
    me = api.call("getMe", {})
    found = api.call("getChat", {"chat_id": chat_id})
    try:
        chat = Chat(int(found["id"]), str(found["type"]))
        bot_id = int(me["id"])
    except (KeyError, TypeError, ValueError):
        raise RunError(Reason.UPLOAD_FAILED, "getMe or getChat: unexpected reply") from None
    if chat.type != "private":
        member = api.call("getChatMember", {"chat_id": chat_id, "user_id": bot_id})
        problem = _rights_problem(found, member if isinstance(member, dict) else {})
        if problem:
            raise RunError(
                Reason.PERMISSION_DENIED,
                f"the bot cannot send documents to {chat.type} {chat.id}: it {problem}",
            )
    api.call("sendChatAction", {"chat_id": chat_id, "action": "upload_document"})
    return chat
