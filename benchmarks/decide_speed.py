"""Speed of deciding again under new budgets (issue: Python API, decide, dashboard).

    python benchmarks/decide_speed.py                       # runs examples/paper.yaml first (about 1.5 min on 2 cores)
    python benchmarks/decide_speed.py --db sqlite:///infscale.db --sweep 1   # a stored paper sweep

Figures, each the median of many repetitions (this machine is shared: medians, not means):
1. `decide` for one sweep of 27 runs (9 models x 3 scenarios), every scenario, from the
   database: reading the stored curves and deciding every method and the cross-model
   recommendations (goal < 100 ms); and with the curves already in memory, as the dashboard
   keeps them. Both without confidence (`--no-confidence`, what the sliders do) and with the
   recommendations' confidence (issue 11's, 512 draws per scenario for every method).
2. A slider move's round trip through `infscale serve`: the HTTP request to the decide endpoint
   (the JSON the page draws from), and in Debian's chromium (if installed, software WebGL) from
   the slider's input event to the page's table and plots redrawn: to the next animation frame
   after the page's last change (goal < 200 ms), and to the frame after that, by which the
   WebGL scene of that change has been drawn (software WebGL draws it after the frame starts).

`decide` is timed as a function call (what the CLI, the API and the dashboard run), and as the
whole `infscale decide` process, whose start-up (Python, numpy, SQLAlchemy, alembic imports) is
a fixed cost measured apart with `infscale decide --help`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import infscale  # noqa: E402
from infscale.api import Database, decide_stored  # noqa: E402
from infscale.engine.whatif import Budgets  # noqa: E402
from infscale.storage import open_store  # noqa: E402
from tests.services import Dashboard  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a database holding a finished run of examples/paper.yaml")
    parser.add_argument("--sweep", type=int, help="its sweep id (default: the latest finished)")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db
        if url is None:
            url = f"sqlite:///{tmp}/paper.db"
            print("running examples/paper.yaml ...", flush=True)
            infscale.run(ROOT / "examples" / "paper.yaml", db=url)
        sweep = infscale.open_database(url).sweep(args.sweep)
        runs = len(sweep.run_results())
        print(f"sweep {sweep.id} {sweep.info.name!r}: {runs} runs, {sweep.info.trials} trials")
        decide_figures(url, sweep.id, args.repeat)
        process_figures(url, sweep.id, max(5, args.repeat // 4))
        slider_figures(url, sweep.id, args.repeat, Path(tmp))


def decide_figures(url: str, sweep_id: int, repeat: int) -> None:
    budgets = [Budgets(max_total_cost=0.1 + 0.01 * i, min_accuracy=0.9) for i in range(repeat)]
    for confidence, label in ((False, "--no-confidence"), (True, "with confidence")):
        cold = []
        for b in budgets:
            start = time.perf_counter()
            database = Database(open_store(url))  # what one `infscale decide` does
            decide_stored(database.sweep(sweep_id), b, confidence=confidence)
            cold.append(time.perf_counter() - start)
            database.close()
        warm_sweep = infscale.open_database(url).sweep(sweep_id)
        warm_sweep.run_results()
        warm = []
        for b in budgets:
            start = time.perf_counter()
            decide_stored(warm_sweep, b, confidence=confidence)
            warm.append(time.perf_counter() - start)
        print(f"decide {label:<16} 27 runs, from the database: median {_ms(cold)}  (goal < 100 ms)")
        print(f"decide {label:<16} 27 runs, curves in memory:  median {_ms(warm)}")


def process_figures(url: str, sweep_id: int, repeat: int) -> None:
    """The whole `infscale decide` process, and of it the time its imports take (python -X
    importtime: the sum over top-level imports), a fixed cost of any infscale command."""
    command = [sys.executable, "-X", "importtime", "-m", "infscale.cli.main", "decide", "--db", url, "--sweep", str(sweep_id)]
    whole, imports = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        whole.append(time.perf_counter() - start)
        fields = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
        imports.append(sum(int(f[1]) for f in fields[1:] if not f[2].startswith("  ")) / 1e6)
    print(f"infscale decide, the whole process:      median {_ms(whole)}")
    print(f"  of which its imports (start-up):       median {_ms(imports)}")


def slider_figures(url: str, sweep_id: int, repeat: int, tmp: Path) -> None:
    server = Dashboard(url, tmp / "serve.log")
    base = server.url
    try:
        decide_url = f"{base}/api/sweeps/{sweep_id}/decide"
        with httpx.Client() as client:
            client.get(decide_url, params={"scenario": "balanced", "model": "gpt5"})  # fills the curve cache
            trips = []
            for i in range(repeat):
                params = {"scenario": "balanced", "model": "gpt5", "max_total_cost": f"{0.1 + 0.01 * i:g}"}
                start = time.perf_counter()
                client.get(decide_url, params=params).raise_for_status()
                trips.append(time.perf_counter() - start)
        print(f"slider move, HTTP round trip:            median {_ms(trips)}")
        if Path(CHROMIUM).exists():
            trips = _browser_trips(f"{base}/sweeps/{sweep_id}/runs/gpt5/balanced", repeat)
            print(f"slider move, input to page redrawn:      median {_ms([t[0] for t in trips])}  (goal < 200 ms)")
            print(f"slider move, input to the frame after:   median {_ms([t[1] for t in trips])}")
        else:
            print(f"slider move in the browser: not measured ({CHROMIUM} is missing)")
    finally:
        server.stop()


def _browser_trips(url: str, repeat: int) -> list[tuple[float, float]]:
    """In the page: set the cost slider, fire its input event, wait for the redrawn table; the
    seconds to the next animation frame and to the one after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator("body[data-ready=true]").wait_for()
        trips = []
        for i in range(repeat):
            seconds = page.evaluate("""(i) => new Promise((resolve) => {
                const slider = document.getElementById('max_total_cost');
                const value = Number(slider.min) + (i % 2 ? 0.3 : 0.7) * (Number(slider.max) - Number(slider.min));
                slider.value = String(value);
                const wanted = String(Number(slider.value));
                const start = performance.now();
                new MutationObserver((_, observer) => {
                    if (document.body.dataset.decidedMaxTotalCost === wanted) {
                        observer.disconnect();
                        requestAnimationFrame(() => {
                            const next = (performance.now() - start) / 1000;
                            requestAnimationFrame(() => resolve([next, (performance.now() - start) / 1000]));
                        });
                    }
                }).observe(document.body, { attributes: true });
                slider.dispatchEvent(new Event('input'));
            })""", i)
            trips.append(tuple(seconds))
        browser.close()
    return trips


def _ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):6.1f} ms (min {1000 * min(seconds):.1f}, n={len(seconds)})"


if __name__ == "__main__":
    main()
