"""Pure rules over SQL statements: renaming one schema exactly, finding what still refers to
it, and what a statement needs that a one-schema dump does not carry.

Renaming is identifier-aware: the schema's name is replaced where it names the schema
(qualifying a name, after SCHEMA, in a `search_path` setting, in a `'name'::regclass`-like
literal or a sequence function's argument) and nowhere else: not in other names that merely
start with it (`tenant_acme2`), not in column names, comments or data literals. Routine
bodies in SQL and PL/pgSQL are strings to the server, so they are renamed with the same
rules; what is left in a body (the name inside a string, as dynamic SQL builds queries) is
found by `references` and reported rather than guessed at.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tenant_backup.runner.sqllex import Kind, Token, quote_ident, quote_literal, tokens

REG_TYPES = frozenset(
    {
        "regclass", "regproc", "regprocedure", "regtype", "regoper", "regoperator",
        "regconfig", "regdictionary", "regnamespace", "regcollation",
    }
)  # fmt: skip
SEQUENCE_FUNCTIONS = frozenset({"setval", "nextval", "currval"})
BODY_LANGUAGES = frozenset({"sql", "plpgsql"})
"""Languages whose bodies are SQL-like text this module can rename in."""
BUILT_IN_SCHEMAS = frozenset({"pg_catalog", "information_schema"})
_ROLE_WORDS = frozenset({"public", "current_user", "session_user", "current_role", "group"})
_DEFINITIONS = frozenset({"table", "type", "function", "procedure", "domain", "aggregate"})


@dataclass(frozen=True)
class Rename:
    """Schema `source` becomes `target`."""

    source: str
    target: str


@dataclass(frozen=True)
class _Stream:
    """A statement's tokens and the positions of its significant ones."""

    tokens: list[Token]
    significant: list[int]

    @classmethod
    def of(cls, found: list[Token]) -> "_Stream":
        return cls(found, [i for i, token in enumerate(found) if token.significant])

    def at(self, n: int) -> Token | None:
        """The `n`th significant token, if there is one."""
        return self.tokens[self.significant[n]] if 0 <= n < len(self.significant) else None

    def text_at(self, n: int) -> str:
        token = self.at(n)
        return token.text if token is not None else ""

    def keyword_at(self, n: int, *words: str) -> bool:
        token = self.at(n)
        return token is not None and token.keyword(*words)

    def starts(self, *words: str) -> bool:
        """Whether the significant tokens start with the keywords `words`."""
        return all(self.keyword_at(n, word) for n, word in enumerate(words))


def _routine(stream: _Stream) -> bool:
    """CREATE [OR REPLACE] FUNCTION|PROCEDURE."""
    first = 3 if stream.starts("create", "or", "replace") else 1
    return stream.keyword_at(0, "create") and stream.keyword_at(first, "function", "procedure")


def _language(stream: _Stream) -> str | None:
    for n in range(len(stream.significant) - 1):
        if stream.keyword_at(n, "language"):
            following = stream.at(n + 1)
            if following is not None and following.kind is Kind.STRING:
                return following.content.lower()
            return following.value if following is not None else None
    return None


def _search_path_items(stream: _Stream) -> Iterator[int]:
    """Significant positions of the values of `SET [LOCAL|SESSION] search_path TO|= ...`."""
    for n in range(len(stream.significant)):
        if not stream.keyword_at(n, "set"):
            continue
        name = n + 2 if stream.keyword_at(n + 1, "local", "session") else n + 1
        if not stream.keyword_at(name, "search_path") or not (
            stream.text_at(name + 1) == "=" or stream.keyword_at(name + 1, "to")
        ):
            continue
        item = name + 2
        while (token := stream.at(item)) is not None and token.kind in (
            Kind.IDENT,
            Kind.QIDENT,
            Kind.STRING,
        ):
            yield item
            if stream.text_at(item + 1) != ",":
                break
            item += 2


def _identifier(name: str) -> str | None:
    """The name an identifier's text stands for, or None if `name` is not one identifier."""
    found = [token for token in tokens(name.strip()) if token.significant]
    return found[0].value if len(found) == 1 else None


def _split_list(value: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def rename_qualified(value: str, rename: Rename) -> str:
    """A literal naming an object (`schema.name`, `schema.f(int)`) or, alone, the schema,
    with the source schema renamed."""
    stream = _Stream.of(tokens(value))
    first = stream.at(0)
    if first is None or first.value != rename.source:
        return value
    if len(stream.significant) > 1 and stream.text_at(1) != ".":
        return value
    found = list(stream.tokens)
    found[stream.significant[0]] = Token(Kind.QIDENT, quote_ident(rename.target))
    return "".join(token.text for token in found)


def _names_object(stream: _Stream, n: int) -> bool:
    """A literal cast to a reg* type, or a sequence function's first argument."""
    cast = stream.text_at(n + 1) == ":" and stream.text_at(n + 2) == ":"
    if cast and (
        stream.keyword_at(n + 3, *REG_TYPES)
        or (
            stream.keyword_at(n + 3, "pg_catalog")
            and stream.text_at(n + 4) == "."
            and stream.keyword_at(n + 5, *REG_TYPES)
        )
    ):
        return True
    return stream.text_at(n - 1) == "(" and stream.keyword_at(n - 2, *SEQUENCE_FUNCTIONS)


def _requoted(token: Token, content: str) -> Token:
    """`token` (a string or dollar-quoted) holding `content` instead."""
    if token.kind is Kind.DOLLAR:
        tag = token.text[: token.text.index("$", 1) + 1]
        return Token(Kind.DOLLAR, tag + content + tag)
    return Token(Kind.STRING, quote_literal(content))


def rename_schema(text: str, rename: Rename) -> str:
    """`text` (statements, a routine body, or a routine's definition) with the source schema
    renamed wherever it names the schema; everything else byte for byte as it was."""
    return "".join(token.text for token in rename_tokens(tokens(text), rename))


def rename_tokens(found: list[Token], rename: Rename) -> list[Token]:
    """The tokens of one statement (or body) with the source schema renamed."""
    stream = _Stream.of(found)
    out = list(found)
    path_items = set(_search_path_items(stream))
    body_language = _language(stream) if _routine(stream) else None
    for n, index in enumerate(stream.significant):
        token = found[index]
        if token.value == rename.source and (
            stream.text_at(n + 1) == "." or stream.keyword_at(n - 1, "schema") or n in path_items
        ):
            out[index] = Token(Kind.QIDENT, quote_ident(rename.target))
        elif token.kind is Kind.STRING and n in path_items:
            if token.content == rename.source:  # a list item's literal is one raw name
                out[index] = _requoted(token, rename.target)
        elif token.kind is Kind.STRING and _names_object(stream, n):
            out[index] = _requoted(token, rename_qualified(token.content, rename))
        elif (
            token.kind in (Kind.STRING, Kind.DOLLAR)
            and body_language in BODY_LANGUAGES
            and stream.keyword_at(n - 1, "as")
        ):
            out[index] = _requoted(token, rename_schema(token.content, rename))
    return out


# -- What still refers to a schema ------------------------------------------------------


def _word(schema: str) -> re.Pattern[str]:
    """`schema` as a whole name: not inside a longer one; any case if the name is lower case
    (unquoted, it folds)."""
    flags = re.IGNORECASE if schema == schema.lower() else 0
    return re.compile(r"(?<![A-Za-z0-9_$])" + re.escape(schema) + r"(?![A-Za-z0-9_$])", flags)


def mentions(text: str, schema: str) -> bool:
    """Whether `text` holds `schema` as a whole name anywhere."""
    return _word(schema).search(text) is not None


def references(body: str, schema: str) -> list[str]:
    """How SQL text (a routine body) still refers to `schema`: an identifier naming it, or a
    string holding its name (dynamic SQL, `set_config`). Comments do not count."""
    found: list[str] = []
    for token in tokens(body):
        if token.value == schema:
            found.append("names it")
        elif token.kind in (Kind.STRING, Kind.DOLLAR) and mentions(token.content, schema):
            found.append("holds its name in a string")
    return sorted(set(found))


def setting_references(setting: str, schema: str) -> bool:
    """Whether a routine's `name=value` setting (pg_proc.proconfig) refers to `schema`."""
    name, _, value = setting.partition("=")
    if name.strip().lower() == "search_path":
        return any(_identifier(item) == schema for item in _split_list(value))
    return mentions(value, schema)


# -- What a statement needs ------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Need:
    """Something outside the dumped schema that a statement names: a `role`, or an object
    (`type`, `function`, `relation`) of another schema."""

    kind: str
    name: str
    schema: str | None = None

    def __str__(self) -> str:
        if self.schema is None:
            return f"{self.kind} {self.name}"
        return f"{self.kind} {self.schema}.{self.name}"


def _roles_after(stream: _Stream, start: int, stops: tuple[str, ...]) -> Iterator[str]:
    """Role names listed from significant position `start`, until a keyword in `stops`."""
    n = start
    while (token := stream.at(n)) is not None and token.kind in (Kind.IDENT, Kind.QIDENT):
        if token.keyword(*stops):
            return
        if token.value is not None and not token.keyword(*_ROLE_WORDS):
            yield token.value
        if token.keyword("group"):
            n += 1
            continue
        if stream.text_at(n + 1) != ",":
            return
        n += 2


def _roles(stream: _Stream) -> Iterator[str]:
    for n in range(len(stream.significant)):
        if stream.keyword_at(n, "owner") and stream.keyword_at(n + 1, "to"):
            yield from _roles_after(stream, n + 2, ())
        elif stream.keyword_at(n, "for") and stream.keyword_at(n + 1, "role", "user"):
            yield from _roles_after(stream, n + 2, ("in", "grant", "revoke"))
        elif stream.keyword_at(n, "grant") or stream.keyword_at(n, "revoke"):
            word = "to" if stream.keyword_at(n, "grant") else "from"
            later = next(
                (m for m in range(n + 1, len(stream.significant)) if stream.keyword_at(m, word)),
                None,
            )
            if later is not None:
                yield from _roles_after(stream, later + 1, ("with", "granted", "cascade"))
    if stream.starts("create", "policy"):
        for n in range(len(stream.significant)):
            if stream.keyword_at(n, "to"):
                yield from _roles_after(stream, n + 1, ("using", "with"))
                break


def _object_kind(stream: _Stream, n: int) -> str | None:
    """What the qualified name at significant position `n` (its schema) names, if it is a
    reference this module recognises."""
    before, two_before = n - 1, n - 2
    if stream.keyword_at(before, "references", "from", "join") or (
        stream.text_at(before) == "(" and stream.keyword_at(two_before, "from", "join")
    ):
        return "relation"
    if stream.text_at(n + 3) == "(":
        return "function"
    if stream.text_at(before) == ":" and stream.text_at(two_before) == ":":
        return "type"
    definition = stream.keyword_at(0, "create", "alter") and any(
        stream.keyword_at(m, *_DEFINITIONS) for m in (1, 2, 3, 4)
    )
    if definition and (
        stream.keyword_at(before, "returns", "setof")
        or (stream.text_at(two_before) in ("(", ",") and stream.at(before) is not None)
        or (stream.keyword_at(0, "create") and stream.keyword_at(before, "as"))
    ):
        previous = stream.at(before)
        if previous is not None and previous.kind in (Kind.IDENT, Kind.QIDENT):
            return "type"
    return None


def statement_needs(found: list[Token], source: str) -> set[Need]:
    """The roles and other schemas' objects a statement of the dump names."""
    stream = _Stream.of(found)
    needs = {Need("role", role) for role in _roles(stream)}
    for n in range(len(stream.significant) - 2):
        schema, dot, name = stream.at(n), stream.at(n + 1), stream.at(n + 2)
        if (
            schema is None
            or name is None
            or dot is None
            or dot.text != "."
            or schema.value in (None, source, *BUILT_IN_SCHEMAS)
            or name.value is None
            or stream.text_at(n - 1) == "."
        ):
            continue
        kind = _object_kind(stream, n)
        if kind is not None:
            needs.add(Need(kind, name.value, schema.value))
    return needs
