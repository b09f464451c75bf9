"""`infscale results` on a sweep that has not finished: it says so, and exits 3 unless --partial.

The running sweep is made the way workers make one, in this process: the first simulation
group's shards are stored and reduced, the other group's are not.
"""

from __future__ import annotations

import json

import pytest

from infscale.cli.main import main
from infscale.engine.pipeline import simulate_shard
from infscale.engine.plan import plan_sweep, simulation_groups
from infscale.scheduler.local import run_local
from infscale.scheduler.reduce import reduce_group
from infscale.scheduler.submit import shard_messages
from infscale.readers.sweep_files import load_sweep
from infscale.storage.sql import SqlStore

SWEEP = """\
name: half-done
models: [gpt5, gpt5-nano]
scenarios: [balanced]
trials: 2048
seed: 3
"""


@pytest.fixture()
def half_done(tmp_path) -> tuple[str, int]:
    """(database URL, id) of a running sweep whose gpt5 run is done and gpt5-nano run is not."""
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    sweep = load_sweep(tmp_path / "sweep.yaml")
    url = f"sqlite:///{tmp_path / 'results.db'}"
    store = SqlStore(url)
    plan = plan_sweep(sweep, 1)
    sweep_id = store.create_sweep(plan, status="running")
    groups = {g.key: g for g in simulation_groups(sweep)}
    first = next(iter(groups))
    for m in shard_messages(sweep_id, plan):
        if m["group_key"] == first:
            partial = simulate_shard(sweep, groups[first], range(*m["blocks"]))
            store.save_partial(sweep_id, first, m["shard_index"], partial, 0.0)
    reduce_group(store, sweep_id, sweep, first, send=lambda messages: None)
    assert store.sweep(sweep_id).status == "running"
    return url, sweep_id


def test_results_of_a_running_sweep_say_so_and_exit_3(half_done, capsys):
    url, sweep_id = half_done
    assert main(["results", "--db", url, "--sweep", str(sweep_id)]) == 3
    out, err = capsys.readouterr()
    assert "gpt5 " in out and "gpt5-nano" not in out and "running" in out.splitlines()[0]
    assert err == f"infscale: sweep {sweep_id} is running: 1 of 2 runs done: these results are partial " \
                  "(--partial accepts them)\n"

    assert main(["results", "--db", url, "--sweep", str(sweep_id), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "running" and {r["model"] for r in doc["results"]} == {"gpt5"}

    assert main(["results", "--db", url, "--sweep", str(sweep_id), "--json", "--partial"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "running" and captured.err == ""


def test_results_of_a_running_sweep_with_nothing_done_for_the_filter_is_one_line(half_done, capsys):
    url, sweep_id = half_done
    assert main(["results", "--db", url, "--sweep", str(sweep_id), "--model", "gpt5-nano", "--partial"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"sweep {sweep_id} is running: 1 of 2 runs done" in err


def test_results_of_a_done_sweep_carry_its_status_and_exit_0(half_done, tmp_path, capsys):
    url, _ = half_done
    sweep = load_sweep(tmp_path / "sweep.yaml")
    with SqlStore(url) as store:
        done_id = store.save_local_result(plan_sweep(sweep), run_local(sweep, workers=1))
    assert main(["results", "--db", url, "--sweep", str(done_id), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "done" and captured.err == ""
