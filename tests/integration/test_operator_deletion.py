"""Deleting a TenantBackup on a real API server: our finalizer holds the object until its
artifact's fate is known. With `deletionPolicy: Delete` (or the delete-artifact annotation) a
prune Job deletes the artifact (its container run for real: real PVC files, a real MinIO,
the Bot API stand-in), retried until the cause of a failure is fixed; Retain keeps it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from devenv.telegram_stand_in import BotApiStandIn
from devenv.waiting import wait_for
from tenant_backup.core import naming
from tests.integration.test_operator_s3 import S3_SECRET, create_s3_secret, s3_destination
from tests.integration.test_operator_telegram import BOT_SECRET, telegram
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.s3_fixtures import Bucket

Apply = Callable[..., Any]
RETRY = {"maxAttempts": 2, "backoffSeconds": 1, "maxBackoffSeconds": 2}
# What the session policy of the restricted S3 credentials allows: everything but deleting.
NO_DELETE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket",
                       "s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload"],
            "Resource": ["arn:aws:s3:::*"],
        }
    ],
}  # fmt: skip


def succeed(
    kubectl: KubectlRunner, namespace: str, secret: dict[str, str], claim: Path, work: Path
) -> str:
    """Run attempt 1 of `nightly` for real; once Succeeded, its artifact URL."""
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim, work)
    url: str = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")["artifact"]["url"]
    return url


def delete(kubectl: KubectlRunner, namespace: str) -> None:
    kubectl("delete", "-n", namespace, "tb", "nightly", "--wait=false")


def run_prune(
    kubectl: KubectlRunner,
    namespace: str,
    job: str,
    secret: dict[str, str],
    claim: Path,
    work: Path,
) -> dict[str, Any]:
    """Run Job `job`'s prune container for real, end its pod with the result; the result."""
    pod = tb.running_pod(kubectl, namespace, job)
    assert pod["spec"]["containers"][0]["command"][:2] == ["tenant-backup", "prune"]
    code, message = run_dump_container(pod, secret, claim, work)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    result: dict[str, Any] = json.loads(message)
    return result


def gone(kubectl: KubectlRunner, namespace: str, timeout: float = 60) -> None:
    """Wait until TenantBackup `nightly` no longer exists."""
    wait_for(
        lambda: not kubectl("get", "-n", namespace, "tb", "-o", "name").stdout.strip(),
        timeout,
        "TenantBackup nightly outlived its deletion",
    )


def events(kubectl: KubectlRunner, namespace: str) -> dict[str, tuple[str, str]]:
    """The TenantBackup Events by reason: (type, message)."""
    return {
        event["reason"]: (event["type"], event["message"])
        for event in tb.items(kubectl, namespace, "events")
        if event["involvedObject"]["kind"] == "TenantBackup"
    }


def labels(kubectl: KubectlRunner, namespace: str) -> dict[str, str]:
    found: dict[str, str] = tb.get(kubectl, namespace, "tb", "nightly")["metadata"].get(
        "labels", {}
    )
    return found


def finalizers(kubectl: KubectlRunner, namespace: str) -> list[str]:
    found: list[str] = tb.get(kubectl, namespace, "tb", "nightly")["metadata"].get("finalizers", [])
    return found


def test_delete_policy_on_a_pvc_deletes_the_file_then_the_object(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    start_operator()
    apply(tb.manifest(deletionPolicy="Delete"))
    tb.running_pod(kubectl, namespace, "nightly-1")
    assert naming.FINALIZER_ARTIFACT in finalizers(kubectl, namespace)  # before any artifact
    url = succeed(kubectl, namespace, secret, claim_dir, tmp_path)
    artifact = tb.artifact_file(claim_dir, url)
    assert artifact.is_file()
    # Settled: out of Kopf's watch. Its deletion is seen by the informer, which hands it back.
    wait_for(lambda: naming.LABEL_SETTLED in labels(kubectl, namespace), 30, "the settled label")

    delete(kubectl, namespace)
    result = run_prune(kubectl, namespace, "nightly-1-prune", secret, claim_dir, tmp_path)
    assert (result["ok"], result["outcome"], result["url"]) == (True, "Deleted", url)
    gone(kubectl, namespace)
    assert not artifact.exists()
    assert events(kubectl, namespace)["ArtifactDeleted"] == ("Normal", f"deleted {url}")
    assert "PruneJobCreated" in events(kubectl, namespace)


def test_retain_keeps_the_artifact_and_releases_the_object_at_once(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    start_operator()
    apply(tb.manifest())
    url = succeed(kubectl, namespace, secret, claim_dir, tmp_path)
    assert naming.FINALIZER_ARTIFACT in finalizers(kubectl, namespace)
    delete(kubectl, namespace)
    gone(kubectl, namespace, timeout=30)
    assert tb.artifact_file(claim_dir, url).is_file()
    assert tb.job_names(kubectl, namespace) in (["nightly-1"], [])  # no prune Job
    kept = events(kubectl, namespace)["ArtifactRetained"]
    assert kept == ("Normal", f"kept {url}: deletionPolicy is Retain")


def test_the_annotation_deletes_the_artifact_of_a_retained_backup(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    """What a schedule's retention does: annotate, then delete."""
    start_operator()
    apply(tb.manifest())
    url = succeed(kubectl, namespace, secret, claim_dir, tmp_path)
    annotation = f"{naming.ANNOTATION_DELETE_ARTIFACT}=true"
    kubectl("annotate", "-n", namespace, "tb", "nightly", annotation)
    delete(kubectl, namespace)
    run_prune(kubectl, namespace, "nightly-1-prune", secret, claim_dir, tmp_path)
    gone(kubectl, namespace)
    assert not tb.artifact_file(claim_dir, url).exists()


def test_a_backup_deleted_while_its_attempt_runs_waits_and_deletes_what_it_wrote(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    start_operator()
    apply(tb.manifest(deletionPolicy="Delete"))
    tb.running_pod(kubectl, namespace, "nightly-1")
    delete(kubectl, namespace)

    def waiting() -> dict[str, Any] | None:
        deletion: dict[str, Any] = tb.status(kubectl, namespace, "nightly").get("deletion", {})
        return deletion if deletion.get("reason") == "WaitingForAttempt" else None

    deletion = wait_for(waiting, 30, "the deletion never waited for the running attempt")
    assert "nightly-1" in deletion["message"]
    assert tb.job_names(kubectl, namespace) == ["nightly-1"]
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    result = run_prune(kubectl, namespace, "nightly-1-prune", secret, claim_dir, tmp_path)
    assert result["outcome"] == "Deleted"
    gone(kubectl, namespace)
    assert not tb.artifact_file(claim_dir, result["url"]).exists()
    assert list((claim_dir / "nightly" / "acme").iterdir()) == []


def test_delete_policy_on_s3_deletes_the_object_and_its_sidecar(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    secrets = secret | create_s3_secret(kubectl, namespace, bucket)
    start_operator()
    apply(tb.manifest(destination=s3_destination(bucket), deletionPolicy="Delete"))
    url = succeed(kubectl, namespace, secrets, tmp_path, tmp_path)
    key = url.removeprefix(f"s3://{bucket.name}/")
    assert bucket.keys() == [key, f"{key}.sha256"]

    delete(kubectl, namespace)
    result = run_prune(kubectl, namespace, "nightly-1-prune", secrets, tmp_path, tmp_path)
    assert result["outcome"] == "Deleted"
    gone(kubectl, namespace)
    assert bucket.keys() == []


def restricted_credentials(bucket: Bucket) -> dict[str, str]:
    """Temporary credentials from MinIO's STS whose session policy allows no delete."""
    account = bucket.server.account
    sts = boto3.client(
        "sts",
        endpoint_url=bucket.server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
    )
    issued = sts.assume_role(
        RoleArn="arn:minio:iam:::role/no-delete",
        RoleSessionName="no-delete",
        Policy=json.dumps(NO_DELETE),
        DurationSeconds=3600,
    )["Credentials"]
    return {
        "accessKeyId": issued["AccessKeyId"],
        "secretAccessKey": issued["SecretAccessKey"],
        "sessionToken": issued["SessionToken"],
    }


def test_a_failing_delete_keeps_the_object_marked_and_retries_until_fixed(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    allowed = create_s3_secret(kubectl, namespace, bucket)
    operator = start_operator()
    destination = s3_destination(bucket)
    apply(tb.manifest(destination=destination, deletionPolicy="Delete", retry=RETRY))
    url = succeed(kubectl, namespace, secret | allowed, tmp_path, tmp_path)
    denied = restricted_credentials(bucket)
    tb.create_secret(kubectl, namespace, S3_SECRET, denied)

    delete(kubectl, namespace)
    for attempt in (1, 2, 3):  # past maxAttempts (2): still retried
        result = run_prune(
            kubectl, namespace, f"nightly-{attempt}-prune", secret | denied, tmp_path, tmp_path
        )
        assert (result["ok"], result["reason"]) == (False, "PermissionDenied")
        assert "AccessDenied" in result["message"]

        def marked(attempt: int = attempt) -> dict[str, Any] | None:
            found: dict[str, Any] = tb.status(kubectl, namespace, "nightly").get("deletion", {})
            history = found.get("attemptHistory", [])
            return found if len(history) == attempt else None

        deletion = wait_for(marked, 30, f"prune attempt {attempt} was never recorded")
        assert deletion["reason"] == "ArtifactDeletionFailed"
        assert f"cannot delete {url}: PermissionDenied" in deletion["message"]
        assert finalizers(kubectl, namespace) == [naming.FINALIZER_ARTIFACT]
    assert "retrying every 2s until it succeeds" in deletion["message"]
    warning = events(kubectl, namespace)["ArtifactDeletionFailed"]
    assert warning[0] == "Warning"
    assert "AccessDenied" in warning[1]
    key = url.removeprefix(f"s3://{bucket.name}/")
    assert bucket.keys() == [key, f"{key}.sha256"]

    tb.create_secret(kubectl, namespace, S3_SECRET, allowed)  # the cause fixed
    result = run_prune(kubectl, namespace, "nightly-4-prune", secret | allowed, tmp_path, tmp_path)
    assert result["outcome"] == "Deleted"
    gone(kubectl, namespace)
    assert bucket.keys() == []
    for text in (operator.logs(), json.dumps(tb.items(kubectl, namespace, "events"))):
        assert denied["secretAccessKey"] not in text
        assert denied["sessionToken"] not in text


@pytest.mark.parametrize("old", [False, True], ids=["recent", "older-than-48h"])
def test_delete_policy_on_telegram_deletes_or_forgets_the_messages(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    bot_api: BotApiStandIn,
    tmp_path: Path,
    old: bool,
) -> None:
    secrets = secret | {"botToken": bot_api.token}
    tb.create_secret(kubectl, namespace, BOT_SECRET, {"botToken": bot_api.token})
    start_operator()
    destination = telegram(bot_api, partSizeBytes=1 << 20)
    apply(tb.manifest(destination=destination, deletionPolicy="Delete"))
    url = succeed(kubectl, namespace, secrets, tmp_path, tmp_path)
    *parts, manifest = bot_api.live()
    assert url.endswith(f"/{manifest.message_id}")
    assert parts
    if old:
        bot_api.age(parts[0].message_id, hours=49)

    delete(kubectl, namespace)
    result = run_prune(kubectl, namespace, "nightly-1-prune", secrets, tmp_path, tmp_path)
    gone(kubectl, namespace)
    if not old:
        assert result["outcome"] == "Deleted"
        assert bot_api.live() == []
        assert events(kubectl, namespace)["ArtifactDeleted"][0] == "Normal"
        return
    assert (result["outcome"], result["leftTotal"]) == ("Forgotten", 1)
    assert [message.message_id for message in bot_api.live()] == [parts[0].message_id]
    kind, message = events(kubectl, namespace)["ArtifactForgotten"]
    assert kind == "Warning"
    assert f"message {parts[0].message_id} (part 1)" in message
    assert "can't be deleted" in message
    assert bot_api.token not in message
