"""pg_dump plumbing: binary choice, version parsing, the exact-schema argument list."""

from pathlib import Path

import pytest

from tenant_backup.api.contract import Compression, DumpFormat
from tenant_backup.runner.pgdump import (
    choose_pg_dump,
    exact_pattern,
    installed_majors,
    parse_version,
    pg_dump_argv,
    sibling_tool,
)


@pytest.mark.parametrize(
    ("schema", "pattern"),
    [
        ("tenant_acme", '"tenant_acme"'),
        ("TENANT_ACME", '"TENANT_ACME"'),
        ('we"ird', '"we""ird"'),
        ("tenant_a*", '"tenant_a*"'),
    ],
)
def test_exact_pattern_quotes_the_whole_name(schema: str, pattern: str) -> None:
    assert exact_pattern(schema) == pattern


def test_argv_selects_exactly_one_schema_without_row_security() -> None:
    argv = pg_dump_argv("/x/pg_dump", "tenant_acme", DumpFormat.CUSTOM, Compression.ZSTD, 1, 30)
    assert argv == [
        "/x/pg_dump",
        "--format=custom",
        "--schema",
        '"tenant_acme"',
        "--strict-names",
        "--lock-wait-timeout=30s",
        "--no-password",
        "-Z0",
    ]
    assert "--enable-row-security" not in argv
    assert not any("password=" in arg or arg.startswith("--dbname") for arg in argv)


@pytest.mark.parametrize(
    ("fmt", "compression", "level", "z"),
    [
        (DumpFormat.CUSTOM, Compression.ZSTD, 9, "-Z0"),  # the runner compresses, not pg_dump
        (DumpFormat.CUSTOM, Compression.GZIP, 6, "-Z6"),
        (DumpFormat.PLAIN, Compression.GZIP, 1, "-Z1"),
        (DumpFormat.PLAIN, Compression.NONE, None, "-Z0"),
        (DumpFormat.CUSTOM, Compression.NONE, None, "-Z0"),
    ],
)
def test_only_gzip_is_pg_dumps_own_compression(
    fmt: DumpFormat, compression: Compression, level: int | None, z: str
) -> None:
    argv = pg_dump_argv("pg_dump", "tenant_a", fmt, compression, level, 5)
    assert argv[-1] == z
    assert f"--format={fmt.value}" in argv


def test_bin_dir_wins() -> None:
    assert choose_pg_dump(15, Path("/opt/pg")) == "/opt/pg/pg_dump"


def test_server_major_picks_the_debian_versioned_binary() -> None:
    def installed(root: Path) -> list[int]:
        return [15, 16, 18]

    assert choose_pg_dump(16, None, installed=installed) == "/usr/lib/postgresql/16/bin/pg_dump"


def test_a_major_without_tools_takes_the_oldest_newer_one() -> None:
    def installed(root: Path) -> list[int]:
        return [18, 15, 16]

    assert choose_pg_dump(17, None, installed=installed) == "/usr/lib/postgresql/18/bin/pg_dump"
    assert choose_pg_dump(13, None, installed=installed) == "/usr/lib/postgresql/15/bin/pg_dump"


def test_path_is_the_fallback() -> None:
    assert choose_pg_dump(19, None, installed=lambda root: [15, 18]) == "pg_dump"


def test_the_root_is_a_directory_of_majors(tmp_path: Path) -> None:
    for major in ("15", "18", "lib", "17"):
        (tmp_path / major / "bin").mkdir(parents=True)
    for major in ("15", "18"):
        (tmp_path / major / "bin" / "pg_dump").touch()
    assert sorted(installed_majors(tmp_path)) == [15, 18]
    assert installed_majors(tmp_path / "missing") == []
    assert choose_pg_dump(16, None, tmp_path) == str(tmp_path / "18" / "bin" / "pg_dump")


def test_pg_restore_comes_from_beside_pg_dump() -> None:
    assert sibling_tool("/usr/lib/postgresql/15/bin/pg_dump", "pg_restore") == (
        "/usr/lib/postgresql/15/bin/pg_restore"
    )
    assert sibling_tool("pg_dump", "pg_restore") == "pg_restore"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", (15, "15.18")),
        ("pg_dump (PostgreSQL) 18.1\n", (18, "18.1")),
        ("pg_dump (PostgreSQL) 19devel\n", (19, "19")),
        ("pg_dump (PostgreSQL) 9.6.24\n", (9, "9.6")),
    ],
)
def test_parse_version(output: str, expected: tuple[int, str]) -> None:
    assert parse_version(output) == expected


def test_parse_version_rejects_other_output() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL version"):
        parse_version("sh: pg_dump: not found")
