"""TLS for a test `PostgresServer`: a private CA (and an unrelated one), the server's
certificate for chosen host names, a client certificate for a role, made with the openssl
CLI; and the server set up to require TLS, with `cert` authentication for that role."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devenv.postgres import OS_USER, PostgresServer

_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30")


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {result.stderr}")


def _ca(directory: Path, name: str) -> Path:
    _openssl("req", "-x509", *_EC, "-keyout", str(directory / f"{name}.key"),
             "-out", str(directory / f"{name}.crt"), "-subj", f"/CN={name}")  # fmt: skip
    return directory / f"{name}.crt"


def _issue(directory: Path, name: str, ca: str, subject: str, *exts: str) -> tuple[Path, Path]:
    addext = [arg for ext in ("basicConstraints=critical,CA:FALSE", *exts)
              for arg in ("-addext", ext)]  # fmt: skip
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", *_EC, "-keyout", str(key), "-out", str(cert), "-subj", subject,
             "-CA", str(directory / f"{ca}.crt"), "-CAkey", str(directory / f"{ca}.key"),
             *addext)  # fmt: skip
    key.chmod(0o600)
    return cert, key


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of one test PKI."""

    ca: Path
    """The CA that signed the server's and the client's certificates."""
    other_ca: Path
    """A CA that signed nothing here: verifying with it must fail."""
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(directory: Path, server_names: tuple[str, ...], client_role: str) -> TlsFiles:
    """Certificates for a server known as `server_names` (DNS names) and for `client_role`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, other_ca = _ca(directory, "test-ca"), _ca(directory, "other-ca")
    san = "subjectAltName=" + ",".join(f"DNS:{name}" for name in server_names)
    server = _issue(directory, "server", "test-ca", f"/CN={server_names[0]}", san,
                    "extendedKeyUsage=serverAuth")  # fmt: skip
    client = _issue(directory, "client", "test-ca", f"/CN={client_role}",
                    "extendedKeyUsage=clientAuth")  # fmt: skip
    return TlsFiles(ca, other_ca, *server, *client)


def require_tls(server: PostgresServer, files: TlsFiles, cert_role: str) -> None:
    """Before `server.start()`: TLS on with `files`, plain TCP refused, `cert_role` let in by
    its client certificate alone, every other role by password over TLS."""
    owner = pwd.getpwnam(OS_USER)
    for source, name in ((files.server_cert, "server.crt"), (files.server_key, "server.key"),
                         (files.ca, "root.crt")):  # fmt: skip
        target = server.data_dir / name
        shutil.copyfile(source, target)
        os.chown(target, owner.pw_uid, owner.pw_gid)
        target.chmod(0o600)
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        conf.write("ssl_ca_file = 'root.crt'\n")
    hba = server.data_dir / "pg_hba.conf"
    rules = [line for line in hba.read_text().splitlines() if line.startswith("local")]
    rules += [
        f"hostssl all {cert_role} 127.0.0.1/32 cert",
        f"hostssl all {cert_role} ::1/128 cert",
        "hostssl all all 127.0.0.1/32 scram-sha-256",
        "hostssl all all ::1/128 scram-sha-256",
    ]
    hba.write_text("\n".join(rules) + "\n")
