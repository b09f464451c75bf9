"""Screenshots of the dashboard for the README, into docs/images/dashboard-*.png.

    python scripts/dashboard_screenshots.py --db sqlite:///infscale.db   # a stored run of examples/paper.yaml

Works on a copy of that SQLite database: a small distributed sweep is submitted into the copy
(a private redis-server and one Celery worker, as the tests start them) so that the sweeps
page shows one in progress; then `infscale serve` on the copy, and Debian's chromium takes:
the sweeps list mid-run, the paper sweep's page with the balanced cost budget at $0.10, GPT-5
under `balanced`, and the same run
with the cost budget moved to $0.20.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infscale.api import load_sweep_spec, open_database  # noqa: E402
from infscale.scheduler.submit import submit  # noqa: E402
from infscale.workers.broker import sender  # noqa: E402
from infscale.storage.sql import SqlStore  # noqa: E402
from tests.services import Dashboard, RedisServer, Worker, wait_for  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "docs" / "images"
PROGRESS_SWEEP = {
    "name": "nightly-small-models", "catalog": "builtin:paper",
    "models": ["gpt5-nano", "nvidia-nemotron-nano-9b-v2", "qwen3-30b-a3b"],
    "scenarios": ["balanced", "latency-critical"], "trials": 400000, "seed": 9,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="sqlite:///PATH of a stored run of examples/paper.yaml")
    args = parser.parse_args()
    source = Path(args.db.removeprefix("sqlite:///"))
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        shutil.copy(source, tmp / "copy.db")
        url = f"sqlite:///{tmp / 'copy.db'}"
        paper_id = open_database(url).sweep().id
        redis_server = RedisServer(tmp / "redis").start()
        worker = serve = None
        try:
            running_id = submit(load_sweep_spec(PROGRESS_SWEEP), SqlStore(url), sender(redis_server.url), blocks_per_shard=8)
            worker = Worker("shots", redis_server.url, url, tmp, concurrency=1).start()
            serve = Dashboard(url, tmp / "serve.log")
            _shoot(serve.url, paper_id, running_id)
        finally:
            if serve is not None:
                serve.stop()
            if worker is not None:
                worker.kill()
            redis_server.stop()


def _shoot(base: str, paper_id: int, running_id: int) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        row = page.locator(f"#sweep-{running_id}")
        row.wait_for()
        wait_for(lambda: 0.25 < _share(row.locator(".shards").inner_text()) < 0.75, 300, "the sweep half way", 0.2)
        time.sleep(1.5)  # one more refresh: trials per second and ETA from several shards
        page.screenshot(path=str(OUT / "dashboard-sweeps.png"), clip={"x": 0, "y": 0, "width": 1100, "height": 240})
        page.goto(f"{base}/sweeps/{paper_id}")
        page.locator("#whatif:not([hidden])").wait_for()
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.locator("#max_total_cost").evaluate("(s) => { s.value = '0.1'; s.dispatchEvent(new Event('input')); }")
        page.locator("body[data-decided-max-total-cost='0.1']").wait_for()
        page.screenshot(path=str(OUT / "dashboard-sweep.png"), clip={"x": 0, "y": 0, "width": 1320, "height": 940})
        page.goto(f"{base}/sweeps/{paper_id}/runs/gpt5/balanced")
        page.locator("body[data-ready=true]").wait_for()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(OUT / "dashboard-run.png"), full_page=True)
        slider = page.locator("#max_total_cost")
        slider.evaluate("(s) => { s.value = '0.2'; s.dispatchEvent(new Event('input')); }")
        page.locator("body[data-decided-max-total-cost='0.2']").wait_for()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(OUT / "dashboard-run-moved.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 1050})
        browser.close()
    for name in ("sweeps", "sweep", "run", "run-moved"):
        print(OUT / f"dashboard-{name}.png")


def _share(text: str) -> float:
    done, total = (int(x) for x in text.split("/"))
    return done / total


if __name__ == "__main__":
    main()
