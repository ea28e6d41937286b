"""The operator with an S3 destination on a real API server and a real MinIO: the Job gets the
credentials only from the Secret (or, on the default credential chain, from where the cluster
put them), the real runner uploads, status reports the s3:// artifact,
its verification and an opt-in download link, which never reaches Events or operator logs;
`tenant-backup link` makes fresh links."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as random_names
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devenv.cluster import Cluster
from devenv.kubectl import KubectlRunner
from devenv.minio import MinioServer, OpenIdProvider
from devenv.pod_executor import end_pod, run_dump_container
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.support import backups as tb
from tests.support.factories import backup_body
from tests.support.operator_fixtures import StartOperator
from tests.support.s3_fixtures import Bucket

Apply = Callable[..., Any]
CLI = Path(sys.executable).with_name("tenant-backup")
S3_SECRET = "s3-creds"


def s3_destination(bucket: Bucket, **extra: Any) -> dict[str, Any]:
    return {
        "s3": {
            "bucket": bucket.name,
            "keyPrefix": "nightly/",
            "endpoint": bucket.server.endpoint,
            "forcePathStyle": True,
            "credentialsSecretRef": {"name": S3_SECRET},
        }
        | extra
    }


def manifest(bucket: Bucket, name: str = "nightly", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackup",
        "metadata": {"name": name},
        "spec": {
            "tenant": "acme",
            "database": {"secretRef": {"name": tb.SECRET_NAME}},
            "destination": s3_destination(bucket),
            "retry": {"maxAttempts": 1},
        }
        | spec,
    }


def create_s3_secret(kubectl: KubectlRunner, namespace: str, bucket: Bucket) -> dict[str, str]:
    data = {
        "accessKeyId": bucket.server.account.access_key_id,
        "secretAccessKey": bucket.server.account.secret_access_key,
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": S3_SECRET, "namespace": namespace},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }
    kubectl("apply", "-f", "-", input=json.dumps(secret))
    return data


@pytest.fixture
def secrets(
    kubectl: KubectlRunner, namespace: str, shared_tenant_db: Database, bucket: Bucket
) -> dict[str, str]:
    """The database and S3 Secrets; their keys merged, as the pod executor resolves them."""
    return tb.create_db_secret(kubectl, namespace, shared_tenant_db) | create_s3_secret(
        kubectl, namespace, bucket
    )


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        data: bytes = reply.read()
        return data


def _link(
    cluster: Cluster, namespace: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {}), "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run(
        [str(CLI), "link", "nightly", "-n", namespace, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_s3_backup_succeeds_with_a_verified_artifact_and_a_download_link(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    cluster: Cluster,
    start_operator: StartOperator,
    secrets: dict[str, str],
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    operator = start_operator()
    destination = s3_destination(bucket, downloadLink={"expiresInSeconds": 600})
    apply(manifest(bucket, destination=destination, verify="full"))
    pod = tb.running_pod(kubectl, namespace, "nightly-1")

    container = pod["spec"]["containers"][0]
    env = {variable["name"]: variable for variable in container["env"]}
    pairs = [("AWS_ACCESS_KEY_ID", "accessKeyId"), ("AWS_SECRET_ACCESS_KEY", "secretAccessKey")]
    for variable, key in pairs:
        assert env[variable] == {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": S3_SECRET, "key": key, "optional": False}},
        }
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    job = json.dumps(tb.get(kubectl, namespace, "job", "nightly-1"))
    for secret_value in (secrets["secretAccessKey"], secrets["accessKeyId"], secrets["password"]):
        assert secret_value not in job
        assert secret_value not in json.dumps(pod)
    assert "--verify=full" in container["command"]
    assert "--s3-download-link-seconds=600" in container["command"]

    before = datetime.now(UTC).replace(microsecond=0)
    code, message = run_dump_container(pod, secrets, tmp_path, tmp_path)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "tb/nightly", "--timeout=60s")
    status = tb.status(kubectl, namespace, "nightly")
    artifact = status["artifact"]
    key = artifact["url"].removeprefix(f"s3://{bucket.name}/")
    assert key.startswith("nightly/acme/acme-")
    assert key.endswith(".pgdump.zst")
    body = bucket.read(key)
    assert artifact["sizeBytes"] == len(body)
    assert artifact["sha256"] == hashlib.sha256(body).hexdigest()
    assert artifact["verification"] == "full"
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Verified"] == ("True", "FullyVerified")
    assert conditions["Complete"] == ("True", "Succeeded")

    url = artifact["downloadUrl"]
    assert _get(url) == body
    expires_at = datetime.fromisoformat(artifact["downloadUrlExpiresAt"])
    assert 600 <= (expires_at - before).total_seconds() <= 660
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    events = json.dumps(tb.items(kubectl, namespace, "events"))
    assert "AttemptSucceeded" in events
    assert signature not in events
    assert signature not in operator.logs()

    # Long enough to be fetched on a loaded machine; then waited out.
    fresh = _link(cluster, namespace, "--expires", "10")
    assert fresh.returncode == 0, fresh.stderr
    link = fresh.stdout.strip()
    assert link != url
    assert "expires at " in fresh.stderr
    assert _get(link) == body
    expiry = datetime.fromisoformat(fresh.stderr.split("expires at ")[1].split()[0])
    time.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()) + 2)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(link)
    assert refused.value.code == 403
    too_long = _link(cluster, namespace, "--expires", "604801")
    assert too_long.returncode == 1
    assert "604800" in too_long.stderr


def test_missing_s3_secret_fails_preflight_without_a_job(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    cluster: Cluster,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    bucket: Bucket,
) -> None:
    tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator()
    apply(manifest(bucket))
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
    assert status["reason"] == "SecretMissing"
    assert S3_SECRET in status["message"]
    assert tb.items(kubectl, namespace, "jobs") == []
    not_succeeded = _link(cluster, namespace)
    assert not_succeeded.returncode == 1
    assert "has not succeeded" in not_succeeded.stderr


def test_default_credential_chain_backs_up_and_prunes_without_a_secret(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    cluster: Cluster,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    """No S3 Secret exists: the Jobs find credentials where the cluster put them (here a
    shared credentials file, as a workload identity webhook or a CSI volume provides)."""
    database = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    account = bucket.server.account
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {account.access_key_id}\n"
        f"aws_secret_access_key = {account.secret_access_key}\n"
    )
    platform = {
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    start_operator()
    chain = {k: v for k, v in s3_destination(bucket)["s3"].items() if k != "credentialsSecretRef"}
    destination = {"s3": chain | {"defaultCredentialChain": True}}
    apply(manifest(bucket, destination=destination, deletionPolicy="Delete"))
    pod = tb.running_pod(kubectl, namespace, "nightly-1")
    container = pod["spec"]["containers"][0]
    assert "--s3-credentials=default-chain" in container["command"]
    assert not any(e["name"].startswith("AWS_") for e in container.get("env", []))
    code, message = run_dump_container(pod, database, tmp_path, tmp_path, platform)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "tb/nightly", "--timeout=60s")
    key = tb.status(kubectl, namespace, "nightly")["artifact"]["url"].removeprefix(
        f"s3://{bucket.name}/"
    )
    assert bucket.keys() == [key, f"{key}.sha256"]
    # `link` has no Secret to read: it signs with the caller's own chain, or says it found none.
    signed = _link(cluster, namespace, env=platform)
    assert signed.returncode == 0, signed.stderr
    assert _get(signed.stdout.strip()) == bucket.read(key)
    nothing = {**platform, "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    unsigned = _link(cluster, namespace, env=nothing)
    assert unsigned.returncode == 1
    assert "uses the default credential chain of its Jobs" in unsigned.stderr

    kubectl("delete", "-n", namespace, "tb", "nightly", "--wait=false")
    prune = tb.running_pod(kubectl, namespace, "nightly-1-prune")
    assert "--s3-credentials=default-chain" in prune["spec"]["containers"][0]["command"]
    code, message = run_dump_container(prune, database, tmp_path, tmp_path, platform)
    end_pod(kubectl, namespace, prune["metadata"]["name"], code, message)
    assert json.loads(message)["outcome"] == "Deleted"
    assert bucket.keys() == []


STS_AUDIENCE = "minio-sts"


@pytest.fixture
def sts_bucket(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Bucket, str]]:
    """A bucket on a MinIO whose STS takes the test API server as its OpenID provider
    (service-account tokens for audience STS_AUDIENCE get readwrite), and the role's ARN.
    The issuer's discovery document and keys are made public, as a cloud's OIDC setup does."""
    binding = f"oidc-discovery-{random_names.token_hex(3)}"
    cluster.kubectl(
        "create", "clusterrolebinding", binding,
        "--clusterrole=system:service-account-issuer-discovery",
        "--group=system:unauthenticated",
    )  # fmt: skip
    openid = OpenIdProvider(
        config_url=f"{cluster.server}/.well-known/openid-configuration",
        ca_file=cluster.ca_file,
        client_id=STS_AUDIENCE,
    )
    server = MinioServer(tmp_path, openid).start()
    try:
        client = server.client()
        client.create_bucket(Bucket="backups")
        yield Bucket("backups", server, client), wait_for(server.role_arn, 10, "no role ARN")
    finally:
        server.stop()
        cluster.kubectl("delete", "clusterrolebinding", binding)


def _web_identity(
    kubectl: KubectlRunner, pod: dict[str, Any], audience: str, role_arn: str, tmp_path: Path
) -> dict[str, str]:
    """What a workload identity webhook gives the pod: a token of its service account bound
    to the pod (a projected volume's), the role, and where STS is."""
    meta = pod["metadata"]
    token = kubectl(
        "create", "token", pod["spec"].get("serviceAccountName", "default"),
        "-n", meta["namespace"], f"--audience={audience}", "--bound-object-kind=Pod",
        f"--bound-object-name={meta['name']}", f"--bound-object-uid={meta['uid']}",
    ).stdout.strip()  # fmt: skip
    token_file = tmp_path / f"{meta['name']}-token"
    token_file.write_text(token)
    endpoint = pod["spec"]["containers"][0]["command"]
    sts = next(arg.split("=", 1)[1] for arg in endpoint if arg.startswith("--s3-endpoint="))
    return {
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ROLE_ARN": role_arn,
        "AWS_ENDPOINT_URL_STS": sts,
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_default_credential_chain_with_a_service_account_web_identity(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    sts_bucket: tuple[Bucket, str],
    tmp_path: Path,
) -> None:
    """The Job's service-account token, exchanged at MinIO's STS (AssumeRoleWithWebIdentity)
    for temporary credentials by the runner's default chain; a token for another audience is
    refused: AuthFailed, permanent."""
    bucket, role_arn = sts_bucket
    database = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator()
    chain = {k: v for k, v in s3_destination(bucket)["s3"].items() if k != "credentialsSecretRef"}
    destination = {"s3": chain | {"defaultCredentialChain": True}}
    apply(manifest(bucket, destination=destination))
    pod = tb.running_pod(kubectl, namespace, "nightly-1")
    identity = _web_identity(kubectl, pod, STS_AUDIENCE, role_arn, tmp_path)
    code, message = run_dump_container(pod, database, tmp_path, tmp_path, identity)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "tb/nightly", "--timeout=60s")
    key = tb.status(kubectl, namespace, "nightly")["artifact"]["url"].removeprefix(
        f"s3://{bucket.name}/"
    )
    assert bucket.keys() == [key, f"{key}.sha256"]
    token = Path(identity["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text()
    assert token not in (tmp_path / f"{pod['metadata']['name']}.log").read_text()

    apply(manifest(bucket, name="other", destination=destination))
    pod = tb.running_pod(kubectl, namespace, "other-1")
    wrong = _web_identity(kubectl, pod, "another-audience", role_arn, tmp_path)
    code, message = run_dump_container(pod, database, tmp_path, tmp_path, wrong)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    status = tb.wait_phase(kubectl, namespace, "other", "Failed")
    assert status["reason"] == "AuthFailed"
    assert "by the default chain" in status["message"]
    assert bucket.keys() == [key, f"{key}.sha256"]


def _rejected(apply: Apply, spec: dict[str, Any]) -> str:
    body = backup_body(**spec)
    body["metadata"] = {"name": "nightly"}
    result = apply(body, check=False)
    assert result.returncode != 0, f"accepted: {body['spec']}"
    return str(result.stderr)


def test_admission_of_s3_destinations(apply: Apply, bucket: Bucket) -> None:
    s3 = s3_destination(bucket)["s3"]
    both = {"pvc": {"claimName": "backups"}, "s3": s3}
    assert "exactly one destination must be set: pvc, s3 or telegram" in _rejected(
        apply, {"destination": both}
    )
    too_long = s3 | {"downloadLink": {"expiresInSeconds": 604801}}
    assert "spec.destination.s3.downloadLink.expiresInSeconds" in _rejected(
        apply, {"destination": {"s3": too_long}}
    )
    two_cas = s3 | {"caSecretRef": {"name": "ca"}, "caConfigMapRef": {"name": "ca"}}
    assert "set at most one of caSecretRef and caConfigMapRef" in _rejected(
        apply, {"destination": {"s3": two_cas}}
    )
    dotdot = s3 | {"keyPrefix": "../x/"}
    assert "spec.destination.s3.keyPrefix" in _rejected(apply, {"destination": {"s3": dotdot}})
    assert "spec.verify" in _rejected(apply, {"destination": {"s3": s3}, "verify": "some"})
    one_credential = "set exactly one of credentialsSecretRef and defaultCredentialChain: true"
    both_credentials = s3 | {"defaultCredentialChain": True}
    assert one_credential in _rejected(apply, {"destination": {"s3": both_credentials}})
    no_credentials = {k: v for k, v in s3.items() if k != "credentialsSecretRef"}
    assert one_credential in _rejected(apply, {"destination": {"s3": no_credentials}})
    chain = no_credentials | {"defaultCredentialChain": True}
    assert (
        apply(backup_body(destination={"s3": chain}) | {"metadata": {"name": "chain"}}).returncode
        == 0
    )
    assert apply(backup_body(destination={"s3": s3}) | {"metadata": {"name": "ok"}}).returncode == 0
