"""`tenant-backup dump` to the Bot API stand-in, as the Telegram tests run it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devenv.telegram_stand_in import BotApiStandIn
from devenv.tenants import Database
from tests.support.dump_runs import Run, run_dump

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
CHAT = "-1001234567890"
FILE = "acme-20261125T120000Z-0a1b2c3d.pgdump.zst"


def telegram_argv(api_url: str, result_file: Path, *args: str) -> list[str]:
    """The runner's argv for a dump of tenant acme to chat CHAT as FILE."""
    return [
        str(TENANT_BACKUP), "dump", "--tenant", "acme",
        "--telegram-chat-id", CHAT, "--telegram-file-name", FILE,
        "--telegram-api-url", api_url, "--result-file", str(result_file), *args,
    ]  # fmt: skip


def dump_env(db: Database, token: str) -> dict[str, str]:
    """This process's environment with the database's libpq variables and the bot token only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "TELEGRAM_"))}
    return {**clean, **db.env(), "TELEGRAM_BOT_TOKEN": token}


def run_to_telegram(
    db: Database,
    api: BotApiStandIn,
    tmp_path: Path,
    *args: str,
    token: str | None = None,
    api_url: str | None = None,
) -> Run:
    """Dump tenant acme to chat CHAT as FILE through `api`; its run, secrets checked."""
    result_file = tmp_path / "result.json"
    env = dump_env(db, token or api.token)
    secrets = [env["PGPASSWORD"], env["TELEGRAM_BOT_TOKEN"], api.token]
    return run_dump(
        telegram_argv(api_url or api.url, result_file, *args), env, result_file, secrets
    )
