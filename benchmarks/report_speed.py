"""Size and time of the HTML report of the paper sweep (issue 12: under 1 MB and 10 s).

    python benchmarks/report_speed.py                         # runs examples/paper.yaml first (about a minute)
    python benchmarks/report_speed.py --db sqlite:///paper.db --sweep 1   # an existing paper sweep

Prints the page size and the wall time of each of --repeat builds of the page (data from the
database, every figure drawn, PNGs encoded), their median, and the machine's load average,
since other work on the machine changes the time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database holding a finished paper sweep (default: run one into a temp dir)")
    parser.add_argument("--sweep", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from infscale.reports.html import sweep_report
    from infscale.storage.sql import SqlStore

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = f"sqlite:///{tmp}/paper.db"
            subprocess.run([sys.executable, "-m", "infscale.cli.main", "run", str(ROOT / "examples/paper.yaml"),
                            "--db", db], check=True, stdout=subprocess.DEVNULL)
        store = SqlStore(db)
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            page = sweep_report(store, args.sweep)
            seconds.append(time.perf_counter() - start)
        size = len(page.encode())
    print(f"paper sweep report: {size / 1e6:.2f} MB ({size} bytes), {page.count('<img')} images")
    print(f"build time: median {statistics.median(seconds):.1f} s over {args.repeat} "
          f"({', '.join(f'{s:.1f}' for s in seconds)}); {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
