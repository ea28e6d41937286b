"""A lexer for the SQL that pg_dump writes and PL/pgSQL bodies hold: enough to tell identifiers
from string literals, comments and quoted bodies, never to parse.

`scan` returns one token at a time and says when the text may end inside a token (a stream
must then wait for more). Identifiers compare by `value`: unquoted ones fold to lower case
(ASCII only, as PostgreSQL does in UTF-8), quoted ones keep their case with `""` undone.
"""

import re
from dataclasses import dataclass
from enum import Enum

_IDENT = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_DOLLAR_PREFIX = re.compile(r"\$[A-Za-z0-9_\u0080-\U0010ffff]*")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[0-9]+")


class Kind(Enum):
    """What a token is."""

    SPACE = "space"
    COMMENT = "comment"
    STRING = "string"
    """'...' (also E'...'); its `content` is the value."""
    DOLLAR = "dollar"
    """$tag$...$tag$; its `content` is the value."""
    QIDENT = "quoted identifier"
    IDENT = "identifier"
    """An unquoted identifier or keyword."""
    OTHER = "other"
    """Punctuation, operators, numbers, parameters: one or more characters."""


@dataclass(frozen=True)
class Token:
    """One token and its exact text."""

    kind: Kind
    text: str

    @property
    def significant(self) -> bool:
        """Not whitespace or a comment."""
        return self.kind not in (Kind.SPACE, Kind.COMMENT)

    @property
    def value(self) -> str | None:
        """The name an identifier stands for; None for other tokens."""
        if self.kind is Kind.IDENT:
            return self.text.translate(_ASCII_LOWER)
        if self.kind is Kind.QIDENT:
            return self.text[1:-1].replace('""', '"')
        return None

    @property
    def content(self) -> str:
        """The value of a string or dollar-quoted token."""
        if self.kind is Kind.DOLLAR:
            tag = _DOLLAR_TAG.match(self.text)
            assert tag is not None
            return self.text[tag.end() : len(self.text) - len(tag.group())]
        if self.kind is Kind.STRING:
            if self.text[0] in "Ee":
                return _unescape_e(self.text[2:-1])
            return self.text[1:-1].replace("''", "'")
        raise ValueError(f"a {self.kind.value} has no string content")

    def keyword(self, *words: str) -> bool:
        """Whether this is an unquoted identifier equal to one of `words` (lower case)."""
        return self.kind is Kind.IDENT and self.value in words


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_E_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape_e(body: str) -> str:
    """An E'' string's value, as far as telling names apart needs (octal and unicode escapes
    are left as written)."""
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            out.append(_E_ESCAPES.get(following, following))
            index += 2
        elif char == "'" and body[index + 1 : index + 2] == "'":
            out.append("'")
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


class IncompleteError(Exception):
    """The text ends inside a token: more text is needed to tell where it ends."""


def _quoted_end(text: str, start: int, quote: str, backslashes: bool, final: bool) -> int:
    """Index after the closing `quote` of a token opened at `start` (doubled quotes and,
    for E'' strings, backslash escapes skipped)."""
    index = start
    while True:
        found = text.find(quote, index)
        if backslashes:
            slash = text.find("\\", index)
            if slash != -1 and (found == -1 or slash < found):
                if slash + 1 >= len(text):
                    raise IncompleteError
                index = slash + 2
                continue
        if found == -1:
            raise IncompleteError
        if found + 1 >= len(text):
            if final:
                return found + 1
            raise IncompleteError  # a doubled quote may follow
        if text[found + 1] == quote:
            index = found + 2
            continue
        return found + 1


def _block_comment_end(text: str, start: int) -> int:
    depth, index = 0, start
    while True:
        opening, closing = text.find("/*", index), text.find("*/", index)
        if closing == -1:
            raise IncompleteError
        if opening != -1 and opening < closing:
            depth, index = depth + 1, opening + 2
            continue
        depth, index = depth - 1, closing + 2
        if depth == 0:
            return index


def _dollar(text: str, pos: int, final: bool) -> Token:
    tag = _DOLLAR_TAG.match(text, pos)
    if tag is None:
        prefix = _DOLLAR_PREFIX.match(text, pos)
        assert prefix is not None
        if prefix.end() == len(text) and not final:
            raise IncompleteError  # `$abc` may still become a tag
        number = _NUMBER.match(text, pos + 1)
        return Token(Kind.OTHER, text[pos : number.end() if number else pos + 1])
    closing = text.find(tag.group(), tag.end())
    if closing == -1:
        raise IncompleteError
    return Token(Kind.DOLLAR, text[pos : closing + len(tag.group())])


def scan(text: str, pos: int, final: bool) -> Token:
    """The token starting at `pos`; IncompleteError if `text` may end inside it and is not `final`
    (a final text's unterminated token runs to its end)."""
    try:
        return _scan(text, pos, final)
    except IncompleteError:
        if final:
            return Token(Kind.OTHER, text[pos:])
        raise


def _scan(text: str, pos: int, final: bool) -> Token:
    char = text[pos]
    pair = text[pos : pos + 2]
    if char.isspace():
        match = _SPACE.match(text, pos)
        assert match is not None
        return Token(Kind.SPACE, match.group())
    if pair == "--":
        end = text.find("\n", pos)
        if end == -1 and not final:
            raise IncompleteError
        return Token(Kind.COMMENT, text[pos : end + 1 if end != -1 else len(text)])
    if pair == "/*":
        return Token(Kind.COMMENT, text[pos : _block_comment_end(text, pos)])
    if char in "-/" and pos + 1 == len(text) and not final:
        raise IncompleteError  # may open a comment
    if char == "'":
        return Token(Kind.STRING, text[pos : _quoted_end(text, pos + 1, "'", False, final)])
    if char in "Ee" and text[pos + 1 : pos + 2] == "'":
        return Token(Kind.STRING, text[pos : _quoted_end(text, pos + 2, "'", True, final)])
    if char == '"':
        return Token(Kind.QIDENT, text[pos : _quoted_end(text, pos + 1, '"', False, final)])
    if char == "$":
        return _dollar(text, pos, final)
    ident = _IDENT.match(text, pos)
    if ident is not None:
        if ident.end() == len(text) and not final:
            raise IncompleteError
        return Token(Kind.IDENT, ident.group())
    return Token(Kind.OTHER, char)


def tokens(text: str) -> list[Token]:
    """Every token of a complete `text`."""
    found: list[Token] = []
    pos = 0
    while pos < len(text):
        token = scan(text, pos, final=True)
        found.append(token)
        pos += len(token.text)
    return found


def quote_ident(name: str) -> str:
    """`name` as a quoted identifier: exact whatever its case or characters."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as a standard string literal."""
    return "'" + value.replace("'", "''") + "'"
