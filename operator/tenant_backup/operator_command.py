"""`tenant-backup operator`: run the Kopf operator (what the Deployment's container runs)."""

import argparse

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"
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
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics at http://0.0.0.0:PORT/metrics (default 0: off)",
    )


def run(args: argparse.Namespace) -> int:
    """Register the handlers and run until signalled; exit status 0."""
    import kopf

    import tenant_backup.backup.handlers
    import tenant_backup.restore.handlers
    import tenant_backup.schedule.handlers  # noqa: F401

    if args.metrics_port:
        from tenant_backup.backup import metrics_handlers
        from tenant_backup.schedule import metrics_handlers as _  # noqa: F401

        metrics_handlers.serve(args.metrics_port)

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()])
    kopf.run(
        standalone=True,
        clusterwide=args.all_namespaces,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness or None,
    )
    return 0
