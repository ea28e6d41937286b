"""`make kind-e2e`: the operator end to end on kind, where a Docker engine exists.

Creates kind cluster `tbo-e2e`, builds the image from the Dockerfile and loads it, installs
the chart, deploys PostgreSQL 15 with the test tenants, backs up tenant `acme` to a PVC and
checks the artifact from inside the cluster: its sha256 is the one in status and it restores
into a fresh database with the tenant's rows. `--keep` leaves the cluster up.

Needs docker, kind, kubectl and helm on PATH. Our CI machines have no Docker engine; there
`make demo` runs the same path on a local node built from upstream components.
"""

import argparse
import base64
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "tbo-e2e"
IMAGE = "tenant-backup-operator:e2e"
NAMESPACE = "e2e"
PG_IMAGE = "postgres:15"
SYSTEM_NAMESPACE = "tenant-backup-system"


def run(*args: str, stdin: str | None = None) -> str:
    """Run a command (an argument list, no shell); its stdout. Fails loudly."""
    print("+", " ".join(args), file=sys.stderr)
    return subprocess.run(args, input=stdin, text=True, check=True, capture_output=True).stdout


def kubectl_apply(*objects: dict[str, Any]) -> None:
    """Apply objects into the e2e namespace."""
    items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    run("kubectl", "apply", "-n", NAMESPACE, "-f", "-", stdin=json.dumps(items))


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    """An Opaque Secret."""
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}


def postgres(password: str, role_password: str) -> list[dict[str, Any]]:
    """PostgreSQL 15 loaded with devenv/tenants.sql, and its Service."""
    init = {
        "01-tenants.sql": (REPO / "devenv/tenants.sql").read_text(),
        "02-roles.sql": f"ALTER ROLE backup_owner PASSWORD '{role_password}';\n",
    }
    labels = {"app": "postgres"}
    container = {
        "name": "postgres",
        "image": PG_IMAGE,
        "env": [
            {"name": "POSTGRES_DB", "value": "app"},
            {
                "name": "POSTGRES_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "pg-super", "key": "password"}},
            },
        ],
        "ports": [{"containerPort": 5432}],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "postgres"]}},
        "volumeMounts": [{"name": "init", "mountPath": "/docker-entrypoint-initdb.d"}],
    }
    return [
        secret("pg-super", {"password": password}),
        secret("pg-init", init),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "postgres"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [container],
                        "volumes": [{"name": "init", "secret": {"secretName": "pg-init"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "postgres"},
            "spec": {"selector": labels, "ports": [{"port": 5432}]},
        },
    ]


def backup() -> dict[str, Any]:
    """The TenantBackup under test."""
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackup",
        "metadata": {"name": "acme-e2e"},
        "spec": {
            "tenant": "acme",
            "database": {"secretRef": {"name": "pg-app"}, "sslMode": "disable"},
            "destination": {"pvc": {"claimName": "backups", "path": "e2e"}},
        },
    }


CHECK = """
import hashlib, subprocess, sys, zstandard
path, expected = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
assert hashlib.sha256(data).hexdigest() == expected, "sha256 differs from status"
archive = zstandard.ZstdDecompressor().stream_reader(open(path, "rb")).read()
subprocess.run(["createdb", "restored"], check=True)
subprocess.run(["pg_restore", "--no-owner", "-d", "restored"], input=archive, check=True)
out = subprocess.run(["psql", "-d", "restored", "-Atc",
    "SELECT count(*) FROM tenant_acme.customers"], capture_output=True, text=True, check=True)
print("restored rows:", out.stdout.strip())
assert int(out.stdout) > 0
"""


def check_pod(path: str, sha256: str) -> dict[str, Any]:
    """A pod of the operator image that verifies and restores the artifact."""
    env = [
        {"name": "PGHOST", "value": "postgres"},
        {"name": "PGUSER", "value": "postgres"},
        {"name": "PGDATABASE", "value": "app"},
        {
            "name": "PGPASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "pg-super", "key": "password"}},
        },
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "check-artifact"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "check",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", CHECK, f"/backups/{path}", sha256],
                    "env": env,
                    "volumeMounts": [{"name": "backups", "mountPath": "/backups"}],
                }
            ],
            "volumes": [{"name": "backups", "persistentVolumeClaim": {"claimName": "backups"}}],
        },
    }


def main() -> int:
    """Run the end-to-end check; non-zero on failure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the kind cluster up")
    args = parser.parse_args()
    run("kind", "create", "cluster", "--name", CLUSTER, "--wait", "120s")
    try:
        run("docker", "build", "-t", IMAGE, str(REPO))
        run("kind", "load", "docker-image", IMAGE, "--name", CLUSTER)
        run("helm", "install", "tbo", str(REPO / "charts/tenant-backup-operator"),
            "--namespace", SYSTEM_NAMESPACE, "--create-namespace", "--wait",
            "--set", "image.tag=e2e", "--set", "image.pullPolicy=Never")  # fmt: skip
        run("kubectl", "create", "namespace", NAMESPACE)
        run("kubectl", "annotate", "namespace", NAMESPACE, "tenantbackup.dev/allowed-tenants=acme")
        password, role_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        kubectl_apply(*postgres(password, role_password))
        run("kubectl", "rollout", "status", "-n", NAMESPACE, "deploy/postgres", "--timeout=300s")
        app = {"host": "postgres", "dbname": "app", "username": "backup_owner"}
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "backups"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
        kubectl_apply(secret("pg-app", app | {"password": role_password}), claim, backup())
        run("kubectl", "wait", "-n", NAMESPACE, "tb/acme-e2e", "--for=condition=Complete",
            "--timeout=600s")  # fmt: skip
        print(run("kubectl", "get", "-n", NAMESPACE, "tb", "-o", "wide"))
        status = json.loads(run("kubectl", "get", "-n", NAMESPACE, "tb/acme-e2e", "-o", "json"))
        artifact = status["status"]["artifact"]
        path = artifact["url"].removeprefix("pvc://backups/")
        kubectl_apply(check_pod(path, artifact["sha256"]))
        run("kubectl", "wait", "-n", NAMESPACE, "pod/check-artifact",
            "--for=jsonpath={.status.phase}=Succeeded", "--timeout=300s")  # fmt: skip
        print(run("kubectl", "logs", "-n", NAMESPACE, "check-artifact"))
    finally:
        if not args.keep:
            run("kind", "delete", "cluster", "--name", CLUSTER)
    if args.keep:
        print(f"kind cluster {CLUSTER} is up; remove it: kind delete cluster --name {CLUSTER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
