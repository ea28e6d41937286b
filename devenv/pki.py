"""The control plane's PKI, made with the openssl CLI (the venv has no `cryptography`): a CA,
the API server's serving certificate, client certificates, the service-account key pair."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devenv.errors import ClusterError


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args[:2])} failed: {result.stderr}")


def _issue(pki: Path, name: str, subject: str, *exts: str) -> None:
    """Issue `name`.crt/.key (EC P-256) signed by pki/ca."""
    addext = [
        arg for ext in ("basicConstraints=critical,CA:FALSE", *exts) for arg in ("-addext", ext)
    ]
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki / f"{name}.key"), "-out", str(pki / f"{name}.crt"),
        "-days", "3650", "-subj", subject,
        "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
        *addext,
    )  # fmt: skip


def issue_client_cert(pki: Path, name: str, subject: str) -> None:
    """Issue client certificate `name`.crt/.key for `subject` (e.g. /O=group/CN=user)."""
    _issue(pki, name, subject, "keyUsage=critical,digitalSignature,keyEncipherment",
           "extendedKeyUsage=clientAuth")  # fmt: skip


def make_pki(pki: Path, extra_ips: tuple[str, ...] = ()) -> None:
    """CA, apiserver serving cert (also for `extra_ips`), client certs per component,
    service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
        "-days", "3650", "-subj", "/CN=tenant-backup-test-ca",
    )  # fmt: skip
    ips = "".join(f"IP:{ip}," for ip in ("127.0.0.1", "10.96.0.1", *extra_ips))
    san = f"subjectAltName={ips}DNS:localhost,DNS:kubernetes," + (
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    )
    _issue(
        pki, "apiserver", "/CN=kube-apiserver", san,
        "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    for name, subject in (
        ("admin", "/O=system:masters/CN=tbo-admin"),
        ("kwok", "/O=system:masters/CN=kwok"),
        ("controller-manager", "/CN=system:kube-controller-manager"),
        ("scheduler", "/CN=system:kube-scheduler"),
        ("kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client"),
    ):
        issue_client_cert(pki, name, subject)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(pki / "sa.key"))  # fmt: skip
    _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
