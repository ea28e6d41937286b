"""What a standby replica serves while it waits for the Lease: the health endpoint Kopf
serves once it runs, so the kubelet neither restarts a healthy standby nor marks it
unready."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@contextmanager
def health_endpoint(url: str | None, holder: Callable[[], str]) -> Iterator[None]:
    """Answer GET `url`'s path with 200 and who leads, until the block ends (then the port
    is free for Kopf's own endpoint). None: serve nothing."""
    if not url:
        yield
        return
    parts = urlsplit(url)
    path = parts.path or "/"

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path.split("?", 1)[0] == path
            body = json.dumps({"role": "standby", "leader": holder()}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes: no access log
            return

    server = ThreadingHTTPServer((parts.hostname or "0.0.0.0", parts.port or 80), Health)  # noqa: S104
    thread = threading.Thread(target=server.serve_forever, name="standby-health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
