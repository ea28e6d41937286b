"""A pg_dump SQL script filtered as it streams: each statement handed to a handler whole (to
rename, drop or study), `COPY ... FROM stdin` data passed through byte for byte and counted.

Memory stays bounded: statements are held until their `;`, data never (at most three bytes,
to find the `\\.` line that ends it). Of psql's meta-commands only the `\\restrict` pair that
pg_dump writes is let through: a script must not run anything else through psql.
"""

import itertools
from collections.abc import Callable

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.sqllex import IncompleteError, Kind, Token, scan

ALLOWED_META_COMMANDS = frozenset({"restrict", "unrestrict"})
_END_OF_DATA = b"\\.\n"
_HELD_BACK = len(_END_OF_DATA)
_WINDOW = 1 << 16

Handler = Callable[[list[Token]], list[Token] | None]
"""Given a statement's tokens (with its `;`): the tokens to write, or None to drop it."""


def _significant(found: list[Token]) -> list[Token]:
    return [token for token in found if token.significant]


def copies_from_stdin(found: list[Token]) -> bool:
    """Whether a statement is `COPY ... FROM stdin;` (its data follows on the next lines)."""
    words = _significant(found)
    return (
        len(words) >= 4
        and words[0].keyword("copy")
        and words[-3].keyword("from")
        and words[-2].keyword("stdin")
    )


def sets_owner(found: list[Token]) -> bool:
    """`ALTER ... OWNER TO ...`."""
    words = _significant(found)
    return (
        bool(words)
        and words[0].keyword("alter")
        and any(
            first.keyword("owner") and second.keyword("to")
            for first, second in itertools.pairwise(words)
        )
    )


def sets_privileges(found: list[Token]) -> bool:
    """GRANT, REVOKE or ALTER DEFAULT PRIVILEGES."""
    words = _significant(found)
    if not words:
        return False
    if words[0].keyword("grant", "revoke"):
        return True
    return len(words) > 2 and words[0].keyword("alter") and words[1].keyword("default")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class ScriptFilter:
    """Feed script bytes in; get the filtered script out. `rows` counts the data lines."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._pending = b""
        self._copying = False
        self._line_start = True
        self.rows = 0
        self.copies = 0

    def feed(self, data: bytes) -> bytes:
        """The filtered script as far as `data` completes it."""
        out = bytearray()
        self._pending += data
        while self._pending and (self._copy(out) if self._copying else self._sql(out, False)):
            pass
        return bytes(out)

    def finish(self) -> bytes:
        """The rest; RestoreFailed if the script ends inside COPY data."""
        out = bytearray(self.feed(b""))
        if self._copying:
            if not (self._line_start and self._pending.rstrip(b"\n") == b"\\."):
                raise RunError(Reason.RESTORE_FAILED, "the script ends inside COPY data")
            out += _END_OF_DATA
            self._pending, self._copying = b"", False
        while self._pending and self._sql(out, True):
            pass
        if self._pending or self._copying:
            raise RunError(Reason.RESTORE_FAILED, "the script ends inside a statement")
        return bytes(out)

    def _copy(self, out: bytearray) -> bool:
        """Pass data through to its end line; False when more input is needed."""
        buffer = self._pending
        if self._line_start and buffer.startswith(_END_OF_DATA):
            end = 0
        else:
            found = buffer.find(b"\n" + _END_OF_DATA)
            end = -1 if found == -1 else found + 1
        if end == -1:
            passed = buffer[: max(0, len(buffer) - _HELD_BACK)]
            if passed:
                out += passed
                self.rows += passed.count(b"\n")
                self._line_start = passed.endswith(b"\n")
                self._pending = buffer[len(passed) :]
            return False
        out += buffer[:end] + _END_OF_DATA
        self.rows += buffer.count(b"\n", 0, end)
        self._pending = buffer[end + len(_END_OF_DATA) :]
        self._copying, self._line_start = False, True
        return True

    def _sql(self, out: bytearray, final: bool) -> bool:
        """Handle statements; False when nothing more can be done without more input.

        Only a window of the input is decoded (COPY data may follow in the same chunk),
        widened while a statement does not fit in it."""
        window = _WINDOW
        while True:
            whole = window >= len(self._pending)
            handled = self._sql_window(self._pending[:window], out, final and whole)
            if handled:
                return bool(self._pending) or self._copying
            if whole:
                return False
            window *= 2

    def _sql_window(self, data: bytes, out: bytearray, final: bool) -> bool:
        """`_sql` on the first `data` of the input: whether anything was handled."""
        text = data.decode("utf-8", "surrogateescape")
        rest = self._pending[len(data) :]
        pos = 0
        try:
            while pos < len(text):
                token = scan(text, pos, final)
                if not token.significant:
                    out += _encode(token.text)
                    pos += len(token.text)
                elif text[pos] == "\\":
                    pos = self._meta_command(text, pos, final, out)
                else:
                    pos, copying = self._statement(text, pos, final, out)
                    if copying:
                        self._copying, self._line_start = True, True
                        self.copies += 1
                        break
        except IncompleteError:
            if pos == 0:
                return False
        self._pending = _encode(text[pos:]) + rest
        return True

    def _meta_command(self, text: str, pos: int, final: bool, out: bytearray) -> int:
        end = text.find("\n", pos)
        if end == -1 and not final:
            raise IncompleteError
        line = text[pos : len(text) if end == -1 else end + 1]
        command = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
        if command not in ALLOWED_META_COMMANDS:
            raise RunError(
                Reason.RESTORE_FAILED, f"the script holds a psql meta-command \\{command[:20]}"
            )
        out += _encode(line)
        return pos + len(line)

    def _statement(self, text: str, pos: int, final: bool, out: bytearray) -> tuple[int, bool]:
        """Scan one statement from `pos`: the position after it (and, for COPY, after its
        line), and whether COPY data follows."""
        found: list[Token] = []
        end = pos
        while end < len(text):
            token = scan(text, end, final)
            found.append(token)
            end += len(token.text)
            if token.kind is Kind.OTHER and token.text == ";":
                break
        else:
            if not final:
                raise IncompleteError
        copying = copies_from_stdin(found)
        line_end = end
        if copying:
            newline = text.find("\n", end)
            if newline == -1:
                raise IncompleteError
            line_end = newline + 1
        kept = self._handler(found)
        if kept is not None:
            out += _encode("".join(token.text for token in kept))
            out += _encode(text[end:line_end])
        elif copying:
            raise RunError(Reason.RESTORE_FAILED, "a COPY statement cannot be dropped")
        return line_end, copying
