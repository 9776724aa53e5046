"""Real receivers for delivery tests: an HTTP webhook server and an SMTP server."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pantau.services import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # arrival, time.monotonic()


@dataclass
class WebhookReceiver:
    """Answers 500 to the first ``fail_first`` requests; sleeps ``delay_s`` on the first
    and ``hang_s`` on every one (a slow or hanging endpoint)."""

    fail_first: int = 0
    delay_s: float = 0.0
    hang_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(Received(dict(self.headers.items()), body))
                if len(receiver.requests) == 1 and receiver.delay_s:
                    time.sleep(receiver.delay_s)
                time.sleep(receiver.hang_s)
                ok = len(receiver.requests) > receiver.fail_first
                self.send_response(200 if ok else 500)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"try again")

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def deliveries(self) -> list[tuple[str, float]]:
        """(delivery id, arrival time) of each request, in arrival order."""
        return [(r.headers["X-Pantau-Delivery"], r.at) for r in self.requests]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
