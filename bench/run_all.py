"""Run every benchmark that is available, with sane defaults, and print their figures.

Usage (from the repository root)::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/run_all.py            # full: 200 feeds, 3 rounds (several minutes)
    .venv/bin/python bench/run_all.py --quick    # smoke run: 40 feeds, 1 round (under a minute)

Each benchmark runs as its own child process (a fresh interpreter: no warm caches
or leftover memory from the previous one) with a time limit. Raw figures are also
written as JSON under ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DIR, RESULTS_DIR

# Generous bounds: a full aggregate run on a busy 2-core machine takes ~5 minutes.
TIME_LIMIT = {"aggregate.py": 3600, "merge_write.py": 1800, "build_speed.py": 900}


def _argv(script: str, quick: bool, stamp: str) -> list[str]:
    argv = [sys.executable, str(BENCH_DIR / script)]
    if quick:
        argv.append("--quick")
    suffix = "-quick" if quick else ""
    return [*argv, "--json", str(RESULTS_DIR / f"{stamp}-{Path(script).stem}{suffix}.json")]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks in turn; exit non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus, one round")
    parser.add_argument(
        "--only", choices=sorted(TIME_LIMIT), action="append", help="run only this script"
    )
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    failed = []
    for script in args.only or list(TIME_LIMIT):
        if not (BENCH_DIR / script).exists():
            print(f"== {script}: not present, skipped", flush=True)
            continue
        command = _argv(script, args.quick, stamp)
        print(f"== {' '.join(Path(a).name if a == sys.executable else a for a in command)}")
        started = time.perf_counter()
        try:
            code = subprocess.run(command, timeout=TIME_LIMIT[script], check=False).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"== {script}: stopped after {TIME_LIMIT[script]} s", flush=True)
        print(f"== {script}: exit {code}, {time.perf_counter() - started:.0f} s\n", flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
