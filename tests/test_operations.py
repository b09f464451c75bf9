"""Operations: a real Flower against a real Redis and worker; the compose stack and Dockerfile."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infscale.cli.main import build_parser
from infscale.storage.sql import SqlStore
from tests.services import REPO, RedisServer, Worker, free_port, wait_for

AUTH = "ops:s3cret-for-tests"
SWEEP = """\
name: flower-check
models: [gpt5-nano]
scenarios:
  - {name: quick, max_total_cost: 0.5, max_total_time: 60, min_accuracy: 0.8, k_max: 16, parallelism: 4}
trials: 3072
seed: 5
"""


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[dict]:
    redis_server = RedisServer(tmp_path / "redis").start()
    db = f"sqlite:///{tmp_path}/ops.db"
    SqlStore(db)  # schema first, so the worker and Flower start against a ready database
    port = free_port()
    env = {**os.environ, "INFSCALE_BROKER_URL": redis_server.url, "INFSCALE_DATABASE_URL": db,
           "INFSCALE_FLOWER_BASIC_AUTH": AUTH, "INFSCALE_FLOWER_DB": str(tmp_path / "flower.db"),
           "PYTHONPATH": str(REPO)}
    log = open(tmp_path / "flower.log", "ab")
    flower = subprocess.Popen([sys.executable, "-m", "infscale.cli.main", "flower", "--port", str(port), "--persistent"],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    worker = Worker("ops", redis_server.url, db, tmp_path, concurrency=1)
    try:
        wait_for(lambda: _status(f"http://127.0.0.1:{port}/healthcheck") == 200, 60, "Flower to answer", 0.2)
        worker.start()
        # Workers send task events once Flower asks (every 5 s while it runs; INFSCALE_TASK_EVENTS).
        wait_for(lambda: "Events of group {task} enabled by remote" in worker.log(), 30, "Flower to switch events on", 0.2)
        yield {"url": f"http://127.0.0.1:{port}", "env": env, "db": db, "tmp": tmp_path, "flower_log": tmp_path / "flower.log"}
    finally:
        worker.kill()
        os.killpg(flower.pid, 9)
        flower.wait(10)
        log.close()
        redis_server.stop()


def test_flower_lists_the_sweeps_tasks_by_name_behind_basic_auth(stack):
    sweep = stack["tmp"] / "sweep.yaml"
    sweep.write_text(SWEEP)
    submit = subprocess.run([sys.executable, "-m", "infscale.cli.main", "submit", str(sweep), "--json", "--shard-blocks", "1"],
                            cwd=REPO, env=stack["env"], capture_output=True, text=True, timeout=60)
    assert submit.returncode == 0, submit.stderr
    sweep_id = json.loads(submit.stdout)["sweep"]
    waited = subprocess.run([sys.executable, "-m", "infscale.cli.main", "wait", str(sweep_id), "--timeout", "120"],
                            cwd=REPO, env=stack["env"], capture_output=True, text=True, timeout=180)
    assert waited.returncode == 0, waited.stdout + waited.stderr

    def tasks_seen() -> dict | None:
        tasks = _get_json(f"{stack['url']}/api/tasks", AUTH)
        names = {t.get("name") for t in tasks.values() if t.get("state") == "SUCCESS"}
        return tasks if {"infscale.simulate_shard", "infscale.reduce_run"} <= names else None

    tasks = wait_for(tasks_seen, 30, "Flower to list the shard and reduce tasks as SUCCESS", 0.5)
    shards = [t for t in tasks.values() if t["name"] == "infscale.simulate_shard"]
    assert len(shards) == 3  # 3072 trials = 3 blocks, one block per shard
    assert all(t["state"] == "SUCCESS" for t in shards)
    # Operators read which sweep, group and shard each task is, in the args column.
    group = "gpt5-nano/P4/k16/multiples"
    assert sorted(t["args"] for t in shards) == [f"sweep {sweep_id} - {group} - shard {i}/3" for i in (1, 2, 3)]
    reduces = [t for t in tasks.values() if t["name"] == "infscale.reduce_run"]
    assert {t["args"] for t in reduces} == {f"sweep {sweep_id} - {group} - reduce"}
    kwargs = " ".join(str(t.get("kwargs")) for t in shards)
    assert f"'sweep_id': {sweep_id}" in kwargs and "'n_shards': 3" in kwargs
    page = _get_text(f"{stack['url']}/tasks", AUTH)
    assert re.search(r'data-column="args"', page), "the tasks page shows the args column"

    for path in ("/api/tasks", "/metrics", "/tasks"):
        assert _status(f"{stack['url']}{path}") == 401, path
        assert _status(f"{stack['url']}{path}", "ops:wrong-password") == 401, path
    metrics = _get_text(f"{stack['url']}/metrics", AUTH)
    assert "flower_events_total" in metrics and "infscale.simulate_shard" in metrics
    assert "shard 1/3" not in metrics, "labels must not become metric label values (a series per shard)"
    assert _status(f"{stack['url']}/healthcheck") == 200  # container health checks need no password
    assert AUTH.split(":")[1] not in " ".join(_cmdlines()), "the password must not be on a command line"


def test_flower_refuses_to_start_without_auth(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFSCALE_FLOWER", "FLOWER_"))}
    done = subprocess.run([sys.executable, "-m", "infscale.cli.main", "flower", "--port", str(free_port())],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "INFSCALE_FLOWER_BASIC_AUTH is not set" in done.stderr
    assert "--insecure-no-auth" in done.stderr


def test_flower_without_auth_listens_on_loopback_only_and_says_so(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFSCALE_FLOWER", "FLOWER_"))}
    env.update(INFSCALE_BROKER_URL=redis_server.url, PYTHONPATH=str(REPO))
    log_path = tmp_path / "flower.log"
    with open(log_path, "wb") as log:
        flower = subprocess.Popen([sys.executable, "-m", "infscale.cli.main", "flower", "--port", str(port),
                                   "--insecure-no-auth"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        wait_for(lambda: _status(f"http://127.0.0.1:{port}/healthcheck") == 200, 60, "Flower to answer", 0.2)
        assert _status(f"http://127.0.0.1:{port}/tasks") == 200  # no password asked: this machine only
        assert _listening(port) == {"127.0.0.1"}
        assert f"Flower WITHOUT authentication, on http://127.0.0.1:{port} only" in log_path.read_text()
    finally:
        os.killpg(flower.pid, 9)
        flower.wait(10)
        redis_server.stop()


def test_every_send_of_a_shard_or_reduce_carries_its_label(tmp_path):
    """Submit's enqueue, a task's delay, and a retry (a signature sent again, as Task.retry does)
    all put the label in the message's argsrepr, which is what Flower shows."""
    from infscale.workers.broker import enqueue
    from infscale.workers.app import make_app
    from infscale.workers.tasks import reduce_run, simulate_shard

    redis_server = RedisServer(tmp_path / "redis").start()
    try:
        shard = {"sweep_id": 12, "group_key": "gpt5/P4/k128/multiples", "shard_index": 2, "n_shards": 7,
                 "blocks": [32, 48]}
        enqueue([shard], redis_server.url)
        app = make_app(redis_server.url)
        with app.producer_or_acquire() as producer:  # the tasks' own app has no broker configured here
            simulate_shard.s(**shard).apply_async(producer=producer)
            reduce_run.apply_async(kwargs={"sweep_id": 12, "group_key": "gpt5/P4/k128/multiples"}, producer=producer)
        with redis_server.client() as client:
            messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    finally:
        redis_server.stop()
    labels = sorted(m["headers"]["argsrepr"] for m in messages)
    assert labels == ["sweep 12 - gpt5/P4/k128/multiples - reduce"] + ["sweep 12 - gpt5/P4/k128/multiples - shard 3/7"] * 2
    assert all(m["headers"]["task"] in {"infscale.simulate_shard", "infscale.reduce_run"} for m in messages)


def _listening(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (IPv4 and IPv6, from /proc)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                if len(address) == 8:
                    out.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
                else:
                    out.add("::1" if address.endswith("01000000") and set(address[:24]) == {"0"} else address)
    return out


def test_compose_file_defines_a_safe_scalable_stack():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "migrate", "worker", "beat", "flower"} <= set(services)

    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory-policy noeviction" in redis_cmd
    assert "--requirepass" in redis_cmd
    assert "container_name" not in services["worker"], "a fixed name would stop --scale worker=N"
    assert services["beat"].get("deploy", {}).get("replicas") == 1
    assert "postgres-data" in compose["volumes"] and any(
        v.startswith("postgres-data:") for v in services["postgres"]["volumes"])
    assert any(v.startswith("flower-data:") for v in services["flower"]["volumes"])

    for name in ("redis", "postgres", "worker", "beat", "flower"):
        assert services[name].get("restart") in {"unless-stopped", "always"}, name
    for name in ("redis", "postgres", "worker", "beat", "flower"):
        assert "healthcheck" in services[name], name

    # Every password comes from a variable that has no default (`${VAR:?...}` fails when unset).
    text = (REPO / "docker-compose.yml").read_text()
    for var in ("REDIS_PASSWORD", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"):
        uses = re.findall(r"\$\{" + var + r"([^}]*)\}", text)
        assert uses, var
        assert all(u.startswith(":?") for u in uses), (var, uses)
    example = (REPO / "deploy/.env.example").read_text()
    for var in ("REDIS_PASSWORD", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"):
        assert re.search(rf"^{var}=$", example, re.M), f"{var} must be listed with no value"

    # The commands the services run exist in infscale's CLI.
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse keeps them here
    for name in ("migrate", "worker", "beat", "flower"):
        argv = services[name]["command"]
        assert argv[0] == "infscale", name
        assert argv[1] in commands, (name, argv)
        resolved = [os.path.expandvars(a).replace("${WORKER_CONCURRENCY:-2}", "2") for a in argv[1:]]
        args = parser.parse_args(resolved)
        assert hasattr(args, "handler"), (name, argv)


def test_dockerfile_installs_with_the_readme_command():
    dockerfile = (REPO / "deploy/Dockerfile").read_text()
    readme = (REPO / "README.md").read_text()
    install = re.search(r"^(pip install -e \.)\s+&&\s+infscale run", readme, re.M)
    assert install, "the README's first command installs with pip install -e ."
    assert re.search(r"^RUN " + re.escape(install.group(1)) + r"(\s|$)", dockerfile, re.M)
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["services"]["worker"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_image_installs_pinned_dependencies_in_their_own_layer_and_runs_as_its_user():
    """Dependencies come from deploy/constraints.txt before the source is copied (a code change
    reuses that layer); every volume an infscale service writes is made and owned by the user."""
    lines = [line.strip() for line in (REPO / "deploy/Dockerfile").read_text().splitlines()]
    steps = [line for line in lines if line and not line.startswith("#")]
    deps = steps.index("RUN pip install -r deploy/constraints.txt")
    copy_all = steps.index("COPY . .")
    assert steps[deps - 1] == "COPY deploy/constraints.txt deploy/constraints.txt" and deps < copy_all
    assert any(s.startswith("RUN pip install -e . -c deploy/constraints.txt") for s in steps[copy_all:])
    user = [s for s in steps if s.startswith("USER ")]
    assert user == ["USER infscale"] and steps.index(user[0]) > copy_all
    dockerfile = "\n".join(lines)
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    named = set(compose["volumes"])
    for name in ("migrate", "worker", "beat", "flower"):
        for volume in compose["services"][name].get("volumes", []):
            source, target = volume.split(":")[:2]
            if source in named:  # a named volume starts as a copy of the image's directory, owner included
                assert "mkdir -p" in dockerfile and target in dockerfile, (name, volume)
            else:  # a host folder, read-only
                assert volume.endswith(":ro") and (REPO / source).is_dir(), (name, volume)
    assert "chown -R infscale:infscale /data" in dockerfile


def test_constraints_pin_every_runtime_dependency_within_pyproject():
    done = subprocess.run([sys.executable, str(REPO / "scripts/constraints.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pins = {}
    for line in (REPO / "deploy/constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(spec)
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), (spec, pins[canonicalize_name(req.name)])


def test_dockerignore_keeps_secrets_history_and_local_state_out_of_the_image():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "deploy/.env", "*.db", "**/__pycache__", "tests"} <= ignored
    assert not ignored & {"examples", "README.md", "pyproject.toml", "deploy/constraints.txt", "engine", "infscale"}


def _status(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _get_text(url: str, auth: str) -> str:
    request = urllib.request.Request(url)
    request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def _get_json(url: str, auth: str) -> dict:
    request = urllib.request.Request(url)
    request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _cmdlines() -> list[str]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                out.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return out
