"""Local Mosquitto and InfluxDB processes with configs Pantau generates.

Used by ``pantau services up|down|status`` (detached processes, pid files under
``$PANTAU_HOME``) and by the test fixtures (own ports and directories per session).
Everything listens on loopback only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pantau.errors import ServiceUnavailable
from pantau.privileges import service_user

INSTALL_HINT = {
    "mosquitto": "install it with: sudo apt-get install -y mosquitto mosquitto-clients",
    "influxd": "install it with: sudo apt-get install -y influxdb   (Debian's InfluxDB 1.6)",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise ServiceUnavailable(f"'{name}' is not installed; {INSTALL_HINT.get(name, '')}")


def memory_bytes() -> int:
    """The machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class ManagedProcess:
    """A service process with a directory, a pid file and a log file."""

    name: str
    directory: Path
    port: int
    command: list[str]

    def environment(self) -> dict[str, str]:
        """The process's environment: Pantau's own by default."""
        return dict(os.environ)

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 30.0) -> None:
        if self.running():
            return
        if port_open(self.port):
            raise ServiceUnavailable(
                f"{self.name}: port {self.port} on 127.0.0.1 is already in use; "
                f"stop what uses it or choose another port"
            )
        process = self.start_process()
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while not self.ready():
            if process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-1500:]
                raise ServiceUnavailable(f"{self.name} exited at start; its log says:\n{tail}")
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"{self.name} did not answer on port {self.port}")
            time.sleep(0.05)

    def start_process(self) -> subprocess.Popen[bytes]:
        """Start the service's process, its output going to the log file."""
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.environment(),
                **self.identity(),
            )

    def identity(self) -> dict[str, Any]:
        """``user``, ``group`` and ``extra_groups`` for Popen when the service runs as
        another user; none by default (it runs as Pantau's user)."""
        return {}

    def ready(self) -> bool:
        return port_open(self.port)

    def stop(self, timeout: float = 15.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """``kill -9``: no chance to clean up."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.02)
            self.pid_file.unlink(missing_ok=True)

    def signal(self, signum: int) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signum)

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished == pid:
                return False
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


class Mosquitto(ManagedProcess):
    """Mosquitto 2.x with persistence on and raised inflight/queue limits."""

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        self.password_file = password_file
        self.acl_file = acl_file
        self.run_as = service_user(directory)  # not root, where it can be avoided
        config = directory / "mosquitto.conf"
        command = [find_binary("mosquitto"), "-c", str(config)]
        super().__init__("mosquitto", directory, port, command)
        config.write_text(self.config_text())

    def config_text(self) -> str:
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        lines = [
            "# generated by pantau; edits are overwritten",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.password_file is not None:
            # Each client's id is its username: no device can take another's session
            # (least of all ingest's persistent one), whatever client id it sends.
            lines.append("use_username_as_clientid true")
        lines += [
            f"user {self.run_as}",
            "persistence true",
            f"persistence_location {data}/",
            "autosave_interval 60",
            "autosave_on_changes false",
            # Mosquitto's defaults (20 inflight, 1000 queued) silently drop messages
            # for a slow consumer; Pantau's ingestor acknowledges in group commits.
            "max_inflight_messages 1000",
            "max_queued_messages 1000000",
            "max_queued_bytes 0",
            "max_packet_size 1048576",
            "persistent_client_expiration 14d",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            "log_timestamp true",
        ]
        if self.password_file is not None:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
            if self.acl_file is not None:
                lines.append(f"acl_file {self.acl_file}")
        else:
            lines.append("allow_anonymous true")
        return "\n".join(lines) + "\n"

    def reload(self) -> None:
        """Re-read password and ACL files without dropping connections (SIGHUP)."""
        (self.directory / "mosquitto.conf").write_text(self.config_text())
        self.signal(signal.SIGHUP)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class InfluxDB(ManagedProcess):
    """InfluxDB 1.x with its own meta/data/wal directories, HTTP on loopback."""

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        rpc_port: int | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.rpc_port = rpc_port or free_port()
        self.credentials = credentials  # auth on; this admin user is created at first start
        config = directory / "influxdb.conf"
        command = [find_binary("influxd"), "-config", str(config)]
        super().__init__("influxdb", directory, port, command)
        config.write_text(self.config_text())

    def environment(self) -> dict[str, str]:
        """Go's collector tuned for a write-heavy server, unless the operator sets it.

        ``GOGC=400`` collects at five times the live heap instead of twice: InfluxDB
        spends 11–20 % less CPU per written point (docs/scale.md) for about twice the
        peak memory. ``GOMEMLIMIT`` (a quarter of the machine's memory) makes the
        collector work harder before the heap grows past it.
        """
        env = super().environment()
        env.setdefault("GOGC", "400")
        env.setdefault("GOMEMLIMIT", f"{memory_bytes() // 4 // 2**20}MiB")
        return env

    def config_text(self) -> str:
        d = self.directory
        return f"""# generated by pantau; edits are overwritten
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{d}/meta"
  logging-enabled = false

[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if self.credentials else "false"}
  log-enabled = false
  write-tracing = false
  max-row-limit = 0
  max-body-size = 0

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)
        if self.credentials:
            self.create_admin(*self.credentials)

    def create_admin(self, user: str, password: str) -> None:
        """Create the admin user if there is none yet (InfluxDB allows that one unauthenticated)."""
        auth = httpx.BasicAuth(user, password)
        probe = httpx.post(f"{self.url}/query", data={"q": "SHOW USERS"}, auth=auth, timeout=10)
        if probe.status_code == 200 and "error" not in probe.text:
            return
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        statement = f"CREATE USER \"{user}\" WITH PASSWORD '{quoted}' WITH ALL PRIVILEGES"
        created = httpx.post(f"{self.url}/query", data={"q": statement}, timeout=10)
        if created.status_code != 200 or "error" in created.text:
            raise ServiceUnavailable(
                f"InfluxDB at {self.url} runs with auth but refuses Pantau's user {user!r}; "
                "if you created other users, set PANTAU_INFLUX_USER and PANTAU_INFLUX_PASSWORD"
            )

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
