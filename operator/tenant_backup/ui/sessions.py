"""Server-side sessions: the bearer token stays here, the browser holds only a random id."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from time import monotonic

SESSION_ID_BYTES = 32


@dataclass(frozen=True)
class Session:
    """A signed-in user: their token, who the API server said they are, and its clock."""

    token: str
    username: str
    created: float
    last_seen: float


class SessionStore:
    """Sessions by random id, expiring `max_age` seconds after sign-in or `idle` seconds
    after their last use, whichever comes first. In memory: a restart signs everyone out."""

    def __init__(self, max_age: float, idle: float, clock: Callable[[], float] = monotonic) -> None:
        self._sessions: dict[str, Session] = {}
        self._max_age = max_age
        self._idle = idle
        self._clock = clock

    def create(self, token: str, username: str) -> str:
        """Start a session; its id (unguessable, for the cookie)."""
        self._sweep()
        now = self._clock()
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        self._sessions[session_id] = Session(token, username, now, now)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session of `session_id` (its idle clock restarted), or None: unknown,
        expired (then forgotten) or no id."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[session_id]
            return None
        touched = replace(session, last_seen=now)
        self._sessions[session_id] = touched
        return touched

    def drop(self, session_id: str | None) -> None:
        """Forget the session (sign-out, or a token the API server no longer accepts)."""
        if session_id:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.created >= self._max_age or now - session.last_seen >= self._idle

    def _sweep(self) -> None:
        """Forget every expired session, so abandoned ones do not pile up."""
        now = self._clock()
        for session_id in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[session_id]
