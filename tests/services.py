"""Real servers for the distributed tests and benchmark: a redis-server, Celery workers, and
a TCP proxy to cut a service off without stopping it.

`RedisServer` runs `redis-server` on a free port in a temporary directory (append-only file on,
so a restart keeps the queue); `Worker` runs `celery -A infscale.workers.app worker` as a subprocess with
infscale's environment variables, logging to a file. Both run in their own process group and
`stop()` kills the whole group, so no test leaves a process behind. `TcpProxy` forwards a free
port to a server (the machine's shared PostgreSQL): `cut()` closes it and every connection
through it (clients get "connection refused", as when the server is down), `restore()` opens
it again; the server itself never stops. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import redis

REPO = Path(__file__).resolve().parent.parent
QUEUE = "celery"  # Celery's default queue: a Redis list of that name


class ServiceError(RuntimeError):
    """A server did not start or did not reach the state a test waits for."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> object:
    """Poll `condition` until it returns something truthy; raise ServiceError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise ServiceError(
            "redis-server is not on PATH: the distributed tests need a real Redis "
            "(install it: apt-get install redis-server; tests/run.sh does this)"
        )
    return path


class RedisServer:
    """A private redis-server with an append-only file in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.binary = redis_server_binary()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        log = open(self.directory / "redis.log", "ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        wait_for(self._ping, 10, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits (as on a clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(self.process)
        self.process = None

    def forget(self) -> None:
        """Delete the stopped server's append-only file: the next start has an empty queue (as
        a Redis restarted without persistence)."""
        assert self.process is None, "stop the server first"
        for name in ("appendonlydir", "appendonly.aof", "dump.rdb"):
            path = self.directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def queue_length(self) -> int:
        with self.client() as client:
            return int(client.llen(QUEUE))

    def _ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServiceError(f"redis-server exited with {self.process.returncode}; see {self.directory}/redis.log")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False


class Worker:
    """`celery -A infscale.workers.app worker` with the given broker, database and extra environment."""

    def __init__(self, name: str, broker: str, database: str, log_dir: Path, concurrency: int = 1,
                 env: dict[str, str] | None = None, beat: bool = False, via_cli: bool = False,
                 netns: str | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        self.environment = {
            **os.environ,
            "INFSCALE_BROKER_URL": broker,
            "INFSCALE_DATABASE_URL": database,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }
        if via_cli:  # `infscale worker`, the wrapper a user types
            self.argv = [sys.executable, "-m", "infscale.cli.main", "worker", "--concurrency", str(concurrency),
                         "--broker", broker, "--db", database] + (["--beat"] if beat else [])
        else:  # the plain celery command the wrapper runs, with a name and a faster start
            self.argv = [
                sys.executable, "-m", "celery", "-A", "infscale.workers.app", "worker", "--pool", "prefork",
                "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle",  # no peer chatter: faster start, same semantics
            ] + (["--beat", "--schedule", str(log_dir / f"beat-{name}")] if beat else [])
        if netns is not None:  # in that network namespace (`ip netns exec` execs: the pid stays the worker's)
            self.argv = ["ip", "netns", "exec", netns, *self.argv]
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> "Worker":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            wait_for(self._ready, 60, f"worker {self.name} to be ready (log: {self.log_path})", 0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pool_pids(self) -> list[int]:
        """The pool processes (children of the worker's main process)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as when a machine dies."""
        if self.process is not None:
            _kill_group(self.process)
            self.process = None

    stop = kill

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServiceError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        return " ready." in self.log()


class TcpProxy:
    """Forwards 127.0.0.1:`port` (a free one) to `host`:`target_port`, a thread per direction."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        """Stop listening and close every forwarded connection."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._open.clear()

    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    client.close()
                    server.close()
                    return
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (how to tell a busy pool process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


class Dashboard:
    """`infscale serve` on a free port over `database`, with basic auth when `auth` (user, password)."""

    def __init__(self, database: str, log_path: Path, auth: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if k != "INFSCALE_DASHBOARD_AUTH"}
        if auth is not None:
            env["INFSCALE_DASHBOARD_AUTH"] = ":".join(auth)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infscale.cli.main", "serve", "--port", str(self.port), "--db", database],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for(self._answers, 30, f"infscale serve on port {self.port} (log: {log_path})", 0.1)

    def stop(self) -> None:
        _kill_group(self.process)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise ServiceError(f"infscale serve exited with {self.process.returncode}:\n{self.log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False
