"""The compose stack as deployed, without a Docker engine: every service's command from
docker-compose.yml, run in the image's filesystem layout as the image's (non-root) user.

The layout is built in a temporary directory the way deploy/Dockerfile builds it: a root-owned
`app` directory (the services' working directory, not writable by them) and the volumes' mount
points under `data`, owned by the user (`beat`, `flower`) or read-only (`prices`, the host's
deploy/prices). `docker-compose config` (Debian's docker-compose; tests/run.sh installs it)
resolves the file with a test .env; the services' commands, environments and health checks come
from its output, with container paths mapped into the layout and the hosts `redis` and `postgres`
pointed at a real redis-server (started with the compose file's own redis command) and a
PostgreSQL database of the test. Beat's recalc schedule is set to every minute through the .env,
so the nightly recalc that beat sends runs on the worker while the test watches.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import redis
import yaml

from infscale.scheduler.local import run_local
from infscale.readers.sweep_files import load_sweep
from infscale.engine.plan import plan_sweep
from infscale.storage.sql import SqlStore
from tests.services import REPO, ServiceError, free_port, wait_for

pytestmark = pytest.mark.slow

IMAGE_USER = "infscale-image"  # stands for the image's `infscale` user (uid 1000 may be taken here)
INFSCALE_SERVICES = ("migrate", "worker", "beat", "flower")
DOTENV = {
    "REDIS_PASSWORD": "redis-test-password",
    "POSTGRES_PASSWORD": "unused-with-trust-auth",
    "FLOWER_BASIC_AUTH": "ops:flower-test-password",
    "WORKER_CONCURRENCY": "1",
    "INFSCALE_RECALC_SCHEDULE": "* * * * *",  # every minute instead of nightly
    "INFSCALE_PRICE_SOURCE": "/data/prices/prices.yaml",
    "INFSCALE_PRICE_CATALOG": "",
}
SWEEP = """\
name: layout
models: [gpt5-nano]
scenarios: [balanced]
trials: 2048
seed: 9
"""


def compose_config(tmp: Path) -> dict:
    """docker-compose.yml as `docker-compose config` resolves it with the test's .env."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed (Debian's docker-compose package; tests/run.sh installs it)",
                    pytrace=False)
    env_file = tmp / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in DOTENV.items()))
    done = subprocess.run([binary, "--env-file", str(env_file), "config"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def image_user() -> tuple[int, int]:
    """(uid, gid) of a non-root user standing for the image's; created once if missing."""
    if os.geteuid() != 0:
        pytest.fail("building the image's layout needs root (a root-owned /app and a second user)", pytrace=False)
    try:
        entry = pwd.getpwnam(IMAGE_USER)
    except KeyError:
        done = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                               "/usr/sbin/nologin", IMAGE_USER], capture_output=True, text=True)
        assert done.returncode in (0, 9), done.stderr  # 9: created meanwhile by a parallel run
        entry = pwd.getpwnam(IMAGE_USER)
    return entry.pw_uid, grp.getgrnam(IMAGE_USER).gr_gid


class Layout:
    """The image's filesystem in `root`, and how to run a command in it as the image's user."""

    def __init__(self, root: Path, uid: int, gid: int) -> None:
        self.root, self.uid, self.gid = root, uid, gid
        self.app = root / "app"
        self.app.mkdir(parents=True)
        shutil.copytree(REPO / "examples", self.app / "examples")  # what COPY . . brings that services read
        for path in [self.app, *self.app.rglob("*")]:
            os.chown(path, 0, 0)
        self.app.chmod(0o755)
        self.home = root / "home" / "infscale"
        for path in (root / "data" / "beat", root / "data" / "flower", self.home):
            path.mkdir(parents=True)
            os.chown(path, uid, gid)  # RUN mkdir -p /data/... && chown -R infscale /data; useradd --create-home
        (root / "data" / "prices").mkdir()
        # The image's console scripts on PATH: `celery` (health check), `python`, `infscale`.
        self.bin = root / "usr" / "local" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "celery").write_text(f"#!/bin/sh\nexec {sys.executable} -m celery \"$@\"\n")
        (self.bin / "celery").chmod(0o755)
        (root / "data").chmod(0o755)
        root.chmod(0o755)
        self.prefix = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
        probe = [sys.executable, "-c", "import numpy, celery, flower, sqlalchemy, infscale.cli.main"]
        if subprocess.run([*self.prefix, *probe], capture_output=True).returncode != 0:
            # The interpreter or its packages live where this user cannot look (e.g. under /root): allow it to read
            # and traverse, never to write, so the test still shows every write the services make.
            self.prefix += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]

    def path(self, container_path: str) -> str:
        """A container path (/data/..., /app/...) in the layout; other text unchanged."""
        for top in ("/data/", "/app/"):
            if container_path.startswith(top):
                return str(self.root / container_path.lstrip("/"))
        return container_path

    def text(self, value: str) -> str:
        """Container paths inside a string (health check code) mapped into the layout, and `$$`
        (how `docker-compose config` writes a literal `$`) as the container gets it."""
        return value.replace("$$", "$").replace("'/data/", f"'{self.root}/data/").replace("'/app/", f"'{self.root}/app/")


def service_env(layout: Layout, service: dict, broker: str, database: str) -> dict[str, str]:
    env = {k: layout.path(str(v)) for k, v in (service.get("environment") or {}).items()}
    assert urlsplit(env["INFSCALE_BROKER_URL"]).hostname == "redis"
    assert urlsplit(env["INFSCALE_DATABASE_URL"]).hostname == "postgres"
    env.update(INFSCALE_BROKER_URL=broker, INFSCALE_DATABASE_URL=database)
    env.update(
        PATH=os.pathsep.join([str(layout.bin), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        HOME=str(layout.home), HOSTNAME=socket.gethostname(), LANG="C.UTF-8",
        PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",  # the image's ENV
    )
    return env


@pytest.fixture()
def redis_like_compose(tmp_path: Path) -> Iterator[str]:
    """redis-server started with the compose file's redis command on a free port; yields the broker URL."""
    config = compose_config(tmp_path)
    command = [shutil.which("redis-server") or "redis-server", *config["services"]["redis"]["command"][1:]]
    port = free_port()
    data = tmp_path / "redis-data"
    data.mkdir()
    with open(tmp_path / "redis.log", "wb") as log:
        server = subprocess.Popen([*command, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis(port=port, password=DOTENV["REDIS_PASSWORD"], socket_timeout=5)

    def ping() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for(ping, 20, "redis-server with the compose file's command")
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        yield f"redis://:{DOTENV['REDIS_PASSWORD']}@127.0.0.1:{port}/0"
    finally:
        client.close()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def test_compose_services_run_in_the_image_layout_as_its_user(tmp_path, redis_like_compose, fresh_postgres_url):
    config = compose_config(tmp_path)
    services = config["services"]
    uid, gid = image_user()
    layout = Layout(tmp_path / "image", uid, gid)
    database = "postgresql://" + fresh_postgres_url.split("://", 1)[1]  # the compose file's scheme
    port = free_port()

    def argv(name: str) -> list[str]:
        return [layout.path(a).replace("5555", str(port)) if name == "flower" else layout.path(a)
                for a in services[name]["command"]]

    envs = {name: service_env(layout, services[name], redis_like_compose, database) for name in INFSCALE_SERVICES}
    app_before = sorted(p.relative_to(layout.app) for p in layout.app.rglob("*"))

    # migrate: the one-shot schema upgrade, as the user, in /app.
    migrate = subprocess.run([*layout.prefix, *argv("migrate")], cwd=layout.app, env=envs["migrate"],
                             capture_output=True, text=True, timeout=180)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    # A finished sweep whose prices the nightly recalc will change.
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    sweep = load_sweep(tmp_path / "sweep.yaml")
    with SqlStore(database) as store:
        sweep_id = store.save_local_result(plan_sweep(sweep), run_local(sweep, workers=1))
    price_file = tmp_path / "image" / "data" / "prices" / "prices.yaml"  # the host's deploy/prices, read-only
    catalog = yaml.safe_load((REPO / "examples" / "catalog-litellm.yaml").read_text())
    nano = {**catalog["models"]["gpt5-nano"], "c_out": 8e-7}  # twice the bundled output price
    price_file.write_text(yaml.safe_dump({"models": {"gpt5-nano": nano}}))

    running: dict[str, subprocess.Popen] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat", "flower")}
    try:
        for name in ("worker", "beat", "flower"):
            with open(logs[name], "wb") as log:
                running[name] = subprocess.Popen([*layout.prefix, *argv(name)], cwd=layout.app, env=envs[name],
                                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def alive_and(name: str, condition) -> bool:
            if running[name].poll() is not None:
                raise AssertionError(f"{name} exited {running[name].returncode}:\n{logs[name].read_text()[-3000:]}")
            return condition()

        wait_for(lambda: alive_and("worker", lambda: " ready." in logs["worker"].read_text()), 120, "the worker")
        wait_for(lambda: alive_and("beat", lambda: list((layout.root / "data" / "beat").glob("celerybeat-schedule*"))),
                 60, "beat to write its schedule in its volume")

        # The nightly recalc, sent by this beat on its (test) schedule, runs on the worker.
        def recalculated() -> bool:
            failed = [line for line in logs["worker"].read_text().splitlines() if "raised unexpected" in line]
            assert not failed, failed[0]
            with SqlStore(database) as store:
                return len(store.run_history(sweep_id, "gpt5-nano", "balanced")) == 2
        wait_for(lambda: alive_and("beat", recalculated), 240, "the recalc sent by beat to store a new revision", 1.0)
        with SqlStore(database) as store:
            prices = [p for p in store.price_history("gpt5-nano") if p.source.endswith("prices.yaml")]
        assert prices and prices[-1].prices.c_out == pytest.approx(8e-7)
        assert "infscale.recalc" in logs["beat"].read_text()

        # Every infscale service's health check passes, run as the user with the service's environment.
        for name in ("worker", "beat", "flower"):
            test = services[name]["healthcheck"]["test"]
            if test[0] == "CMD-SHELL":
                check = ["sh", "-c", layout.text(test[1]).replace("5555", str(port))]
            else:
                assert test[0] == "CMD"
                check = [layout.text(a).replace("5555", str(port)) for a in test[1:]]

            last: list[subprocess.CompletedProcess] = []

            def healthy() -> bool:
                last[:] = [subprocess.run([*layout.prefix, *check], cwd=layout.app, env=envs[name],
                                          capture_output=True, text=True, timeout=60)]
                return last[0].returncode == 0
            try:
                wait_for(lambda: alive_and(name, healthy), 60, f"{name}'s health check to pass", 1.0)
            except ServiceError:
                pytest.fail(f"{name}'s health check {check} fails: {last[0].stdout} {last[0].stderr}")
    finally:
        for name, process in running.items():  # SIGTERM, as `docker compose stop` sends
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    # What the services wrote is in their volumes, owned by the user; /app is untouched.
    beat_files = list((layout.root / "data" / "beat").glob("celerybeat-schedule*"))
    flower_files = list((layout.root / "data" / "flower").glob("flower.db*"))
    assert beat_files and flower_files, (logs["flower"].read_text()[-2000:])
    assert all(p.stat().st_uid == uid for p in beat_files + flower_files)
    assert sorted(p.relative_to(layout.app) for p in layout.app.rglob("*")) == app_before
    for name, log in logs.items():
        text = log.read_text()
        assert "PermissionError" not in text and "Permission denied" not in text, (name, text[-3000:])


def test_every_service_has_a_health_check_or_is_one_shot(tmp_path):
    services = compose_config(tmp_path)["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"
            assert all(s["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
                       for s in services.values() if "migrate" in s.get("depends_on", {}))
        else:
            assert service["healthcheck"]["test"], name


def test_docker_compose_config_validates_and_requires_the_passwords(tmp_path):
    compose_config(tmp_path)  # valid with the passwords set
    env = {k: v for k, v in os.environ.items() if k not in DOTENV}
    missing = subprocess.run(["docker-compose", "config", "--quiet"], cwd=REPO, capture_output=True, text=True, env=env)
    assert missing.returncode != 0 and "REDIS_PASSWORD" in missing.stderr + missing.stdout
