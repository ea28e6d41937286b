"""`make bench`: the runner against bare pg_dump and pg_restore, side by side, on a small
and a large tenant.

Starts a throwaway PostgreSQL 15 and MinIO, loads two tenants of realistic rows (md5 text,
jsonb, timestamps; not pgbench, whose blank-padded rows compress ~50x), then times, for each:
bare `pg_dump -Fc`; the zstd floor `pg_dump -Fc -Z0 | zstd -1 -T0`; the runner's defaults to
a file; the same encrypted with age to one recipient; the runner to S3 (MinIO). Then restores
the runner's artifact (the same archive every time, into a fresh database each time): bare
`zstd -dc file | pg_restore -d db`, and the runner's `restore` (create-new) from the file and
from S3. Prints medians of wall time, their ratios, artifact sizes and the runner's peak RSS
(GNU time's maximum resident set size: that of the largest process of the tree, the runner
or a child: pg_dump, pg_restore, psql).

`pg18` (in the default set, or `--only pg18`): the large tenant on a PostgreSQL 18, the runner
(which picks the image's pg_dump 18, devenv/pgclients.py) against pg_dump 18's `-Fc` and
`-Fc -Z zstd` (native zstd exists from 16 on, if pg_dump was built with it: the 18 built
here was not, which the line says). One line: the runner's time, artifact size and peak RSS,
then the ratios and pg_dump's peak RSS.

Usage (from the repo root): PYTHONPATH=.:operator .venv/bin/python tools/bench/bench.py
[--small-rows N] [--large-rows N] [--repeat N] [--only small|large|pg18] [--no-restore]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyrage

from devenv import pgclients
from devenv.minio import MinioServer
from devenv.postgres import DEFAULT_BIN_DIR, PostgresServer, server_bin_dir

RUNNER = Path(sys.executable).with_name("tenant-backup")
GNU_TIME = "/usr/bin/time"
ZSTD = "/usr/bin/zstd"
MIB = 1 << 20
DATABASE = "bench"
ENCRYPTED = "runner -> file, age encrypted"
ENCRYPTION_GOAL = 1.10
RSS_GOAL_MIB = 100  # the runner's peak RSS, children included
BUCKET = "bench"
TENANT_SQL = """
CREATE SCHEMA tenant_{slug};
CREATE TABLE tenant_{slug}.events (
    id bigint PRIMARY KEY,
    account text NOT NULL,
    email text NOT NULL,
    payload jsonb NOT NULL,
    note text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz
);
INSERT INTO tenant_{slug}.events
SELECT i,
       md5(i::text),
       md5((i * 7)::text) || '@example.com',
       jsonb_build_object(
           'ref', md5((i * 3)::text), 'n', i, 'amount', (i % 10007) * 1.37,
           'tags', jsonb_build_array('t' || (i % 17), 't' || (i % 31)), 'ok', i % 3 = 0),
       md5((i * 11)::text) || ' ' || md5((i * 13)::text),
       timestamptz '2024-01-01' + i * interval '1 second',
       CASE WHEN i % 4 = 0 THEN timestamptz '2025-01-01' + i * interval '1 minute' END
FROM generate_series(1, {rows}) i;
"""


@dataclass(frozen=True)
class Measure:
    """One way of dumping, measured: median wall time, artifact size, peak RSS (if known)."""

    name: str
    seconds: float
    size: int
    rss_kib: int | None


def _timed(argv: list[str], env: dict[str, str], workdir: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of `argv` under GNU time."""
    report = workdir / "time.txt"
    started = time.monotonic()
    subprocess.run(
        [GNU_TIME, "-f", "%M", "-o", str(report), *argv],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started, int(report.read_text().split()[-1])


def _zstd_floor(pg_dump: list[str], env: dict[str, str], out: Path) -> float:
    """`pg_dump -Fc -Z0 | zstd -1 -T0 > out`, piped without a shell; wall seconds."""
    started = time.monotonic()
    with out.open("wb") as sink:
        dump = subprocess.Popen(pg_dump, env=env, stdout=subprocess.PIPE)
        zstd = subprocess.run([ZSTD, "-1", "-T0", "-q", "-c"], stdin=dump.stdout, stdout=sink)
        assert dump.stdout is not None
        dump.stdout.close()
        if dump.wait() != 0 or zstd.returncode != 0:
            raise RuntimeError("the zstd floor pipeline failed")
    return time.monotonic() - started


Sample = tuple[float, int, int | None]  # wall seconds, artifact bytes, peak RSS KiB


def _medians(runs: int, ways: list[tuple[str, Callable[[], Sample]]]) -> list[Measure]:
    """Each way `runs` times, in rounds that take every way in turn, so that a slower or
    faster stretch of the machine touches all of them alike; medians per way."""
    samples: dict[str, list[Sample]] = {name: [] for name, _ in ways}
    for _ in range(runs):
        for name, once in ways:
            samples[name].append(once())
    measures = []
    for name, results in samples.items():
        rss = [r[2] for r in results if r[2] is not None]
        seconds = statistics.median(r[0] for r in results)
        measures.append(Measure(name, seconds, results[-1][1], max(rss) if rss else None))
    return measures


def bench_tenant(
    slug: str, pg: PostgresServer, minio: MinioServer, workdir: Path, repeat: int
) -> list[Measure]:
    """The five ways, `repeat` rounds of each in turn, on tenant `slug`."""
    env = {"PATH": "/usr/bin:/bin", **pg.libpq_env(DATABASE, pg.superuser)}
    schema = f"tenant_{slug}"
    pg_dump = [str(DEFAULT_BIN_DIR / "pg_dump"), "-n", schema]
    bare = workdir / f"{slug}.bare.pgdump"
    floor = workdir / f"{slug}.floor.pgdump.zst"
    runner_file = workdir / f"{slug}.runner.pgdump.zst"
    encrypted_file = workdir / f"{slug}.runner.pgdump.zst.age"
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    s3_env = env | {
        "AWS_ACCESS_KEY_ID": minio.account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": minio.account.secret_access_key,
    }
    runner = [str(RUNNER), "dump", "--tenant", slug, "--result-file", str(workdir / "r.json")]
    s3_args = [
        "--s3-bucket", BUCKET, "--s3-key", f"{slug}/artifact.pgdump.zst",
        "--s3-endpoint", minio.endpoint, "--s3-force-path-style",
    ]  # fmt: skip
    client = minio.client()

    def s3_size() -> int:
        return client.head_object(Bucket=BUCKET, Key=f"{slug}/artifact.pgdump.zst")["ContentLength"]

    def run_bare() -> Sample:
        seconds, rss = _timed([*pg_dump, "-Fc", "-f", str(bare)], env, workdir)
        return seconds, bare.stat().st_size, rss

    def run_floor() -> Sample:
        seconds = _zstd_floor([*pg_dump, "-Fc", "-Z0"], env, floor)
        return seconds, floor.stat().st_size, None

    def run_file() -> Sample:
        seconds, rss = _timed([*runner, "--output", str(runner_file)], env, workdir)
        return seconds, runner_file.stat().st_size, rss

    def run_encrypted() -> Sample:
        argv = [*runner, "--output", str(encrypted_file), "--age-recipient", recipient]
        seconds, rss = _timed(argv, env, workdir)
        return seconds, encrypted_file.stat().st_size, rss

    def run_s3() -> Sample:
        seconds, rss = _timed([*runner, *s3_args], s3_env, workdir)
        return seconds, s3_size(), rss

    run_floor()  # warm the page cache
    ways = [
        ("pg_dump -Fc", run_bare),
        ("pg_dump -Fc -Z0 | zstd -1 -T0", run_floor),
        ("runner -> file", run_file),
        (ENCRYPTED, run_encrypted),
        ("runner -> S3 (MinIO)", run_s3),
    ]
    return _medians(repeat, ways)


def bench_pg18(pg: PostgresServer, workdir: Path, repeat: int) -> str:
    """The large tenant on `pg` (PostgreSQL 18): the runner vs pg_dump 18's `-Fc` and
    `-Fc -Z zstd`, as one line of ratios."""
    env = {"PATH": "/usr/bin:/bin", **pg.libpq_env(DATABASE, pg.superuser)}
    pg_root = pgclients.pg_root()
    pg_dump = [str(pg_root / "18" / "bin" / "pg_dump"), "-n", "tenant_large", "-Fc"]
    bare, native, runner_file = (workdir / f"pg18.{name}" for name in ("gz", "zst", "runner"))
    runner = [str(RUNNER), "dump", "--tenant", "large", "--result-file", str(workdir / "r.json"),
              "--pg-root", str(pg_root), "--output", str(runner_file)]  # fmt: skip
    probe = subprocess.run([*pg_dump, "-Z", "zstd", "--schema-only", "-f", os.devnull],
                           env=env, capture_output=True, text=True, check=False)  # fmt: skip

    def run(argv: list[str], out: Path) -> Callable[[], Sample]:
        def once() -> Sample:
            seconds, rss = _timed(argv, env, workdir)
            return seconds, out.stat().st_size, rss

        return once

    ways = [("runner -> file", run(runner, runner_file)),
            ("pg_dump -Fc", run([*pg_dump, "-f", str(bare)], bare))]  # fmt: skip
    if probe.returncode == 0:
        ways.append(("pg_dump -Fc -Z zstd", run([*pg_dump, "-Z", "zstd", "-f", str(native)],
                                                native)))  # fmt: skip
    ways[1][1]()  # warm the page cache
    measures = {m.name: m for m in _medians(repeat, ways)}
    mine, gzip = measures["runner -> file"], measures["pg_dump -Fc"]
    line = (
        f"pg18 tenant_large ({_table_bytes(pg, 'large') / MIB:.0f} MiB on disk): runner"
        f" {mine.seconds:.2f} s, artifact {mine.size / MIB:.1f} MiB,"
        f" {_peak_rss(mine)} (goal < {RSS_GOAL_MIB} MiB);"
        f" pg_dump 18 -Fc {gzip.seconds / mine.seconds:.2f}x its time,"
        f" {gzip.size / mine.size:.2f}x its size, {_peak_rss(gzip)}"
    )
    if "pg_dump -Fc -Z zstd" in measures:
        zstd = measures["pg_dump -Fc -Z zstd"]
        return line + (
            f"; -Fc -Z zstd {zstd.seconds / mine.seconds:.2f}x its time,"
            f" {zstd.size / mine.size:.2f}x its size"
        )
    reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "failed"
    return line + f"; -Z zstd unavailable ({reason})"


_databases = itertools.count(1)


def _bare_restore(archive: Path, env: dict[str, str], dbname: str) -> float:
    """`zstd -dc archive | pg_restore -d dbname`, piped without a shell; wall seconds."""
    pg_restore = [str(DEFAULT_BIN_DIR / "pg_restore"), "--exit-on-error", "-d", dbname]
    started = time.monotonic()
    unzstd = subprocess.Popen([ZSTD, "-dc", "-q", str(archive)], stdout=subprocess.PIPE)
    restore = subprocess.run(pg_restore, env=env, stdin=unzstd.stdout, stdout=subprocess.DEVNULL)
    assert unzstd.stdout is not None
    unzstd.stdout.close()
    if unzstd.wait() != 0 or restore.returncode != 0:
        raise RuntimeError("the bare restore pipeline failed")
    return time.monotonic() - started


def bench_restore(
    slug: str, pg: PostgresServer, minio: MinioServer, workdir: Path, repeat: int
) -> list[Measure]:
    """The runner's artifacts of `slug` (left by `bench_tenant`: the file, and the S3 object
    of the same size class) restored three ways, each into a database of its own created
    beforehand (not timed) and dropped afterwards."""
    archive = workdir / f"{slug}.runner.pgdump.zst"
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    size = archive.stat().st_size
    key = f"{slug}/artifact.pgdump.zst"
    env = {"PATH": "/usr/bin:/bin", **pg.libpq_env(DATABASE, pg.superuser)}
    s3_env = env | {
        "AWS_ACCESS_KEY_ID": minio.account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": minio.account.secret_access_key,
    }
    spool = workdir / "spool"
    spool.mkdir(exist_ok=True)

    stored = minio.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3_sha256 = hashlib.sha256(stored).hexdigest()  # the runner's S3 dump, not the file's

    def runner(url: str, digest: str) -> list[str]:
        return [
            str(RUNNER), "restore", "--artifact-url", url, "--expected-sha256", digest,
            "--source-tenant", slug, "--restore-id", f"bench.{slug}", "--work-dir", str(spool),
            "--result-file", str(workdir / "restore.json"),
        ]  # fmt: skip

    def fresh() -> str:
        dbname = f"restore_{next(_databases)}"
        pg.create_database(dbname)
        return dbname

    def run_bare() -> Sample:
        dbname = fresh()
        try:
            return _bare_restore(archive, env | {"PGDATABASE": dbname}, dbname), size, None
        finally:
            pg.drop_database(dbname)

    def run_runner(url: str, digest: str, extra: list[str], base: dict[str, str]) -> Sample:
        dbname = fresh()
        try:
            argv = [*runner(url, digest), *extra]
            seconds, rss = _timed(argv, base | {"PGDATABASE": dbname}, workdir)
            return seconds, size, rss
        finally:
            pg.drop_database(dbname)

    s3_args = ["--s3-endpoint", minio.endpoint, "--s3-force-path-style"]
    ways = [
        ("zstd -dc | pg_restore", run_bare),
        ("runner restore <- file", lambda: run_runner(f"file://{archive}", sha256, [], env)),
        (
            "runner restore <- S3 (MinIO)",
            lambda: run_runner(f"s3://{BUCKET}/{key}", s3_sha256, s3_args, s3_env),
        ),
    ]
    return _medians(repeat, ways)


def restore_report(measures: list[Measure]) -> str:
    """The restores with their ratios to the bare pipeline (goal: at most 1.15x)."""
    bare = measures[0].seconds
    lines = [f"  {'restore':32} {'wall s':>7} {'vs bare':>7} {'peak RSS':>9}"]
    for m in measures:
        rss = f"{m.rss_kib / 1024:.0f} MiB" if m.rss_kib is not None else "-"
        lines.append(f"  {m.name:32} {m.seconds:7.2f} {m.seconds / bare:6.2f}x {rss:>9}")
    return "\n".join(lines)


def _peak_rss(measure: Measure) -> str:
    """`measure`'s peak RSS, labelled: never to be mistaken for a size."""
    return "peak RSS -" if measure.rss_kib is None else f"peak RSS {measure.rss_kib / 1024:.0f} MiB"


def report(slug: str, table_bytes: int, measures: list[Measure]) -> str:
    """A table of the measures with ratios to bare pg_dump and to the zstd floor."""
    bare, floor = measures[0].seconds, measures[1].seconds
    by_name = {m.name: m for m in measures}
    lines = [
        f"tenant_{slug}: {table_bytes / MIB:.0f} MiB on disk (table, TOAST, indexes)",
        f"  {'way':32} {'wall s':>7} {'vs -Fc':>7} {'vs floor':>8} {'MiB':>8} {'peak RSS':>9}",
    ]
    for m in measures:
        rss = f"{m.rss_kib / 1024:.0f} MiB" if m.rss_kib is not None else "-"
        lines.append(
            f"  {m.name:32} {m.seconds:7.2f} {bare / m.seconds:6.2f}x "
            f"{m.seconds / floor:7.2f}x {m.size / MIB:8.1f} {rss:>9}"
        )
    s3, file = by_name["runner -> S3 (MinIO)"], by_name["runner -> file"]
    lines.append(f"  runner S3 / runner file: {s3.seconds / file.seconds:.2f}x")
    encrypted = by_name[ENCRYPTED]
    lines.append(
        f"  runner file, age / runner file: {encrypted.seconds / file.seconds:.2f}x"
        f" (goal <= {ENCRYPTION_GOAL:.2f}x)"
    )
    return "\n".join(lines)


def main() -> int:
    """Load, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small-rows", type=int, default=30_000)
    parser.add_argument("--large-rows", type=int, default=3_300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("small", "large", "pg18"), help="bench one only")
    parser.add_argument("--no-restore", action="store_true", help="measure dumps only")
    args = parser.parse_args()
    slugs = [args.only] if args.only else ["small", "large", "pg18"]
    workdir = Path(tempfile.mkdtemp(prefix="tenant-backup-bench-"))
    pg = PostgresServer()
    pg18 = PostgresServer(server_bin_dir(18)) if "pg18" in slugs else None
    minio = MinioServer(workdir)
    try:
        pg.start()
        minio.start()
        minio.client().create_bucket(Bucket=BUCKET)
        pg.create_database(DATABASE)
        print(f"{os.cpu_count()} CPUs; loading tenants ...", flush=True)
        for slug, rows in (("small", args.small_rows), ("large", args.large_rows)):
            if slug not in slugs:
                continue
            started = time.monotonic()
            pg.execute(TENANT_SQL.format(slug=slug, rows=rows), DATABASE)
            pg.execute(f"VACUUM ANALYZE tenant_{slug}.events", DATABASE)
            print(f"  tenant_{slug}: {rows} rows in {time.monotonic() - started:.0f} s", flush=True)
        for slug in slugs:
            if slug == "pg18":
                continue
            measures = bench_tenant(slug, pg, minio, workdir, args.repeat)
            size = _table_bytes(pg, slug)
            print(report(slug, size, measures), flush=True)
            if not args.no_restore:
                print(restore_report(bench_restore(slug, pg, minio, workdir, args.repeat)))
        if pg18 is not None:
            pg.stop()
            pg18.start()
            pg18.create_database(DATABASE)
            started = time.monotonic()
            pg18.execute(TENANT_SQL.format(slug="large", rows=args.large_rows), DATABASE)
            pg18.execute("VACUUM ANALYZE tenant_large.events", DATABASE)
            loaded = time.monotonic() - started
            print(f"  PostgreSQL 18 tenant_large: {args.large_rows} rows in {loaded:.0f} s")
            print(bench_pg18(pg18, workdir, args.repeat), flush=True)
    finally:
        minio.stop()
        pg.destroy()
        if pg18 is not None:
            pg18.destroy()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _table_bytes(pg: PostgresServer, slug: str) -> int:
    import psycopg

    with psycopg.connect(pg.dsn(DATABASE)) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size(%s::regclass)", (f"tenant_{slug}.events",)
        ).fetchone()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    sys.exit(main())
