"""`tenant-backup`: the command the operator's Jobs run; one subcommand per job kind."""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from tenant_backup import history_command, link_command, operator_command
from tenant_backup.runner import main as dump_runner
from tenant_backup.runner import options as dump_options

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="tenant-backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dump = commands.add_parser(
        "dump",
        help="dump one tenant schema to a verified file",
        description="Dump schema tenant_<slug> with pg_dump into a verified file. The connection "
        "comes only from libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ...). "
        "Prints one JSON result line on stdout; logs go to stderr.",
    )
    dump_options.add_arguments(dump)
    dump.set_defaults(handler=dump_runner.run, log_to_stderr=True)
    run_operator = commands.add_parser(
        "operator",
        help="run the operator",
        description="Reconcile TenantBackups: one Job per attempt, status from their results.",
    )
    operator_command.add_arguments(run_operator)
    run_operator.set_defaults(handler=operator_command.run, log_to_stderr=False)
    history = commands.add_parser(
        "history",
        help="list a tenant's recent backups",
        description=history_command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    history_command.add_arguments(history)
    history.set_defaults(handler=history_command.run, log_to_stderr=False)
    link = commands.add_parser(
        "link",
        help="print a fresh download link of a Succeeded S3 backup",
        description=link_command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    link_command.add_arguments(link)
    link.set_defaults(handler=link_command.run, log_to_stderr=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; its exit status."""
    args = build_parser().parse_args(argv)
    if args.log_to_stderr:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
        )
    handler: Handler = args.handler
    return handler(args)
