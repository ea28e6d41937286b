"""Pure pg_dump plumbing: which binary, which version it is, and its argument list."""

import re
from collections.abc import Callable
from pathlib import Path

from tenant_backup.api.contract import Compression, DumpFormat

VERSIONED_ROOT = Path("/usr/lib/postgresql")  # Debian layout: <root>/<major>/bin/pg_dump
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def installed_majors(root: Path) -> list[int]:
    """The majors whose pg_dump is installed under `root` (`<root>/<major>/bin/pg_dump`)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return [
        int(entry.name)
        for entry in entries
        if entry.name.isdigit() and (entry / "bin" / "pg_dump").is_file()
    ]


def choose_pg_dump(
    server_major: int,
    bin_dir: Path | None,
    root: Path = VERSIONED_ROOT,
    installed: Callable[[Path], list[int]] = installed_majors,
) -> str:
    """`bin_dir`'s pg_dump, else the one of the server's major under `root`, else the
    oldest newer one there (pg_dump and pg_restore handle older servers), else PATH's."""
    if bin_dir is not None:
        return str(bin_dir / "pg_dump")
    usable = sorted(major for major in installed(root) if major >= server_major)
    return str(root / str(usable[0]) / "bin" / "pg_dump") if usable else "pg_dump"


def sibling_tool(pg_dump: str, tool: str) -> str:
    """The client tool `tool` (e.g. pg_restore) installed beside `pg_dump`."""
    return str(Path(pg_dump).with_name(tool)) if "/" in pg_dump else tool


def parse_version(output: str) -> tuple[int, str]:
    """Major and version of `pg_dump --version` output, e.g. (15, "15.18")."""
    match = _VERSION_RE.search(output)
    if match is None:
        raise ValueError(f"not a PostgreSQL version: {output.strip()!r}")
    major, minor = match.groups()
    return int(major), major if minor is None else f"{major}.{minor}"


def exact_pattern(schema: str) -> str:
    """A `--schema` pattern matching exactly `schema`: quoted, so no folding or wildcards."""
    return '"' + schema.replace('"', '""') + '"'


def pg_dump_argv(
    pg_dump: str,
    schema: str,
    fmt: DumpFormat,
    compression: Compression,
    level: int | None,
    lock_wait_timeout_seconds: int,
) -> list[str]:
    """The pg_dump command line: one schema, exactly, to stdout; connection from libpq env.

    Only gzip is pg_dump's own compression; zstd is applied by the runner, so pg_dump's is off.
    Row security is never enabled: it would silently dump zero rows of protected tables.
    """
    pg_level = level if compression is Compression.GZIP and level is not None else 0
    return [
        pg_dump,
        f"--format={fmt}",
        "--schema",
        exact_pattern(schema),
        "--strict-names",
        f"--lock-wait-timeout={lock_wait_timeout_seconds}s",
        "--no-password",
        f"-Z{pg_level}",
    ]
