"""The dashboard (`infscale serve`), served by the real command on a free port.

HTTP-level checks (credentials, the decide endpoint) use httpx; the pages are driven in a real
browser: Playwright with Debian's chromium (`/usr/bin/chromium`, installed by tests/run.sh;
never a downloaded browser). A running distributed sweep uses a real redis-server and a real
Celery worker (tests/services.py).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import infscale
from infscale.cli.main import main
from infscale.engine.prices import PriceQuote, Prices
from infscale.scheduler.submit import submit
from infscale.engine.plan import plan_sweep
from infscale.storage.sql import SqlStore
from infscale.workers.broker import sender
from tests.services import Dashboard, RedisServer, ServiceError, Worker, free_port, wait_for

CHROMIUM = "/usr/bin/chromium"
USER, PASSWORD = "viewer", "s3cret"
SWEEP = {
    "name": "dashboard", "catalog": "builtin:paper", "models": ["gpt5", "gpt5-nano", "qwen3-30b-a3b"],
    "scenarios": ["balanced", "latency-critical"], "trials": 4096, "seed": 5,
}
# ~64 shards of a few hundredths of a second each on one worker process: several seconds of
# progress for a page that polls every second.
DISTRIBUTED = {
    "name": "distributed-progress", "catalog": "builtin:paper", "models": ["gpt5-mini", "nvidia-nemotron-nano-9b-v2"],
    "scenarios": [{"name": "wide", "max_total_cost": 0.2, "max_total_time": 600, "min_accuracy": 0.9,
                   "k_max": 256, "parallelism": 1, "k_grid": "all"}],
    "trials": 131072, "seed": 3,
}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'dashboard.db'}"
    return url, infscale.run(SWEEP, db=url, workers=1).id


@pytest.fixture(scope="module")
def server(database: tuple[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    running = Dashboard(database[0], tmp_path_factory.mktemp("serve") / "serve.log", (USER, PASSWORD))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(tests/run.sh installs it: apt-get install chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # SwiftShader: WebGL (plotly's 3-D) in software, on machines without a GPU.
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD},
                                  viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


# --- HTTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/sweeps", "/static/plotly.min.js", "/sweeps/1/runs/gpt5/balanced"])
def test_requests_without_the_credentials_get_401(server: Dashboard, path: str) -> None:
    assert httpx.get(server.url + path).status_code == 401
    assert httpx.get(server.url + path, auth=(USER, "wrong")).status_code == 401
    answer = httpx.get(server.url + path)
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(server.url + path, auth=(USER, PASSWORD)).status_code == 200


def test_without_auth_it_binds_to_loopback_only(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFSCALE_DASHBOARD_AUTH", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.strip() == (
        "infscale: error: --host 0.0.0.0: without INFSCALE_DASHBOARD_AUTH=user:password the dashboard "
        "binds to 127.0.0.1 only"
    )


def test_a_database_behind_the_schema_is_refused_not_migrated(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["serve", "--db", url, "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.startswith(f"infscale: error: no database at {url}")
    assert not (tmp_path / "empty.db").exists()  # reading never creates a database
    sqlite3.connect(tmp_path / "empty.db").close()  # a database without infscale's schema
    assert main(["serve", "--db", url, "--port", str(free_port())]) == 2
    assert capsys.readouterr().err.startswith(
        f"infscale: error: database {url} has no infscale schema: run `infscale db upgrade --db {url}`"
    )
    with sqlite3.connect(tmp_path / "empty.db") as connection:  # no table created: nothing migrated
        assert connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone() == (0,)


def test_plotly_is_served_from_the_installed_package(server: Dashboard) -> None:
    import plotly

    answer = httpx.get(server.url + "/static/plotly.min.js", auth=(USER, PASSWORD))
    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert answer.content == shipped.read_bytes()


def test_decide_endpoint_is_infscale_decide_without_confidence(server: Dashboard, database: tuple[str, int], capsys: Any) -> None:
    url, sweep_id = database
    query = {"scenario": "balanced", "max_total_cost": "0.12", "min_accuracy": "0.95"}
    answer = httpx.get(f"{server.url}/api/sweeps/{sweep_id}/decide", params=query, auth=(USER, PASSWORD)).json()
    assert main(["decide", "--db", url, "--sweep", str(sweep_id), "--scenario", "balanced",
                 "--max-total-cost", "0.12", "--min-accuracy", "0.95", "--no-confidence", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert answer["results"] == printed["results"]
    assert answer["recommendations"] == printed["recommendations"]
    bad = httpx.get(f"{server.url}/api/sweeps/{sweep_id}/decide", params={"max_total_cost": "-1"}, auth=(USER, PASSWORD))
    assert bad.status_code == 400 and bad.json() == {"error": "budgets: max_total_cost: must be > 0, got -1"}
    missing = httpx.get(f"{server.url}/api/sweeps/99", auth=(USER, PASSWORD))
    assert missing.status_code == 404 and missing.json() == {"error": "sweep 99 does not exist"}


def test_failures_and_price_history_are_served(server: Dashboard, database: tuple[str, int]) -> None:
    url, _ = database
    store = SqlStore(url)
    failed = store.create_sweep(plan_sweep(infscale.api.load_sweep_spec({**SWEEP, "name": "broken"}), 1))
    store.fail_sweep(failed, "shard gpt5/P4/k128/multiples #2 failed: MemoryError")
    store.import_prices([PriceQuote("gpt5", Prices(2e-6, 9e-6))], "prices.json")
    sweeps = httpx.get(server.url + "/api/sweeps", auth=(USER, PASSWORD)).json()
    row = next(s for s in sweeps if s["id"] == failed)
    assert row["status"] == "failed" and row["error"] == "shard gpt5/P4/k128/multiples #2 failed: MemoryError"
    prices = httpx.get(server.url + "/api/prices", auth=(USER, PASSWORD)).json()
    assert [(p["model"], p["c_in"], p["c_out"], p["source"]) for p in prices] == [("gpt5", 2e-6, 9e-6, "prices.json")]


# --- in the browser ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_sweep_list_and_a_sweep_load(server: Dashboard, database: tuple[str, int], page: Any) -> None:
    _, sweep_id = database
    page.goto(server.url + "/")
    row = page.locator(f"#sweep-{sweep_id}")
    row.wait_for()
    assert "dashboard" in row.inner_text() and row.get_attribute("data-status") == "done"
    row.get_by_role("link", name="dashboard").click()
    page.locator("#scenario-balanced table.choices").wait_for()
    stored = {(c.model, c.method): c for c in infscale.open_database(database[0]).sweep(sweep_id).results(scenario="balanced")}
    first = page.locator("#scenario-balanced table.choices tbody tr").first.locator("td")
    assert first.nth(0).inner_text() == "gpt5"
    assert first.nth(1).inner_text() == f"{stored['gpt5', 'max_accuracy'].k} ({stored['gpt5', 'max_accuracy'].confidence:.2f})"
    # What if: the sweep's cost slider re-decides every model of the scenario, as infscale decide does.
    page.locator("#max_total_cost").focus()
    page.keyboard.press("PageDown")
    page.keyboard.press("PageDown")
    budget = page.locator("#max_total_cost").input_value()
    page.locator(f"body[data-decided-max-total-cost='{float(budget):g}']").wait_for()
    decided = infscale.open_database(database[0]).sweep(sweep_id).decide(max_total_cost=float(budget), scenario="balanced")
    rows = page.locator("#scenario-balanced table.choices tbody tr")
    for i, model in enumerate(SWEEP["models"]):
        k = next(c for c in decided.results if c.model == model and c.method == "max_accuracy")
        assert rows.nth(i).locator("td").nth(1).inner_text() == (str(k.k) if k.status == "ok" else "-")
    assert page.locator("#scenario-balanced .moved").count() > 0


@pytest.mark.slow
def test_a_run_draws_its_3d_space_and_the_cost_slider_decides_again(
    server: Dashboard, database: tuple[str, int], page: Any, capsys: Any,
) -> None:
    url, sweep_id = database
    page.goto(f"{server.url}/sweeps/{sweep_id}/runs/gpt5/balanced")
    page.locator("body[data-ready=true]").wait_for()
    # plotly drew a WebGL scene with every k of the run, hoverable with its k.
    cube = page.evaluate("""() => {
        const div = document.getElementById('cube');
        const canvas = div.querySelector('.gl-container canvas');
        return {types: div.data.map(t => t.type), ks: div.data.slice(0, 3).flatMap(t => t.customdata),
                canvas: canvas ? [canvas.width, canvas.height] : null, scene: !!div._fullLayout.scene};
    }""")
    stored = infscale.open_database(url).sweep(sweep_id).curves("gpt5", "balanced")
    assert cube["scene"] and set(cube["types"]) == {"scatter3d"}
    assert sorted(cube["ks"]) == stored.curves.k.tolist()
    assert cube["canvas"] is not None and min(cube["canvas"]) > 100
    before = page.locator("#choice-max_accuracy td.k").inner_text()
    assert before == str(stored.choices[0].k)

    slider = page.locator("#max_total_cost")
    slider.focus()
    for _ in range(2):  # a tenth of the slider's range each: the cost budget falls to about 40%
        page.keyboard.press("PageDown")
    budget = slider.input_value()
    page.locator(f"body[data-decided-max-total-cost='{float(budget):g}']").wait_for()
    after = page.locator("#choice-max_accuracy td.k").inner_text()
    best = page.locator("#choice-max_accuracy td.best-model").inner_text()
    assert main(["decide", "--db", url, "--sweep", str(sweep_id), "--scenario", "balanced", "--model", "gpt5",
                 "--max-total-cost", budget, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    k = next(r["k"] for r in printed["results"] if r["method"] == "max_accuracy")
    model = next(r["model"] for r in printed["recommendations"] if r["method"] == "max_accuracy")
    assert after == str(k) and best == model
    assert after != before  # the slider moved the choice
    # The curves below the fold catch up as they scroll into view: the max-accuracy line moves to k.
    page.locator("#accuracy").scroll_into_view_if_needed()
    page.wait_for_function("""(k) => document.getElementById('accuracy').layout.shapes
        .some((s) => s.x0 === k && s.line.color === '#d62728')""", arg=k)


@pytest.mark.slow
def test_a_sweep_waiting_on_lost_shards_says_so(tmp_path: Path, browser: Any) -> None:
    """A running sweep whose shards were sent again by the periodic check (none started since)
    says what it waits for, in the words of `infscale status`, on the list and on its page."""
    from datetime import timedelta

    from infscale.reports.text import waiting_words
    from infscale.scheduler.progress import sweep_progress
    from infscale.scheduler.recovery import recover_sweeps

    db = f"sqlite:///{tmp_path / 'waiting.db'}"
    lease = timedelta(seconds=30)  # infscale serve's default INFSCALE_SHARD_LEASE
    with SqlStore(db) as store:
        sweep_id = store.create_sweep(plan_sweep(infscale.api.load_sweep_spec(SWEEP), 1), status="running")
        created = store.sweep(sweep_id).created_at
        recover_sweeps(store, lambda messages: None, lease, created + lease)
        words = waiting_words(sweep_progress(store, sweep_id))
    assert words is not None and "lost" in words
    server = Dashboard(db, tmp_path / "serve.log", (USER, PASSWORD))
    context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD})
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        row = page.locator(f"#sweep-{sweep_id}[data-waiting]")
        row.wait_for()
        assert row.get_attribute("data-waiting") == words and row.get_attribute("data-status") == "running"
        assert row.locator(".status-waiting").inner_text() == "waiting"
        assert row.locator("td").nth(9).inner_text() == f"waiting: {words}"  # instead of an ETA
        page.goto(f"{server.url}/sweeps/{sweep_id}")
        page.locator("#summary", has_text=f"running (waiting: {words})").wait_for()
    finally:
        context.close()
        server.stop()


@pytest.mark.slow
def test_a_running_distributed_sweep_advances_on_the_page(tmp_path: Path, browser: Any) -> None:
    db = f"sqlite:///{tmp_path / 'distributed.db'}"
    try:
        redis_server = RedisServer(tmp_path / "redis").start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    worker = server = None
    try:
        spec = infscale.api.load_sweep_spec(DISTRIBUTED)
        sweep_id = submit(spec, SqlStore(db), sender(redis_server.url), blocks_per_shard=4)  # (migrates the new database)
        server = Dashboard(db, tmp_path / "serve.log", (USER, PASSWORD))
        context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD})
        page = context.new_page()
        page.goto(server.url + "/")
        row = page.locator(f"#sweep-{sweep_id}")
        row.wait_for()
        total = int(row.locator(".shards").inner_text().split("/")[1])
        assert row.get_attribute("data-shards-done") == "0" and total >= 32
        worker = Worker("w1", redis_server.url, db, tmp_path, concurrency=1).start()
        seen = set()

        def finished() -> bool:
            seen.add(int(row.get_attribute("data-shards-done")))
            return row.get_attribute("data-status") == "done"

        wait_for(finished, 120, f"sweep {sweep_id} to finish on the page (worker log: {worker.log_path})", 0.2)
        assert max(seen) == total
        assert any(0 < n < total for n in seen), f"the page never showed a sweep in progress: {sorted(seen)}"
        assert "-" != row.locator("td").nth(8).inner_text()  # trials per second
        context.close()
    finally:
        if server is not None:
            server.stop()
        if worker is not None:
            worker.kill()
        redis_server.stop()
