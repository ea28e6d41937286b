"""`tenant-backup operator`: run the Kopf operator (what the Deployment's container runs)."""

import argparse
import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenant_backup.leadership import Leadership

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"
STEPPED_DOWN = 3
"""Exit status of a leader that found another replica holding the Lease."""
KOPF_OBJECTS = "kopf.objects"
"""Kopf's logger of per-object progress."""
LOG_FORMATS = ("plain", "full", "json")
"""kopf.LogFormat's members, lower-cased: spelled out so that building the CLI (which every
dump Job does) does not import kopf."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Scope, health endpoint and logging of the operator."""
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="serve this namespace (repeatable; glob patterns allowed)",
    )
    scope.add_argument("--all-namespaces", action="store_true", help="serve every namespace")
    parser.add_argument(
        "--liveness",
        default=DEFAULT_LIVENESS,
        help=f"health endpoint URL, or '' for none (default {DEFAULT_LIVENESS})",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="plain",
        help="log line format; json for log collectors",
    )
    volume = parser.add_mutually_exclusive_group()
    volume.add_argument("--verbose", action="store_true", help="debug logging")
    volume.add_argument("--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics at http://0.0.0.0:PORT/metrics (default 0: off)",
    )


def run(args: argparse.Namespace) -> int:
    """Register the handlers, wait to lead (unless leader election is off), run until
    signalled and hand the Lease over; exit status 0 (STEPPED_DOWN once another replica
    took the Lease)."""
    import kopf

    import tenant_backup.backup.handlers
    import tenant_backup.restore.handlers
    import tenant_backup.schedule.handlers  # noqa: F401
    from tenant_backup import runtime

    runtime.serve(args.namespace)

    if args.metrics_port:
        from tenant_backup.backup import metrics_handlers
        from tenant_backup.schedule import metrics_handlers as _  # noqa: F401

        metrics_handlers.serve(args.metrics_port)

    kopf.configure(
        verbose=args.verbose,
        quiet=args.quiet,
        log_format=kopf.LogFormat[args.log_format.upper()],
    )
    if not args.verbose:
        # Kopf's per-object progress ("Handler 'arrive' succeeded.") is a line per handler
        # per watch event, about twenty per backup: debugging detail. Its warnings and
        # errors stay.
        logging.getLogger(KOPF_OBJECTS).setLevel(logging.WARNING)
    leadership = _lead(args.liveness or None)
    try:
        kopf.run(
            standalone=True,
            clusterwide=args.all_namespaces,
            namespaces=args.namespace,
            liveness_endpoint=args.liveness or None,
        )
    finally:
        if leadership is not None:
            leadership.release()
    return 0


def _lead(liveness: str | None) -> "Leadership | None":
    """Block until this replica holds the leader Lease (serving the health endpoint
    meanwhile), then keep it and fence our writes on it; None without leader election."""
    from tenant_backup import runtime, standby
    from tenant_backup.adapters.lease import LeaseStore
    from tenant_backup.core.election import InvalidTimingError, Timing
    from tenant_backup.leadership import Leadership

    settings = runtime.SETTINGS
    if not settings.leader_election:
        return None
    if not settings.lease_namespace:
        raise SystemExit(
            "leader election needs TENANT_BACKUP_LEASE_NAMESPACE (the operator's namespace), "
            "or TENANT_BACKUP_LEADER_ELECTION=false for a single replica"
        )
    try:
        timing = Timing(
            settings.lease_duration_seconds,
            settings.renew_deadline_seconds,
            settings.retry_period_seconds,
        )
    except InvalidTimingError as error:
        raise SystemExit(f"leader election: {error}") from None
    store = LeaseStore.connect(settings.lease_namespace, settings.lease_name, timing.retry_period)
    identity = os.environ.get("POD_ID") or f"{socket.gethostname()}-{os.getpid()}"
    leadership = Leadership(store, identity, timing)
    with standby.health_endpoint(liveness, lambda: leadership.holder):
        leadership.acquire()
    runtime.fence(leadership.is_leader)
    leadership.keep(_step_down)
    return leadership


def _step_down(holder: str) -> None:
    """Another replica holds the Lease: exit at once, so that nothing more is done here and
    the pod restarts as a standby."""
    logging.getLogger(__name__).critical(
        "leader election: %s holds the Lease now; exiting (%d) to restart as a standby",
        holder,
        STEPPED_DOWN,
    )
    logging.shutdown()
    os._exit(STEPPED_DOWN)
