"""A throwaway MinIO server for tests, benchmarks and by hand: temp data dir, free port,
loopback only. The binary comes from `tools/minio/build.sh` (built once from MinIO's Go
module).

By hand: ``python -m devenv.minio`` starts one with a bucket `backups` and prints the
runner's S3 settings for it, until Ctrl-C.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from mypy_boto3_s3 import S3Client

from devenv.foreground import serve
from devenv.paths import REPO
from devenv.processes import free_port
from devenv.waiting import wait_for

BUILD_SCRIPT = REPO / "tools" / "minio" / "build.sh"
REGION = "us-east-1"
START_TIMEOUT_SECONDS = 60


def minio_binary() -> Path:
    """The MinIO server binary, built on first use."""
    out = subprocess.run(
        [str(BUILD_SCRIPT)], check=True, capture_output=True, text=True, timeout=1800
    ).stdout
    return Path(out.strip().splitlines()[-1])


@dataclass(frozen=True)
class OpenIdProvider:
    """An OpenID Connect provider MinIO's STS accepts web identity tokens of
    (AssumeRoleWithWebIdentity): tokens whose audience is `client_id` get `role_policy`."""

    config_url: str
    """Its `/.well-known/openid-configuration`."""
    ca_file: Path
    """The CA of its TLS certificate."""
    client_id: str
    role_policy: str = "readwrite"


@dataclass(frozen=True)
class S3Account:
    """An access key pair the server accepts."""

    access_key_id: str
    secret_access_key: str


class MinioServer:
    """`minio server` on 127.0.0.1:<free port> with a random root account."""

    def __init__(self, base_dir: Path | None = None, openid: OpenIdProvider | None = None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="minio-", dir=base_dir))
        self.openid = openid
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.account = S3Account(secrets.token_hex(10), secrets.token_urlsafe(30))
        self.log_file = self.data_dir.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MinioServer:
        """Start and wait until the server answers its liveness probe."""
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.data_dir),
            "MINIO_ROOT_USER": self.account.access_key_id,
            "MINIO_ROOT_PASSWORD": self.account.secret_access_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        certs = self.data_dir / "certs"  # no key pair of its own: it serves plain HTTP
        (certs / "CAs").mkdir(parents=True)
        if self.openid is not None:
            shutil.copy(self.openid.ca_file, certs / "CAs" / "openid-ca.crt")
            env |= {
                "MINIO_IDENTITY_OPENID_CONFIG_URL": self.openid.config_url,
                "MINIO_IDENTITY_OPENID_CLIENT_ID": self.openid.client_id,
                "MINIO_IDENTITY_OPENID_ROLE_POLICY": self.openid.role_policy,
            }
        quiet = [] if self.openid else ["--quiet"]  # it logs the OpenID role's ARN at start
        argv = [
            str(minio_binary()), "server", *quiet,
            "--address", f"127.0.0.1:{self.port}",
            "--console-address", f"127.0.0.1:{free_port()}",
            "--certs-dir", str(certs),
            str(self.data_dir / "data"),
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._live, START_TIMEOUT_SECONDS, self._not_live, interval=0.1)
        return self

    def role_arn(self) -> str:
        """The ARN of the role MinIO made for its OpenID provider (it logs it at start)."""
        found = re.search(r"arn:minio:iam:::role/[A-Za-z0-9_-]+", self.log_file.read_text())
        if found is None:
            raise RuntimeError(f"MinIO logged no role ARN; {self._not_live()}")
        return found.group(0)

    def _live(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(self._not_live())
        try:
            with urllib.request.urlopen(f"{self.endpoint}/minio/health/live", timeout=2) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    def _not_live(self) -> str:
        log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
        return f"MinIO on {self.endpoint} is not live; log:\n{log}"

    def client(self, account: S3Account | None = None) -> S3Client:
        """A boto3 S3 client for `account` (default: the root account)."""
        account = account or self.account
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=account.access_key_id,
            aws_secret_access_key=account.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        """Stop the server and delete its data."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)


def main() -> int:
    """Start a server with an empty bucket `backups`; print the runner's settings for it."""
    server = MinioServer().start()
    try:
        server.client().create_bucket(Bucket="backups")
    except BaseException:
        server.stop()
        raise
    account = server.account
    keys = {
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
    }
    where = f"--s3-endpoint {server.endpoint} --s3-region {REGION} --s3-force-path-style"
    args = f"--tenant acme --s3-bucket backups --s3-key acme.pgdump.zst {where}"
    return serve(server.stop, keys, args)


if __name__ == "__main__":
    sys.exit(main())
