"""The UI's pure decisions: sessions, CSRF tokens, the creation limit, the pages' models and
the TenantBackup "Back up now" creates and the TenantRestore of the restore form."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import pytest

from tenant_backup.api.restore import TenantRestoreSpec
from tenant_backup.ui import actions, command, details, overview
from tenant_backup.ui.context import templates
from tenant_backup.ui.csrf import csrf_token, csrf_valid, token_key
from tenant_backup.ui.history import HistoryConfig
from tenant_backup.ui.pages import overview_context
from tenant_backup.ui.ratelimit import RateLimiter
from tenant_backup.ui.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backup(
    name: str,
    tenant: str,
    created: str,
    phase: str | None = None,
    namespace: str = "team-a",
    **status: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": {"tenant": tenant, "destination": {"pvc": {"claimName": "backups"}}},
        "status": {"phase": phase, **status} if phase else {},
    }


# --- sessions -----------------------------------------------------------------------------


def test_session_ids_are_random_and_hold_the_token_server_side() -> None:
    store = SessionStore(max_age=3600, idle=600, clock=Clock())
    first, second = store.create("tok-1", "alice"), store.create("tok-2", "bob")
    assert first != second
    assert len(first) >= 40
    assert "tok" not in first
    session = store.get(first)
    assert session is not None
    assert (session.token, session.username) == ("tok-1", "alice")


def test_session_expires_when_idle_and_at_its_max_age() -> None:
    clock = Clock()
    store = SessionStore(max_age=100, idle=30, clock=clock)
    session_id = store.create("tok", "alice")
    for _ in range(3):  # use keeps it alive while idle < 30 s ...
        clock.now += 25
        assert store.get(session_id) is not None
    clock.now += 30  # ... then 30 s of silence ends it
    assert store.get(session_id) is None
    other = store.create("tok", "alice")
    for _ in range(3):
        clock.now += 25
        assert store.get(other) is not None
    clock.now += 25  # 100 s after sign-in, however active
    assert store.get(other) is None
    assert len(store) == 0


def test_unknown_empty_and_dropped_sessions_are_none() -> None:
    store = SessionStore(max_age=100, idle=30, clock=Clock())
    session_id = store.create("tok", "alice")
    assert store.get(None) is None
    assert store.get("") is None
    assert store.get("made-up") is None
    store.drop(session_id)
    assert store.get(session_id) is None


def test_creating_a_session_forgets_expired_ones() -> None:
    clock = Clock()
    store = SessionStore(max_age=100, idle=30, clock=clock)
    for n in range(5):
        store.create(f"tok-{n}", "alice")
    clock.now += 31
    store.create("fresh", "bob")
    assert len(store) == 1


# --- CSRF ---------------------------------------------------------------------------------


def test_csrf_token_is_bound_to_its_session_and_secret() -> None:
    secret = b"s" * 32
    token = csrf_token(secret, "session-a")
    assert csrf_valid(secret, "session-a", token)
    assert not csrf_valid(secret, "session-b", token)
    assert not csrf_valid(b"t" * 32, "session-a", token)
    assert not csrf_valid(secret, "session-a", None)
    assert not csrf_valid(secret, "session-a", "")
    assert not csrf_valid(secret, "", csrf_token(secret, ""))
    assert not csrf_valid(secret, "session-a", token[:-1] + ("0" if token[-1] != "0" else "1"))


def test_token_key_does_not_reveal_the_token() -> None:
    key = token_key("eyJhbGciOi.secret-part")
    assert "secret-part" not in key
    assert key == token_key("eyJhbGciOi.secret-part")
    assert key != token_key("eyJhbGciOi.other")


# --- rate limit ---------------------------------------------------------------------------


def test_the_eleventh_creation_in_a_minute_is_refused_per_user() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 60.0, clock)
    assert all(limiter.allow("alice") for _ in range(10))
    assert not limiter.allow("alice")
    assert limiter.allow("bob")
    assert 0 < limiter.retry_after("alice") <= 61
    clock.now += 59.9
    assert not limiter.allow("alice")
    clock.now += 0.2  # the ten creations are a minute old
    assert all(limiter.allow("alice") for _ in range(10))
    assert not limiter.allow("alice")


def test_refusals_do_not_count_against_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60.0, clock)
    assert limiter.allow("alice")
    clock.now += 30
    assert limiter.allow("alice")
    for _ in range(5):
        assert not limiter.allow("alice")
    clock.now += 30.1
    assert limiter.allow("alice")
    assert limiter.retry_after("alice") > 0


# --- overview model -----------------------------------------------------------------------

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def test_overview_rows_per_namespace_and_tenant() -> None:
    backups = [
        backup(
            "acme-1",
            "acme",
            "2026-05-03T01:00:00Z",
            "Succeeded",
            completionTime="2026-05-03T13:05:00Z",
            artifact={"size": "12.0 MiB"},
        ),
        backup("acme-2", "acme", "2026-05-04T01:00:00Z", "Failed", reason="DumpFailed"),
        backup("acme-3", "acme", "2026-05-04T11:00:00Z", "Running"),
        backup("acme-4", "acme", "2026-05-04T11:30:00Z"),
        backup("globex-1", "globex", "2026-04-01T01:00:00Z", "Succeeded", namespace="team-b"),
        backup("acme-b", "acme", "2026-05-04T01:00:00Z", "Failed", namespace="team-b"),
    ]
    rows = overview.tenant_rows(backups, [], NOW)
    assert [(row.namespace, row.tenant) for row in rows] == [
        ("team-a", "acme"),
        ("team-b", "acme"),
        ("team-b", "globex"),
    ]
    acme = rows[0]
    assert acme.last_success == "2026-05-03T13:05:00Z"
    assert acme.last_success_age == "22h 55m"
    assert acme.freshness is overview.Freshness.FRESH  # no schedule: against 26 h
    assert acme.interval == "1d 2h"
    assert acme.last_size == "12.0 MiB"
    assert acme.running == 2  # Running, and the one the operator has not picked up
    assert acme.latest_phase == ""
    assert acme.backups == 4
    assert rows[1].failed
    assert rows[1].last_success_age == "never"
    assert rows[1].freshness is overview.Freshness.STALE
    assert rows[2].freshness is overview.Freshness.STALE  # a month old


def test_scheduled_tenants_without_backups_are_listed() -> None:
    schedule = {
        "metadata": {"name": "nightly", "namespace": "team-a"},
        "spec": {"tenants": ["acme", "initech"], "template": {}},
    }
    every = {
        "metadata": {"name": "all", "namespace": "team-c"},
        "spec": {"tenants": ["*"], "template": {}},
        "status": {"tenants": [{"tenant": "hooli"}, {"nonsense": 1}]},
    }
    rows = overview.tenant_rows([], [schedule, every], NOW)
    assert [(row.namespace, row.tenant, row.schedules) for row in rows] == [
        ("team-a", "acme", ("nightly",)),
        ("team-a", "initech", ("nightly",)),
        ("team-c", "hooli", ("all",)),
    ]
    assert all(row.last_success_age == "never" for row in rows)


def test_odd_objects_show_empty_fields_and_never_fail() -> None:
    odd: list[dict[str, Any]] = [
        {"metadata": "x", "spec": None, "status": []},
        {"metadata": {"name": 5}, "spec": {"tenant": 7}, "status": {"attempts": "many"}},
        {"metadata": {"name": "b", "namespace": "n"}, "spec": {"tenant": "t"}, "status": None},
    ]
    rows = overview.newest_first(odd)
    assert {row.attempts for row in rows} == {0}
    assert [row.tenant for row in overview.tenant_rows(odd, [], NOW)] == ["t"]


def test_newest_first() -> None:
    backups = [
        backup("b", "acme", "2026-05-02T00:00:00Z"),
        backup("c", "acme", "2026-05-03T00:00:00Z"),
        backup("a", "acme", "2026-05-02T00:00:00Z"),
    ]
    assert [row.name for row in overview.newest_first(backups)] == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (61, "1m 1s"), (3600, "1h"), (93784, "1d 2h"), (86400 * 40, "40d")],
)
def test_human_age(seconds: int, text: str) -> None:
    assert overview.human_age(seconds) == text


def test_rendered_overview_lists_every_tenant_of_500_with_5000_backups() -> None:
    """The page `make bench-ui` times: every tenant is a row, each linking to its page."""
    backups = [
        backup(
            f"t{n % 500}-{n}",
            f"t{n % 500}",
            f"2026-05-{1 + n % 4:02d}T00:00:{n % 60:02d}Z",
            "Succeeded" if n % 7 else "Failed",
            completionTime="2026-05-04T00:00:00Z",
            artifact={"size": "1 MiB", "sizeBytes": 1 << 20},
        )
        for n in range(5000)
    ]
    rows = overview.tenant_rows(backups, [], NOW)
    html = (
        templates().get_template("overview.html").render(**overview_context(None, rows, ["team-a"]))
    )
    assert len(rows) == 500
    assert html.count("<tr class=") == 500
    assert all(f'href="/t/team-a/t{n}"' in html for n in range(500))


def schedule(
    name: str, tenants: list[str], cron: str = "0 1 * * *", suspend: bool = False, **status: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"tenants": tenants, "schedule": cron, "suspend": suspend, "template": {}},
        "status": status,
    }


@pytest.mark.parametrize(
    ("cron", "seconds"),
    [
        ("@hourly", 3600),
        ("@daily", 86400),
        ("@weekly", 7 * 86400),
        ("* * * * *", 60),
        ("*/5 * * * *", 300),
        ("15 * * * *", 3600),
        ("0 */6 * * *", 6 * 3600),
        ("30 2 * * *", 86400),
        ("0 3 1 * *", 31 * 86400),
        ("0,30 * * * *", None),
        ("0 9-17 * * *", None),
        ("nonsense", None),
    ],
)
def test_cron_interval(cron: str, seconds: int | None) -> None:
    assert overview.cron_interval(cron) == seconds


def test_schedule_interval_prefers_its_status_over_its_cron() -> None:
    ran = schedule(
        "s",
        ["acme"],
        "0,30 * * * *",
        lastScheduleTime="2026-05-04T11:30:00Z",
        nextScheduleTime="2026-05-04T12:00:00Z",
    )
    assert overview.schedule_interval(ran) == 1800
    assert overview.schedule_interval(schedule("s", ["acme"], "*/10 * * * *")) == 600
    assert overview.schedule_interval(schedule("s", ["acme"], "0 9-17 * * *")) is None


@pytest.mark.parametrize(
    ("age", "interval", "expected"),
    [
        (None, 3600, overview.Freshness.STALE),
        (0, 3600, overview.Freshness.FRESH),
        (3599, 3600, overview.Freshness.FRESH),
        (3600, 3600, overview.Freshness.LATE),
        (7199, 3600, overview.Freshness.LATE),
        (7200, 3600, overview.Freshness.STALE),
    ],
)
def test_freshness_against_the_interval(
    age: int | None, interval: int, expected: overview.Freshness
) -> None:
    assert overview.freshness(age, interval) is expected


def test_age_is_judged_against_the_tenants_shortest_schedule_and_next_run_is_the_soonest() -> None:
    two_hours_ago = backup(
        "acme-1",
        "acme",
        "2026-05-04T10:00:00Z",
        "Succeeded",
        completionTime="2026-05-04T10:00:00Z",
    )
    hourly = schedule("hourly", ["acme"], "@hourly", nextScheduleTime="2026-05-04T13:00:00Z")
    daily = schedule("daily", ["acme"], "@daily", nextScheduleTime="2026-05-05T00:00:00Z")
    paused = schedule(
        "paused", ["acme"], "@daily", suspend=True, nextScheduleTime="2026-05-04T12:30:00Z"
    )
    (row,) = overview.tenant_rows([two_hours_ago], [hourly, daily, paused], NOW)
    assert row.freshness is overview.Freshness.STALE  # two hourly runs without a success
    assert row.interval == "1h"
    assert row.next_run == "2026-05-04T13:00:00Z"  # the suspended one does not run
    assert row.schedules == ("daily", "hourly", "paused")
    (daily_only,) = overview.tenant_rows([two_hours_ago], [daily], NOW)
    assert daily_only.freshness is overview.Freshness.FRESH


def test_trend_of_size_and_duration_oldest_first() -> None:
    backups = [
        backup(
            f"acme-{n}",
            "acme",
            f"2026-05-0{n}T00:00:00Z",
            "Succeeded",
            startTime=f"2026-05-0{n}T00:00:00Z",
            completionTime=f"2026-05-0{n}T00:00:{10 * n:02d}Z",
            artifact={"size": f"{n} MiB", "sizeBytes": n << 20},
        )
        for n in (1, 2, 3)
    ]
    backups.append(backup("acme-failed", "acme", "2026-05-04T00:00:00Z", "Failed"))
    (row,) = overview.tenant_rows(backups, [], NOW)
    w, h = overview.TREND_WIDTH, overview.TREND_HEIGHT
    points = [tuple(map(float, point.split(","))) for point in row.size_trend.split()]
    assert [x for x, _ in points] == [0.0, w / 2, float(w)]
    assert points[0][1] > points[1][1] > points[2][1] == 1.0  # growing: up is smaller y
    assert all(0 <= y <= h for _, y in points)
    assert row.duration_trend == row.size_trend  # both grow linearly here
    assert row.trend_note == "last 3 successes: size 1 MiB -> 3 MiB, duration 10s -> 30s"


def test_a_trend_needs_two_known_values() -> None:
    assert overview.trend_points([]) == ""
    assert overview.trend_points([5, None]) == ""
    assert overview.trend_points([None, 0, 0]) == "40.0,17.0 80.0,17.0"


# --- "Back up now" ------------------------------------------------------------------------


def test_backup_now_takes_the_schedules_template() -> None:
    schedule = {
        "metadata": {"name": "nightly"},
        "spec": {
            "tenants": ["acme"],
            "template": {"database": {"secretRef": {"name": "pg"}}, "destination": {"pvc": {}}},
        },
    }
    body = actions.backup_now("team-a", "acme_eu", schedule, latest=None)
    assert body["metadata"]["namespace"] == "team-a"
    assert body["metadata"]["generateName"] == "acme-eu-now-"
    assert "name" not in body["metadata"]
    assert body["spec"] == {
        "database": {"secretRef": {"name": "pg"}},
        "destination": {"pvc": {}},
        "tenant": "acme_eu",
    }
    assert body["metadata"]["annotations"][actions.REQUESTED_VIA_ANNOTATION].endswith(
        "schedule nightly"
    )


def test_backup_now_copies_the_latest_backup_without_its_size_check() -> None:
    latest = backup("acme-1", "acme", "2026-05-03T00:00:00Z", "Succeeded")
    latest["spec"]["sizeCheck"] = {"previousBackup": "x", "previousSizeBytes": 1}
    body = actions.backup_now("team-a", "acme", None, latest)
    assert body["spec"] == {"tenant": "acme", "destination": {"pvc": {"claimName": "backups"}}}


def test_backup_now_without_a_template_says_why() -> None:
    with pytest.raises(actions.NoTemplateError, match="no schedule names tenant acme"):
        actions.backup_now("team-a", "acme", None, None)


def test_schedule_for_prefers_one_naming_the_tenant() -> None:
    def schedule(name: str, tenants: list[str]) -> dict[str, Any]:
        return {"metadata": {"name": name}, "spec": {"tenants": tenants}}

    every, named = schedule("a-every", ["*"]), schedule("b-named", ["acme"])
    assert overview.schedule_for([every, named], "acme") is named
    assert overview.schedule_for([every, named], "globex") is every
    assert overview.schedule_for([named], "globex") is None


def test_name_prefix_is_a_dns_label() -> None:
    prefix = actions.name_prefix("a" * 60)
    assert len(prefix) + 5 <= 63
    assert prefix.endswith("-now-")
    restore = actions.name_prefix("a" * 60, "restore")
    assert len(restore) + 5 <= 63
    assert restore.endswith("-restore-")


# --- the restore form ---------------------------------------------------------------------


def source_backup() -> dict[str, Any]:
    body = backup("acme-1", "acme", "2026-05-03T00:00:00Z", "Succeeded")
    body["spec"]["database"] = {"secretRef": {"name": "pg"}, "sslMode": "require"}
    return body


def test_restore_verifies_the_chosen_backup_into_its_database() -> None:
    body = actions.restore("team-a", source_backup(), "Verify", "", confirm="acme")
    assert body["kind"] == "TenantRestore"
    assert body["metadata"]["namespace"] == "team-a"
    assert body["metadata"]["generateName"] == "acme-restore-"
    assert body["spec"] == {
        "source": {"backupRef": {"name": "acme-1"}},
        "target": {"database": {"secretRef": {"name": "pg"}, "sslMode": "require"}},
        "mode": "Verify",
    }  # no confirm outside Replace
    TenantRestoreSpec.model_validate(body["spec"])


def test_restore_replace_carries_the_confirmation_as_typed() -> None:
    body = actions.restore("team-a", source_backup(), "Replace", "acme_eu", confirm="acme")
    assert body["spec"]["target"]["tenant"] == "acme_eu"
    assert body["spec"]["confirm"] == "acme"  # wrong: the API server's CEL rule refuses it
    assert body["metadata"]["generateName"] == "acme-eu-restore-"


# --- schedules, restores, downloads -------------------------------------------------------


def s3_backup(phase: str = "Succeeded", **artifact: Any) -> dict[str, Any]:
    body = backup("nightly", "acme", "2026-05-04T00:00:00Z", phase)
    body["spec"]["destination"] = {
        "s3": {
            "bucket": "backups",
            "endpoint": "http://127.0.0.1:9000",
            "forcePathStyle": True,
            "credentialsSecretRef": {"name": "s3-creds"},
        }
    }
    body["status"]["artifact"] = {"url": "s3://backups/nightly/acme/x.dump", **artifact}
    return body


def test_an_s3_backup_is_downloaded_by_a_link_signed_with_its_secret() -> None:
    offer = details.download(s3_backup())
    assert offer.kind is details.DownloadKind.SIGN
    assert offer.secret == "s3-creds"
    assert offer.command == "tenant-backup link nightly -n team-a"
    assert details.s3_target(s3_backup()) == details.S3Target(
        "backups", "nightly/acme/x.dump", "us-east-1", "http://127.0.0.1:9000", True
    )


def test_a_link_in_the_status_is_offered_only_if_it_is_http() -> None:
    stored = details.download(s3_backup(downloadUrl="https://s3.example/x?sig=1"))
    assert stored.kind is details.DownloadKind.STORED
    assert stored.stored_url == "https://s3.example/x?sig=1"
    hostile = details.download(s3_backup(downloadUrl="javascript:alert(1)"))
    assert hostile.kind is details.DownloadKind.SIGN  # ignored: the UI signs its own


def test_no_link_for_unfinished_or_claim_backups_and_why() -> None:
    assert details.download(s3_backup("Running")).kind is details.DownloadKind.NONE
    claim = backup(
        "nightly", "acme", "2026-05-04T00:00:00Z", "Succeeded", artifact={"url": "pvc://c/x"}
    )
    offer = details.download(claim)
    assert offer.kind is details.DownloadKind.NONE
    assert "PersistentVolumeClaim" in offer.explanation
    assert details.s3_target(claim) is None


def test_restores_from_the_tenants_backups_or_into_it_newest_first() -> None:
    def restore(name: str, created: str, source: str, target: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "namespace": "team-a", "creationTimestamp": created},
            "spec": {
                "mode": "Verify",
                "source": {"backupRef": {"name": source}},
                "target": {"tenant": target},
            },
            "status": {"phase": "Succeeded"},
        }

    restores = [
        restore("r1", "2026-05-01T00:00:00Z", "acme-1", "acme"),
        restore("r2", "2026-05-02T00:00:00Z", "acme-1", "acme_copy"),
        restore("r3", "2026-05-03T00:00:00Z", "globex-1", "acme"),
        restore("r4", "2026-05-04T00:00:00Z", "globex-1", "globex"),
    ]
    rows = details.restores_of(restores, "acme", ["acme-1"])
    assert [row.name for row in rows] == ["r3", "r2", "r1"]
    assert rows[1].target == "acme_copy"


def test_a_suspended_schedule_has_no_next_run() -> None:
    row = details.schedule_row(
        schedule("s", ["acme"], "@daily", suspend=True, nextScheduleTime="2026-05-05T00:00:00Z")
    )
    assert row.suspended
    assert row.next_run == ""
    assert row.time_zone == "UTC"


# --- history configuration ----------------------------------------------------------------


def test_the_history_dsn_comes_from_the_environment_and_never_shows() -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--api-server", "https://127.0.0.1:6443"])
    dsn = "host=db user=ui password=hunter2 dbname=history"
    config = command.config_from(
        args, {"TENANT_BACKUP_HISTORY_DSN": dsn, "TENANT_BACKUP_HISTORY_TABLE": "runs"}
    )
    assert config.history == HistoryConfig(dsn, table="runs")
    assert "hunter2" not in repr(config)
    assert command.config_from(args, {}).history is None
    with pytest.raises(ValueError, match="SQL name"):
        HistoryConfig(dsn, schema='x"; DROP TABLE y; --')
