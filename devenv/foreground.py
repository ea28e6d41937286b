"""A local server run by hand: print the runner's settings for it, keep it up until Ctrl-C
(or SIGTERM), then stop it."""

from __future__ import annotations

import shlex
import signal
import sys
from collections.abc import Callable, Mapping


def serve(stop: Callable[[], object], env: Mapping[str, str], dump_args: str) -> int:
    """Print `env` as an export line and a `tenant-backup dump` with `dump_args`, wait for
    Ctrl-C or SIGTERM, then `stop()` the server; exit status 0."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        print(f"export {exports}\n.venv/bin/tenant-backup dump {dump_args}", flush=True)
        print("Ctrl-C stops it.", file=sys.stderr, flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()
