"""A custom archive's table of contents, as `pg_restore --list` prints it.

An entry line is `<dump id>; <catalog oid> <oid> <TYPE> <schema or -> <tag> <owner>`, where the
type may be several words (`TABLE DATA`, `FK CONSTRAINT`) and the tag may hold spaces
(`order_total(bigint)`, `SCHEMA tenant_acme` of an ACL). Lines starting with `;` are comments.
"""

import re
from dataclasses import dataclass

# Longest first, so `MATERIALIZED VIEW DATA` is not read as `MATERIALIZED VIEW`.
_TYPES = sorted(
    (
        "ACCESS METHOD", "ACL", "AGGREGATE", "BLOB", "BLOB METADATA", "BLOBS", "CAST",
        "CHECK CONSTRAINT", "COLLATION", "COMMENT", "CONSTRAINT", "CONVERSION", "DATABASE",
        "DEFAULT", "DEFAULT ACL", "DOMAIN", "ENCODING", "EVENT TRIGGER", "EXTENSION",
        "FK CONSTRAINT", "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "FOREIGN TABLE", "FUNCTION",
        "INDEX", "INDEX ATTACH", "LANGUAGE", "LARGE OBJECT", "MATERIALIZED VIEW",
        "MATERIALIZED VIEW DATA", "OPERATOR", "OPERATOR CLASS", "OPERATOR FAMILY", "POLICY",
        "PROCEDURE", "PUBLICATION", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA",
        "ROW SECURITY", "RULE", "SCHEMA", "SEARCHPATH", "SECURITY LABEL", "SEQUENCE",
        "SEQUENCE OWNED BY", "SEQUENCE SET", "SERVER", "SHELL TYPE", "STATISTICS",
        "STDSTRINGS", "SUBSCRIPTION", "TABLE", "TABLE ATTACH", "TABLE DATA",
        "TEXT SEARCH CONFIGURATION",
        "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "TRANSFORM",
        "TRIGGER", "TYPE", "USER MAPPING", "VIEW",
    ),
    key=len,
    reverse=True,
)  # fmt: skip
_ENTRY_RE = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")


@dataclass(frozen=True)
class TocEntry:
    """One archive entry."""

    dump_id: int
    type: str
    schema: str | None
    tag: str
    owner: str | None


def _entry(rest: str, dump_id: int) -> TocEntry | None:
    kind = next((t for t in _TYPES if rest == t or rest.startswith(t + " ")), None)
    if kind is None:
        return None
    schema, _, tail = rest[len(kind) + 1 :].partition(" ")
    tag, _, owner = tail.rpartition(" ")
    if not tag:  # one word: a tag without an owner
        tag, owner = owner, ""
    return TocEntry(dump_id, kind, None if schema == "-" else schema, tag, owner or None)


def parse_toc(listing: str) -> list[TocEntry]:
    """The entries of a `pg_restore --list` output (lines it cannot read are skipped)."""
    entries: list[TocEntry] = []
    for line in listing.splitlines():
        match = _ENTRY_RE.match(line.strip())
        if match is not None:
            entry = _entry(match.group(4), int(match.group(1)))
            if entry is not None:
                entries.append(entry)
    return entries


def dumped_schemas(entries: list[TocEntry]) -> list[str]:
    """The schemas the archive creates (its SCHEMA entries)."""
    return [entry.tag for entry in entries if entry.type == "SCHEMA"]


def table_count(entries: list[TocEntry]) -> int:
    """Tables and partitioned tables the archive creates."""
    return sum(1 for entry in entries if entry.type == "TABLE")
