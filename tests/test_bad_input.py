"""Every bad input is one line, exit 2, nothing written, in bounded time and memory.

Each case runs the real `infscale` command in a subprocess with its address space capped
(RLIMIT_AS) and a timeout, so a case that tried to hold gigabytes or spin for minutes fails
here rather than passing slowly. "Nothing written" is checked on the database each case
points at: no file appears where there was none, and a database that existed keeps its rows.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from infscale.engine.plan import plan_sweep
from infscale.readers.sweep_files import load_sweep
from infscale.scheduler.local import run_local
from infscale.storage.sql import SqlStore

MEMORY_CAP = 1536 << 20  # bytes of address space a refused input may use (numpy alone maps ~300 MB)
TIME_CAP = 60  # seconds; every case here answers in a few

SWEEP = """\
name: ok
models: [gpt5-nano]
scenarios: [balanced]
trials: 2000
seed: 1
"""


def run(argv: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {k: v for k, v in os.environ.items() if not k.startswith("INFSCALE_")}
    return subprocess.run(
        [sys.executable, "-m", "infscale.cli.main", *argv], cwd=cwd, capture_output=True, timeout=TIME_CAP,
        preexec_fn=cap, env=env, input=stdin,
    )


def assert_one_line(done: subprocess.CompletedProcess, *needles: str) -> str:
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 2, (done.returncode, err[-2000:])
    assert err.count("\n") == 1 and err.startswith("infscale: error: "), err[-2000:]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture()
def here(tmp_path: Path) -> Path:
    (tmp_path / "ok.yaml").write_text(SWEEP)
    return tmp_path


def write(directory: Path, name: str, text: str | bytes) -> str:
    path = directory / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# --- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, needles", [
    (lambda d: write(d, "s.yaml", "name: s\ncatalog: /bin/ls\nmodels: [a]\nscenarios: [balanced]\ntrials: 10\n"),
     ["catalog", "not UTF-8"]),
    (lambda d: write(d, "s.yaml", "name: s\ncatalog: /dev/zero\nmodels: [a]\nscenarios: [balanced]\ntrials: 10\n"),
     ["catalog", "not a regular file"]),
    (lambda d: (os.mkfifo(d / "fifo"), write(d, "s.yaml", f"name: s\ncatalog: {d / 'fifo'}\nmodels: [a]\n"
                                                          "scenarios: [balanced]\ntrials: 10\n"))[1],
     ["catalog", "a pipe"]),
    (lambda d: write(d, "s.yaml", "name: s\ncatalog: /etc/shadow\nmodels: [a]\nscenarios: [balanced]\ntrials: 10\n"),
     ["/etc/shadow", "not a field name"]),
    (lambda d: write(d, "s.yaml", "models: " + "[" * 20000 + "]" * 20000 + "\n"), ["s.yaml"]),
    (lambda d: write(d, "s.yaml", "name: s\ntrials: 10\nmodels: [gpt5]\nscenarios: [balanced]\ntrials: 20\n"),
     ["line 5", "duplicate key 'trials'", "line 2"]),
    (lambda d: write(d, "s.yaml", SWEEP.replace("balanced]", "{name: x, max_total_cost: 1, max_total_time: 1, "
                                                 "min_accuracy: 0.5, k_max: 1000000000, parallelism: 1}]")),
     ["k_max"]),
    (lambda d: write(d, "s.yaml", SWEEP.replace("seed: 1", "seed: 30000000000000000000")), ["seed"]),
    (lambda d: write(d, "s.yaml", SWEEP.replace("name: ok", 'name: "a\\0b"')), ["name", "control character"]),
    (lambda d: write(d, "s.yaml", "name: s\ntrials: 10\nmodels: [gpt5]\nscenarios:\n" + "".join(
        f"  - {{name: s{i}, max_total_cost: 1, max_total_time: 60, min_accuracy: 0.5, k_max: 8, parallelism: 1}}\n"
        for i in range(20000)) + "  - {name: bad, max_total_cost: -1, max_total_time: 1, min_accuracy: 0.5, "
        "k_max: 8, parallelism: 1}\n"), ["scenarios[20000].max_total_cost"]),
    (lambda d: write(d, "s.yaml", "# " + "x" * 100 + "\n" * 1 + ("#" + "y" * 99 + "\n") * 480_000 + SWEEP),
     ["larger than the limit"]),
], ids=["binary-catalog", "device-catalog", "fifo-catalog", "shadow-catalog", "deep-nesting", "duplicate-key",
        "huge-k_max", "seed-over-64-bit", "nul-in-name", "20000-scenarios",
        "48-MB-sweep"])
def test_bad_sweep_files_are_one_line(here: Path, make, needles: list[str]) -> None:
    sweep = make(here)
    for argv in (["validate", sweep], ["run", sweep, "--db", f"sqlite:///{here / 'new.db'}"]):
        err = assert_one_line(run(argv, here), *needles)
        assert "root:" not in err  # a file's content is never echoed
    assert not (here / "new.db").exists() and not (here / "infscale.db").exists()


def test_json_nested_too_deeply_is_one_line(here: Path) -> None:
    prices = write(here, "deep.json", "[" * 20000 + "]" * 20000)
    db = f"sqlite:///{here / 'p.db'}"
    SqlStore(db).close()
    assert_one_line(run(["prices", "import", prices, "--db", db, "--catalog", "examples/catalog-litellm.yaml"],
                        Path(__file__).resolve().parent.parent), "deep.json", "nested too deeply")


def test_seeds_and_trial_counts_up_to_64_bits_are_stored_alike(here: Path, fresh_postgres_url: str) -> None:
    """What a spec allows, every database stores: a seed and a trial count past 2**31 on
    PostgreSQL (32-bit columns refused them with a DataError before migration 0006)."""
    sweep = load_sweep(write(here, "big.yaml", SWEEP.replace("trials: 2000", "trials: 2200000000")
                             .replace("seed: 1", "seed: 9000000000000000000")))
    for url in (fresh_postgres_url, f"sqlite:///{here / 'big.db'}"):
        with SqlStore(url) as store:
            row = store.sweep(store.create_sweep(plan_sweep(sweep, 16)))
            assert (row.trials, row.seed) == (2_200_000_000, 9_000_000_000_000_000_000)
            assert store.sweep_spec(row.id) == sweep


def test_duplicate_keys_in_a_json_price_map_name_both_lines(here: Path) -> None:
    prices = write(here, "p.json", '{\n "gpt-5": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-5},\n'
                                   ' "gpt-5": {"input_cost_per_token": 2e-6, "output_cost_per_token": 1e-5}\n}\n')
    db = f"sqlite:///{here / 'p.db'}"
    SqlStore(db).close()
    assert_one_line(run(["prices", "import", prices, "--db", db, "--catalog", "examples/catalog-litellm.yaml"],
                        Path(__file__).resolve().parent.parent), "duplicate key", "line 3", "line 2")


def test_an_implausible_price_is_refused(here: Path) -> None:
    catalog = write(here, "c.yaml", "models:\n  m:\n    name: M\n    c_in: 1.0e+300\n    c_out: 1.0e-6\n"
                                    "    t_in: 1.0e-4\n    t_out: 1.0e-3\n    mu_Lin: 100\n    sigma_Lin: 10\n"
                                    "    mu_Lout: 100\n    sigma_Lout: 10\n    acc_mean: 0.8\n    acc_std: 0.1\n")
    sweep = write(here, "s.yaml", f"name: s\ncatalog: {catalog}\nmodels: [m]\nscenarios: [balanced]\ntrials: 10\n")
    assert_one_line(run(["validate", sweep], here), "c_in", "$ per token")


# --- database URLs and schema --------------------------------------------------------------------


@pytest.mark.parametrize("url, needles", [
    ("bogus://x", ["--db", "bogus"]),
    ("notaurl", ["--db", "not a database URL"]),
    ("mysql://root@127.0.0.1/test", ["--db", "mysql", "not supported"]),
    ("postgresql://postgres@127.0.0.1:1/x", ["cannot connect"]),
    ("postgresql://postgres@127.0.0.1:5432/infscale_no_such_database", ["cannot connect"]),
    ("sqlite:////nonexistent/dir/x.db", ["--db", "/nonexistent/dir"]),
], ids=["unknown-scheme", "not-a-url", "mysql", "refused", "missing-database", "missing-directory"])
def test_bad_database_urls_are_refused_before_any_work(here: Path, url: str, needles: list[str]) -> None:
    for argv in (["run", "ok.yaml", "--db", url], ["results", "--db", url]):
        assert_one_line(run(argv, here), *needles)
    assert not (here / "infscale.db").exists()


def test_read_only_commands_never_create_a_database(here: Path) -> None:
    assert_one_line(run(["results"], here), "no database")
    assert_one_line(run(["status", "1"], here), "no database")
    assert not (here / "infscale.db").exists()


def test_only_db_upgrade_migrates(here: Path) -> None:
    path = here / "old.db"
    db = f"sqlite:///{path}"
    SqlStore(db).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE alembic_version SET version_num = '0002_prices'")
    assert_one_line(run(["results", "--db", db], here), "schema revision 0002_prices", "infscale db upgrade")
    assert_one_line(run(["run", "ok.yaml", "--db", db], here), "infscale db upgrade")
    with sqlite3.connect(path) as c:
        c.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    assert_one_line(run(["results", "--db", db], here), "ffff_from_the_future", "does not know")
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT version_num FROM alembic_version").fetchone() == ("ffff_from_the_future",)


def test_run_creates_its_default_database(here: Path) -> None:
    done = run(["run", "ok.yaml", "--workers", "1"], here)
    assert done.returncode == 0, done.stderr
    assert (here / "infscale.db").exists()


# --- other arguments -----------------------------------------------------------------------------


@pytest.fixture()
def stored(here: Path) -> str:
    db = f"sqlite:///{here / 's.db'}"
    sweep = load_sweep(here / "ok.yaml")
    with SqlStore(db) as store:
        store.save_local_result(plan_sweep(sweep), run_local(sweep, workers=1))
    return db


@pytest.mark.parametrize("argv, needles", [
    (["results", "--sweep", "99999999999999999999"], ["--sweep"]),
    (["results", "--as-of", "0001-01-01T00:00+01:00"], ["--as-of"]),
], ids=["huge-sweep-id", "as-of-before-year-1"])
def test_bad_arguments_are_one_line(here: Path, stored: str, argv: list[str], needles: list[str]) -> None:
    done = run([*argv, "--db", stored], here)
    err = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in err and all(n in err for n in needles), err


def test_a_closed_pipe_ends_quietly(here: Path, stored: str) -> None:
    command = f"{sys.executable} -m infscale.cli.main results --db {stored} --json | head -c1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=here, capture_output=True, timeout=TIME_CAP)
    assert done.stderr == b"" and done.stdout == b"{"


def test_a_full_disk_is_one_line(here: Path, stored: str) -> None:
    """A real full disk: the database on a small tmpfs whose free space is then used up."""
    disk = here / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    assert mounted.returncode == 0, f"this test mounts a 4 MiB tmpfs and needs root: {mounted.stderr!r}"
    try:
        path = disk / "full.db"
        path.write_bytes(Path(stored.removeprefix("sqlite:///")).read_bytes())
        with open(disk / "filler", "wb") as filler:  # use up every free byte
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        assert_one_line(run(["run", "ok.yaml", "--db", f"sqlite:///{path}", "--workers", "1"], here), "disk")
        (disk / "filler").unlink()
        with sqlite3.connect(path) as c:
            assert c.execute("SELECT count(*) FROM sweeps").fetchone() == (1,)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
