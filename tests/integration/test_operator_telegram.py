"""The operator with a Telegram destination on a real API server, the real runner and a local
stand-in for the cloud Bot API: the Job gets the bot token only from the Secret, status
reports the telegram:// artifact, and the token reaches no status, Event or log; admission
and the preflight refuse what cannot work."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from devenv.telegram_restore import reassemble
from devenv.telegram_stand_in import BotApiStandIn
from tests.support import backups as tb
from tests.support.factories import backup_body
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]
BOT_SECRET = "backup-bot"
CHAT = -1001234567890


def telegram(api: BotApiStandIn, **extra: Any) -> dict[str, Any]:
    return {
        "telegram": {"chatId": CHAT, "secretRef": {"name": BOT_SECRET}, "apiUrl": api.url} | extra
    }


def test_telegram_backup_succeeds_with_the_manifest_as_its_artifact(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    bot_api: BotApiStandIn,
    tmp_path: Path,
) -> None:
    tb.create_secret(kubectl, namespace, BOT_SECRET, {"botToken": bot_api.token})
    operator = start_operator()
    destination = telegram(bot_api, partSizeBytes=1 << 20)
    apply(tb.manifest(destination=destination, retry={"maxAttempts": 1}, verify="full"))
    pod = tb.running_pod(kubectl, namespace, "nightly-1")

    container = pod["spec"]["containers"][0]
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["TELEGRAM_BOT_TOKEN"] == {
        "name": "TELEGRAM_BOT_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": BOT_SECRET, "key": "botToken", "optional": False}},
    }
    assert f"--telegram-chat-id={CHAT}" in container["command"]
    assert f"--telegram-api-url={bot_api.url}" in container["command"]
    job = json.dumps(tb.get(kubectl, namespace, "job", "nightly-1"))
    assert bot_api.token not in job + json.dumps(pod)

    code, message = run_dump_container(
        pod, secret | {"botToken": bot_api.token}, tmp_path, tmp_path
    )
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "tb/nightly", "--timeout=60s")
    status = tb.status(kubectl, namespace, "nightly")
    artifact = status["artifact"]
    *_, manifest_message = bot_api.live()
    assert artifact["url"] == f"telegram://{CHAT}/{manifest_message.message_id}"
    assert manifest_message.document is not None
    listed, body = reassemble(bot_api.url, bot_api.token, artifact["url"])
    assert listed["fileName"].startswith("acme-")
    assert listed["fileName"].endswith(".pgdump.zst")
    assert artifact["sha256"] == listed["sha256"]
    assert artifact["sizeBytes"] == len(body)
    assert (artifact["format"], artifact["compression"]) == ("custom", "zstd")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Verified"] == ("True", "FullyVerified")
    events = json.dumps(tb.items(kubectl, namespace, "events"))
    assert "AttemptSucceeded" in events
    for text in (json.dumps(status), events, operator.logs(), message):
        assert bot_api.token not in text


@pytest.mark.parametrize("data", [None, {"token": "123:abc"}], ids=["absent", "without-botToken"])
def test_a_missing_bot_secret_fails_preflight_without_a_job(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    bot_api: BotApiStandIn,
    data: dict[str, str] | None,
) -> None:
    if data is not None:
        tb.create_secret(kubectl, namespace, BOT_SECRET, data)
    start_operator()
    apply(tb.manifest(destination=telegram(bot_api), retry={"maxAttempts": 1}))
    status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
    assert status["reason"] == "SecretMissing"
    assert BOT_SECRET in status["message"]
    if data is not None:
        assert "botToken" in status["message"]
    assert tb.items(kubectl, namespace, "jobs") == []
    assert bot_api.calls == []


def _rejected(apply: Apply, destination: dict[str, Any]) -> str:
    body = backup_body(destination=destination)
    body["metadata"] = {"name": "nightly"}
    result = apply(body, check=False)
    assert result.returncode != 0, f"accepted: {destination}"
    return str(result.stderr)


BAD_TELEGRAM: list[tuple[str, dict[str, Any], str]] = [
    ("chat-word", {"chatId": "backups"}, "spec.destination.telegram.chatId"),
    ("chat-huge", {"chatId": 1 << 53}, "spec.destination.telegram.chatId"),
    ("chat-bool", {"chatId": True}, "spec.destination.telegram.chatId"),
    ("url-query", {"apiUrl": "https://bots.example/?x=1"}, "spec.destination.telegram.apiUrl"),
    ("part-over", {"partSizeBytes": 2_000_000_001}, "spec.destination.telegram.partSizeBytes"),
    (
        "part-over-cloud",
        {"apiUrl": "https://api.telegram.org", "partSizeBytes": 50_000_001},
        "spec.destination.telegram.partSizeBytes",
    ),
    ("part-tiny", {"partSizeBytes": 4096}, "spec.destination.telegram.partSizeBytes"),
]


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in BAD_TELEGRAM], ids=[c[0] for c in BAD_TELEGRAM]
)
def test_bad_telegram_destinations_are_refused_naming_the_field(
    apply: Apply, bot_api: BotApiStandIn, change: dict[str, Any], field: str
) -> None:
    destination = telegram(bot_api)
    destination["telegram"] |= change
    assert field in _rejected(apply, destination)


def test_telegram_is_one_of_the_destinations(
    apply: Apply, kubectl: KubectlRunner, namespace: str, bot_api: BotApiStandIn
) -> None:
    both = telegram(bot_api) | {"pvc": {"claimName": "backups"}}
    assert "exactly one destination must be set: pvc, s3 or telegram" in _rejected(apply, both)
    assert "spec.destination.telegram.secretRef" in _rejected(apply, {"telegram": {"chatId": CHAT}})
    for name, chat_id in [("by-id", CHAT), ("by-text", str(CHAT)), ("by-name", "@tenant_backups")]:
        body = backup_body(
            destination={"telegram": {"chatId": chat_id, "secretRef": {"name": "b"}}}
        )
        body["metadata"] = {"name": name}
        apply(body)
        stored = tb.get(kubectl, namespace, "tb", name)["spec"]["destination"]["telegram"]
        assert stored["chatId"] == chat_id
        assert stored["apiUrl"] == "https://api.telegram.org"
        assert stored["partSizeBytes"] == 20_000_000
