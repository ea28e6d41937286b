"""`tenant-backup`: the command the operator's Jobs run; one subcommand per job kind.

Every Job starts here, so only the chosen subcommand's modules are imported: its arguments
are declared when it is the one chosen, and its handler is imported to run it. A dump loads
neither the operator (kopf, the Kubernetes client, pydantic) nor the other commands.
"""

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """A subcommand: its help, and the modules behind it, named so they load on demand."""

    help: str
    arguments: str
    """The module whose `add_arguments(parser)` declares the arguments; its docstring is
    the description unless `description` is given."""
    handler: str
    """The module whose `run(args)` runs the subcommand."""
    log_to_stderr: bool
    description: str | None = None


COMMANDS = {
    "dump": Command(
        help="dump one tenant schema to a verified file",
        description="Dump schema tenant_<slug> with pg_dump into a verified file. The connection "
        "comes only from libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ...). "
        "Prints one JSON result line on stdout; logs go to stderr.",
        arguments="tenant_backup.runner.options",
        handler="tenant_backup.runner.main",
        log_to_stderr=True,
    ),
    "prune": Command(
        help="delete one stored artifact by its URL",
        description="Delete the artifact at --artifact-url (pvc://, s3://, telegram://, file://) "
        "with its sidecar or parts. Credentials only from the environment (AWS_*, "
        "TELEGRAM_BOT_TOKEN). Prints one JSON result line on stdout: Deleted, AlreadyGone or "
        "Forgotten (pieces the destination keeps, listed); logs go to stderr.",
        arguments="tenant_backup.runner.prune",
        handler="tenant_backup.runner.prune",
        log_to_stderr=True,
    ),
    "restore": Command(
        help="restore one tenant schema from a stored artifact",
        description="Restore the artifact at --artifact-url as schema tenant_<target>: "
        "create-new, replace (swapped in one transaction, the previous schema kept) or verify "
        "(into a scratch database). The connection comes only from libpq variables (PG*), "
        "the destination's credentials only from AWS_* and TELEGRAM_BOT_TOKEN. Prints one JSON "
        "result line on stdout; logs go to stderr.",
        arguments="tenant_backup.runner.restore_options",
        handler="tenant_backup.runner.restore",
        log_to_stderr=True,
    ),
    "operator": Command(
        help="run the operator",
        description="Reconcile TenantBackups: one Job per attempt, status from their results.",
        arguments="tenant_backup.operator_command",
        handler="tenant_backup.operator_command",
        log_to_stderr=False,
    ),
    "history": Command(
        help="list a tenant's recent backups",
        arguments="tenant_backup.history_command",
        handler="tenant_backup.history_command",
        log_to_stderr=False,
    ),
    "link": Command(
        help="print a fresh download link of a Succeeded S3 backup",
        arguments="tenant_backup.link_command",
        handler="tenant_backup.link_command",
        log_to_stderr=False,
    ),
    "ui": Command(
        help="serve the backup UI, acting as each signed-in user",
        arguments="tenant_backup.ui.command",
        handler="tenant_backup.ui.command",
        log_to_stderr=False,
    ),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every subcommand, and the arguments of `chosen` (of every
    subcommand when None)."""
    parser = argparse.ArgumentParser(prog="tenant-backup", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        if chosen is not None and name != chosen:
            commands.add_parser(name, help=command.help)
            continue
        module = importlib.import_module(command.arguments)
        subparser = commands.add_parser(
            name,
            help=command.help,
            description=command.description or module.__doc__,
            formatter_class=_formatter(command),
        )
        module.add_arguments(subparser)
    return parser


def _formatter(command: Command) -> type[argparse.HelpFormatter]:
    """Docstrings are laid out already; a `description` is a paragraph to fill."""
    return argparse.HelpFormatter if command.description else argparse.RawDescriptionHelpFormatter


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(chosen).parse_args(argv)
    command = COMMANDS[args.command]
    if command.log_to_stderr:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
        )
    handler: Handler = importlib.import_module(command.handler).run
    gc.freeze()  # what the imports made lives as long as the process: no collection walks it
    return handler(args)
