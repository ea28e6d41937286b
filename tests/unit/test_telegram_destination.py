"""The Telegram destination's pure parts and its upload against a fake Bot API: splitting into
parts, captions, the manifest, abort, reply handling, rate limits, redaction of the token, the
runner's options, the Job's plan and the preflight."""

import argparse
import json
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from devenv.telegram_wire import parse_multipart
from tenant_backup.api.destinations import TelegramDestination
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.destination import destination_secret_problem
from tenant_backup.backup.job import build_job
from tenant_backup.cli import build_parser
from tenant_backup.runner.destinations.base import ArtifactFacts, Digest
from tenant_backup.runner.destinations.bot_api import (
    BotApi,
    Document,
    Fields,
    RateLimitedError,
    form_value,
    multipart,
    parse_reply,
)
from tenant_backup.runner.destinations.bot_api_limits import ChatLimits, Pacer, WaitBudget
from tenant_backup.runner.destinations.telegram import (
    TelegramUpload,
    caption,
    manifest,
    token_from_env,
)
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import TelegramTarget, from_args
from tenant_backup.settings import Settings
from tests.support.factories import backup

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM = {"chatId": -1001234567890, "secretRef": {"name": "bot"}}
FACTS = ArtifactFacts("acme", "custom", "zstd", "15.8", "15.8")
FILE = "acme.pgdump.zst"


class FakeApi(BotApi):
    """Answers every call like the cloud Bot API, recording it."""

    def __init__(self, fail: set[str] | None = None) -> None:
        super().__init__("http://127.0.0.1:1", TOKEN)
        self.calls: list[tuple[str, dict[str, Any], Document | None]] = []
        self._fail = fail or set()

    def call(self, method: str, fields: Fields, document: Document | None = None) -> Any:
        data = None if document is None else Document(document.file_name, bytes(document.data))
        self.calls.append((method, dict(fields), data))
        if method in self._fail:
            raise RunError(Reason.UPLOAD_FAILED, f"{method} failed")
        number = len(self.calls)
        return {"message_id": number, "chat": {"id": -100}, "document": {"file_id": f"f{number}"}}

    def sent(self, method: str) -> list[tuple[dict[str, Any], Document | None]]:
        return [(fields, document) for name, fields, document in self.calls if name == method]


def _upload(api: FakeApi, part_size: int = 10) -> TelegramUpload:
    target = TelegramTarget("-100", FILE, "http://127.0.0.1:1", part_size)
    return TelegramUpload(api, target, "telegram://-100", FACTS)


def _write(upload: TelegramUpload, data: bytes, piece: int) -> None:
    for start in range(0, len(data), piece):
        upload.write(data[start : start + piece])


@pytest.mark.parametrize("piece", [1, 7, 10, 100])
def test_the_stream_is_split_into_parts_each_at_most_the_part_size(piece: int) -> None:
    api = FakeApi()
    upload = _upload(api)
    data = bytes(range(25))
    _write(upload, data, piece)
    upload.finish()
    documents = [document for _, document in api.sent("sendDocument") if document]
    assert [d.file_name for d in documents] == [
        f"{FILE}.part0001",
        f"{FILE}.part0002",
        f"{FILE}.part0003",
    ]
    assert b"".join(d.data for d in documents) == data
    assert [len(d.data) for d in documents] == [10, 10, 5]
    captions = [fields["caption"] for fields, _ in api.sent("sendDocument")]
    assert captions[0].startswith(f"{FILE} part 1, 10 bytes, sha256 ")
    assert captions[2].startswith(f"{FILE} part 3, 5 bytes, sha256 ")


def test_commit_sends_only_the_manifest_and_every_document_goes_quietly() -> None:
    api = FakeApi()
    upload = _upload(api)
    _write(upload, b"x" * 20, 20)  # exactly two parts: the second is known last at finish
    upload.finish()
    assert len(api.sent("sendDocument")) == 2
    upload.commit(Digest("ab" * 32, 20))
    assert [name for name, _, _ in api.calls] == ["sendDocument"] * 3  # no caption edits
    for sent, _ in api.sent("sendDocument"):
        assert sent["disable_notification"] is True
        assert sent["disable_content_type_detection"] is True
    fields, document = api.sent("sendDocument")[-1]
    assert document is not None
    assert document.file_name == f"{FILE}.manifest.json"
    listed = json.loads(document.data)
    assert (listed["sha256"], listed["sizeBytes"]) == ("ab" * 32, 20)
    assert [p["messageId"] for p in listed["parts"]] == [1, 2]
    assert [p["fileId"] for p in listed["parts"]] == ["f1", "f2"]
    assert fields["caption"] == f"{FILE}: manifest of 2 parts, 20 bytes, sha256 {'ab' * 32}"
    assert upload.url == "telegram://-100/3"
    upload.abort()  # a no-op once committed
    assert not api.sent("deleteMessages")


def test_abort_deletes_the_parts_sent_100_a_call_and_never_raises() -> None:
    api = FakeApi(fail={"deleteMessages"})
    upload = _upload(api, part_size=1)
    _write(upload, b"y" * 251, 251)  # 250 parts sent, the last one still buffered
    upload.abort()
    batches = [fields["message_ids"] for fields, _ in api.sent("deleteMessages")]
    assert batches == [list(range(1, 101)), list(range(101, 201)), list(range(201, 251))]
    assert not [d for _, d in api.sent("sendDocument") if d and d.file_name.endswith(".json")]
    upload.abort()
    assert len(api.sent("deleteMessages")) == 3


def test_manifest_and_caption() -> None:
    assert caption(FILE, 2, 10, "c" * 64) == f"{FILE} part 2, 10 bytes, sha256 {'c' * 64}"
    body = json.loads(manifest(FILE, FACTS, Digest("d" * 64, 3), []))
    assert body["kind"] == "tenant-backup-telegram-manifest/v1"
    assert (body["serverVersion"], body["compression"], body["parts"]) == ("15.8", "zstd", [])


@pytest.mark.parametrize(
    ("status", "body", "reason", "message"),
    [
        (401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}', Reason.AUTH_FAILED,
         "Bot API sendDocument: HTTP 401: Unauthorized"),
        (404, b'{"ok":false,"error_code":404,"description":"Not Found"}', Reason.AUTH_FAILED,
         "Bot API sendDocument: HTTP 404: Not Found"),
        (413, b"<html>Request Entity Too Large</html>", Reason.VALIDATION_FAILED,
         "Bot API sendDocument: HTTP 413: Request Entity Too Large: lower partSizeBytes"),
        (400, b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}',
         Reason.PERMISSION_DENIED, "Bot API sendDocument: HTTP 400: Bad Request: chat not found"),
        (400, b'{"ok":false,"description":"Bad Request: not enough rights to send documents"}',
         Reason.PERMISSION_DENIED,
         "Bot API sendDocument: HTTP 400: Bad Request: not enough rights to send documents"),
        (403, b'{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked"}',
         Reason.PERMISSION_DENIED, "Bot API sendDocument: HTTP 403: Forbidden: bot was kicked"),
        (502, b"Bad Gateway", Reason.DESTINATION_UNAVAILABLE,
         "Bot API sendDocument: HTTP 502: Bad Gateway"),
        (400, b'{"ok":false,"error_code":400,"description":"Bad Request: file is empty"}',
         Reason.UPLOAD_FAILED, "Bot API sendDocument: HTTP 400: Bad Request: file is empty"),
        (413, b'{"ok":false,"error_code":413,"description":"Request Entity Too Large"}',
         Reason.VALIDATION_FAILED,
         "Bot API sendDocument: HTTP 413: Request Entity Too Large: lower partSizeBytes"),
        (400, b'{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded'
              b' to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}',
         Reason.VALIDATION_FAILED, "Bot API sendDocument: the group was upgraded to a "
         "supergroup: set chatId to -1001234567890"),
    ],
)  # fmt: skip
def test_failed_replies(status: int, body: bytes, reason: Reason, message: str) -> None:
    with pytest.raises(RunError) as caught:
        parse_reply("sendDocument", status, body)
    assert (caught.value.reason, caught.value.message) == (reason, message)


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (400, "Bad Request: need administrator rights in the channel chat"),
        (400, "Bad Request: have no write access to the chat"),
        (400, "Bad Request: have no rights to send a message"),
        (400, "Bad Request: not enough rights to send documents to the chat"),
        (400, "Bad Request: CHAT_WRITE_FORBIDDEN"),
        (400, "Bad Request: CHAT_RESTRICTED"),
        (403, "Forbidden: bot was blocked by the user"),
        (403, "Forbidden: bot is not a member of the channel chat"),
    ],
)
def test_refusals_to_post_are_permission_denied(status: int, description: str) -> None:
    body = json.dumps({"ok": False, "error_code": status, "description": description}).encode()
    with pytest.raises(RunError) as caught:
        parse_reply("sendDocument", status, body)
    assert caught.value.reason is Reason.PERMISSION_DENIED
    assert caught.value.message == f"Bot API sendDocument: HTTP {status}: {description}"


def test_replies_ok_and_rate_limited() -> None:
    assert parse_reply("getMe", 200, b'{"ok":true,"result":{"id":1}}') == {"id": 1}
    limited = b'{"ok":false,"error_code":429,"parameters":{"retry_after":7}}'
    with pytest.raises(RateLimitedError) as caught:
        parse_reply("sendDocument", 429, limited)
    assert caught.value.retry_after == 7


class ScriptedApi(BotApi):
    """A BotApi whose HTTP replies are scripted, and whose sleeps are recorded."""

    def __init__(self, replies: list[tuple[int, bytes]], budget: int = 900) -> None:
        self.slept: list[float] = []
        super().__init__("http://127.0.0.1:1", TOKEN, self.slept.append, WaitBudget(budget))
        self._replies = replies

    def _post(self, method: str, fields: Fields, document: Document | None) -> tuple[int, bytes]:
        return self._replies.pop(0)


def _limited(seconds: int) -> tuple[int, bytes]:
    return 429, json.dumps({"ok": False, "parameters": {"retry_after": seconds}}).encode()


def test_rate_limits_are_slept_off_within_one_budget_for_all_calls() -> None:
    ok = (200, b'{"ok":true,"result":true}')
    api = ScriptedApi([_limited(3), _limited(1), ok, _limited(250), ok, _limited(7)], budget=260)
    assert api.call("deleteMessages", {}) is True
    assert api.call("deleteMessages", {}) is True  # one wait over 200 s is no reason to stop
    assert api.slept == [3, 1, 250]
    with pytest.raises(RunError) as caught:
        api.call("deleteMessages", {})  # 7 s more would exceed the run's 260 s
    assert caught.value.reason is Reason.DESTINATION_UNAVAILABLE
    assert caught.value.message == (
        "Bot API deleteMessages: still rate limited (retry after 7 s), more than is left: "
        "254 of the run's 260 s for rate-limit waits spent"
    )
    assert api.slept == [3, 1, 250]
    assert api.budget.spent == 254


def test_sends_are_paced_by_the_chat_limits_and_other_calls_are_not() -> None:
    ok = (200, b'{"ok":true,"result":true}')
    api = ScriptedApi([ok] * 4)
    api.pace(ChatLimits(interval=1.0, burst=20, window=60.0))
    clock = [100.0]
    api.pacer = Pacer(api.pacer.limits, lambda: clock[0])
    api.call("sendDocument", {})
    clock[0] += 0.25
    api.call("getChat", {})
    api.call("sendDocument", {})
    api.call("deleteMessages", {})
    assert api.slept == [0.75]
    assert api.paced_seconds == 0.75


def test_the_token_is_redacted_from_every_error() -> None:
    echoed = json.dumps({"ok": False, "description": f"bad url /bot{TOKEN}/x"}).encode()
    with pytest.raises(RunError) as caught:
        ScriptedApi([(400, echoed)]).call("getMe", {})
    assert TOKEN not in caught.value.message
    assert "/bot***/x" in caught.value.message


def test_urllib_errors_naming_the_url_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: urllib.request.Request, timeout: float) -> None:
        raise ValueError(f"cannot open {request.full_url}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(RunError) as caught:
        BotApi("http://127.0.0.1:1", TOKEN).call("getMe", {})
    assert caught.value.reason is Reason.DESTINATION_UNAVAILABLE
    assert TOKEN not in caught.value.message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # no traceback shows the URL


def test_form_values_are_what_the_server_reads() -> None:
    assert [form_value(v) for v in ("-100", 7, True, False, [1, 2])] == [
        "-100", "7", "true", "false", "[1, 2]",
    ]  # fmt: skip


def test_multipart_body_carries_the_fields_and_the_document() -> None:
    data = b"\r\n--\x00binary\r\n\r\n" * 100
    content_type, pieces = multipart({"chat_id": "-100", "caption": "c"}, Document("a.b", data))
    assert pieces[1] is data  # the part is sent as it is, not copied
    fields, files = parse_multipart(b"".join(pieces), content_type)
    assert fields == {"chat_id": "-100", "caption": "c"}
    assert (files["document"].file_name, files["document"].data) == ("a.b", data)


def test_the_token_may_end_in_a_newline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN + "\n")
    assert token_from_env() == TOKEN


@pytest.mark.parametrize("value", ["", "12 3", "a/b", "x" * 201])
def test_a_token_that_cannot_be_one_is_auth_failed(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", value)
    with pytest.raises(RunError) as caught:
        token_from_env()
    assert caught.value.reason is Reason.AUTH_FAILED
    assert caught.value.message == "TELEGRAM_BOT_TOKEN must hold a bot token"


# --- options, API, Job, preflight ---------------------------------------------------------


def _parse(*args: str) -> argparse.Namespace:
    return build_parser().parse_args(["dump", "--tenant", "acme", *args])


def test_runner_options() -> None:
    opts = from_args(_parse("--telegram-chat-id=-100123", "--telegram-file-name=a.pgdump"))
    assert opts.target == TelegramTarget(
        "-100123", "a.pgdump", "https://api.telegram.org", 20 * 10**6
    )
    assert opts.artifact_url == "telegram://-100123"
    local = from_args(
        _parse("--telegram-chat-id=@backups", "--telegram-file-name=a.sql",
               "--telegram-api-url=http://127.0.0.1:8081/", "--telegram-part-size=1048576")
    )  # fmt: skip
    assert local.target == TelegramTarget("@backups", "a.sql", "http://127.0.0.1:8081", 1 << 20)
    big = from_args(
        _parse("--telegram-chat-id=-100", "--telegram-file-name=a",
               "--telegram-part-size=2000000000", "--telegram-api-url=http://bot-api:8081",
               "--telegram-max-rate-limit-wait-seconds=0")
    )  # fmt: skip
    assert big.target == TelegramTarget("-100", "a", "http://bot-api:8081", 2 * 10**9, 0)


@pytest.mark.parametrize(
    "args",
    [
        ["--telegram-chat-id=-100"],
        ["--telegram-chat-id=-100", "--telegram-file-name=../x"],
        ["--telegram-chat-id=me", "--telegram-file-name=a"],
        ["--telegram-chat-id=-100", "--telegram-file-name=a", "--telegram-part-size=50000001"],
        [
            "--telegram-chat-id=-100",
            "--telegram-file-name=a",
            "--telegram-part-size=50000001",
            "--telegram-api-url=https://api.telegram.org/",
        ],
        [
            "--telegram-chat-id=-100",
            "--telegram-file-name=a",
            "--telegram-part-size=2000000001",
            "--telegram-api-url=http://127.0.0.1:8081",
        ],
        [
            "--telegram-chat-id=-100",
            "--telegram-file-name=a",
            "--telegram-max-rate-limit-wait-seconds=-1",
        ],
        ["--telegram-chat-id=-100", "--telegram-file-name=a", "--telegram-part-size=1000"],
        ["--telegram-chat-id=-100", "--telegram-file-name=a", "--telegram-api-url=ftp://h"],
        ["--telegram-chat-id=-100", "--telegram-file-name=a", "--telegram-api-url=http://u:p@h"],
        ["--telegram-chat-id=-100", "--telegram-file-name=a", "--artifact-url=telegram://x/1"],
    ],
)
def test_bad_runner_options_are_validation_failed(args: list[str]) -> None:
    with pytest.raises(RunError) as caught:
        from_args(_parse(*args))
    assert caught.value.reason is Reason.VALIDATION_FAILED


@pytest.mark.parametrize("chat_id", [-1001234567890, 42, "-1001234567890", "@tenant_backups"])
def test_chat_ids_as_integers_or_strings(chat_id: int | str) -> None:
    assert TelegramDestination.model_validate(TELEGRAM | {"chatId": chat_id}).chat_id == chat_id


@pytest.mark.parametrize(
    "change",
    [
        {"chatId": "me"},
        {"chatId": "-100; rm"},
        {"chatId": 1 << 53},
        {"apiUrl": "https://user:pw@bots.example"},
        {"apiUrl": "file:///etc/passwd"},
        {"apiUrl": "https://bots.example/?token=x"},
        {"partSizeBytes": 50_000_001},
        {"partSizeBytes": 2_000_000_001, "apiUrl": "http://bot-api:8081"},
        {"maxRateLimitWaitSeconds": -1},
        {"botToken": "123:abc"},
    ],
)
def test_bad_telegram_destinations_are_refused(change: Mapping[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TelegramDestination.model_validate(TELEGRAM | dict(change))


def test_a_local_bot_api_server_takes_larger_parts() -> None:
    local = TELEGRAM | {"apiUrl": "http://bot-api:8081", "partSizeBytes": 2_000_000_000}
    assert TelegramDestination.model_validate(local).part_size_bytes == 2_000_000_000


def test_the_job_gets_the_token_only_from_the_secret() -> None:
    job = build_job(backup(destination={"telegram": TELEGRAM}), 1, Settings())
    container = job["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[3:8] == [
        "--telegram-chat-id=-1001234567890",
        "--telegram-file-name=acme-20261125T120000Z-0a1b2c3d.pgdump.zst",
        "--telegram-api-url=https://api.telegram.org",
        "--telegram-part-size=20000000",
        "--telegram-max-rate-limit-wait-seconds=900",
    ]
    assert not any(arg.startswith("--artifact-url") for arg in command)
    env = {e["name"]: e for e in container["env"]}
    assert env["TELEGRAM_BOT_TOKEN"] == {
        "name": "TELEGRAM_BOT_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "bot", "key": "botToken", "optional": False}},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # no claim


def test_preflight_names_a_missing_or_incomplete_bot_secret() -> None:
    tb = backup(destination={"telegram": TELEGRAM})
    assert destination_secret_problem(tb, lambda name: None) == (
        "Secret bot not found in namespace team-a"
    )
    assert destination_secret_problem(tb, lambda name: {"token": "x"}) == (
        "Secret bot lacks the keys: botToken"
    )
    assert destination_secret_problem(tb, lambda name: {"botToken": TOKEN}) is None
