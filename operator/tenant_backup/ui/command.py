"""`tenant-backup ui`: serve the backup UI, acting as each signed-in user.

The UI holds no rights of its own on backups, schedules, restores or Secrets: every call is
made with the user's bearer token, pasted at sign-in (`--auth token`, kept server-side) or
sent by an authenticating proxy in front with each request (`--auth proxy`).
"""

import argparse
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from tenant_backup.ui.context import AuthMode, UiConfig
from tenant_backup.ui.history import DSN_VARIABLE, HistoryConfig
from tenant_backup.ui.kubeapi import api_server
from tenant_backup.ui.web import make_app


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Where to listen, the API server, and how users sign in."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument(
        "--api-server", help="API server URL (default: the in-cluster service address)"
    )
    parser.add_argument(
        "--certificate-authority",
        type=Path,
        help="CA bundle verifying the API server (default in a pod: the mounted one)",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="a namespace to look in for users who may not list namespaces (repeatable)",
    )
    parser.add_argument(
        "--auth",
        choices=[mode.value for mode in AuthMode],
        default=AuthMode.TOKEN_LOGIN.value,
        help="token: users paste a bearer token; proxy: an authenticating proxy sends "
        "`Authorization: Bearer` with each request",
    )
    parser.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark cookies Secure and send HSTS (users reach the UI over TLS)",
    )
    parser.add_argument(
        "--session-max-age", type=int, default=8 * 3600, help="seconds a session lasts at most"
    )
    parser.add_argument(
        "--session-idle", type=int, default=3600, help="seconds of inactivity ending a session"
    )


def config_from(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> UiConfig:
    """The UI's configuration from the command line, and the history database from the
    environment (`TENANT_BACKUP_HISTORY_DSN`, `_SCHEMA`, `_TABLE`, as the operator's)."""
    namespaces = tuple(ns for value in args.namespace for ns in value.split(",") if ns)
    return UiConfig(
        server=api_server(args.api_server, args.certificate_authority),
        namespaces=namespaces,
        auth=AuthMode(args.auth),
        secure_cookies=args.secure_cookies,
        session_max_age=args.session_max_age,
        session_idle=args.session_idle,
        history=_history(environ),
    )


def _history(environ: Mapping[str, str]) -> HistoryConfig | None:
    dsn = environ.get(DSN_VARIABLE)
    if not dsn:
        return None
    return HistoryConfig(
        dsn,
        schema=environ.get("TENANT_BACKUP_HISTORY_SCHEMA", "tenant_backup_history"),
        table=environ.get("TENANT_BACKUP_HISTORY_TABLE", "backups"),
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    web.run_app(make_app(config_from(args)), host=args.host, port=args.port, access_log=None)
    return 0
