"""Load test of ``feedloom serve``: many concurrent readers polling the built feeds.

Builds the shipped example (``feeds/`` + ``sources/``) in a temporary folder, starts a
real ``feedloom serve`` on 127.0.0.1 (a free port), and sends ``--requests`` requests
from ``--clients`` threads, each with its own ``requests.Session`` (keep-alive). The
requests are an even, seeded mix of what feed readers send:

* ``plain``: ``Accept-Encoding: identity``; expects 200 and exactly the file's bytes;
* ``gzip``: ``Accept-Encoding: gzip``; expects 200, ``Content-Encoding: gzip`` and,
  once decoded, the file's bytes;
* ``conditional``: ``If-None-Match`` with the ETag of the identity or gzip variant
  (fetched before the clock starts); expects 304 and no body.

Anything else (another status, a wrong body, a connection error) counts as an error,
and the script exits 1 if there was any. It prints p50/p99 latency and requests/s::

    .venv/bin/python bench/serve_load.py                  # 2000 requests, 50 clients
    .venv/bin/python bench/serve_load.py --requests 200 --clients 10

Only loopback traffic: the server binds 127.0.0.1 and every URL points there.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("plain", "gzip", "conditional")
EXPECTED_STATUS = {"plain": 200, "gzip": 200, "conditional": 304}
# What `feedloom build` writes for the shipped example, all of it served.
DEFAULT_FILES = (
    "index.html",
    "news.xml",
    "news.atom",
    "news.json",
    "news.html",
    "merged.xml",
    "merged.atom",
    "merged.json",
    "merged.html",
)


@dataclass
class LoadResult:
    """What a load run saw: per-request latencies (seconds), statuses and errors."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        """Requests that got an answer (any status)."""
        return len(self.latencies)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in seconds (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
        return ordered[rank - 1]

    @property
    def rate(self) -> float:
        """Answered requests per second of wall time."""
        return self.count / self.elapsed if self.elapsed > 0 else float("nan")

    def summary(self) -> str:
        """One line for people."""
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.count} requests in {self.elapsed:.2f} s: {self.rate:.0f} req/s, "
            f"p50 {self.percentile(50) * 1000:.1f} ms, p99 {self.percentile(99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(self.latencies) * 1000 if self.latencies else 0:.1f} ms; "
            f"{statuses}; errors: {len(self.errors)}"
        )


def _etags(base_url: str, files: Sequence[str]) -> dict[tuple[str, str], str]:
    """ETag of each (file, identity|gzip) variant, read before the clock starts."""
    etags = {}
    with requests.Session() as session:
        for name in files:
            for coding in ("identity", "gzip"):
                r = session.get(base_url + name, headers={"Accept-Encoding": coding}, timeout=10)
                r.raise_for_status()
                etags[name, coding] = r.headers["ETag"]
    return etags


def run_load(
    base_url: str,
    files: Sequence[str],
    expected: dict[str, bytes],
    *,
    total: int,
    clients: int,
    seed: int = 1,
    timeout: float = 10.0,
) -> LoadResult:
    """Send ``total`` requests from ``clients`` threads to ``base_url`` (ending in ``/``).

    ``expected`` maps each file name to its bytes, to check every 200's body.
    """
    etags = _etags(base_url, files)
    rng = random.Random(seed)
    plan = [(rng.choice(files), KINDS[i % len(KINDS)], rng.random() < 0.5) for i in range(total)]
    result = LoadResult()
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(mine: list[tuple[str, str, bool]]) -> None:
        latencies, statuses, errors = [], Counter[str](), []
        with requests.Session() as session:
            start.wait()
            for name, kind, gzip_etag in mine:
                headers = {"Accept-Encoding": "gzip" if kind == "gzip" else "identity"}
                if kind == "conditional":
                    coding = "gzip" if gzip_etag else "identity"
                    headers = {"Accept-Encoding": coding, "If-None-Match": etags[name, coding]}
                began = time.perf_counter()
                try:
                    r = session.get(base_url + name, headers=headers, timeout=timeout)
                    body = r.content
                except requests.RequestException as exc:
                    errors.append(f"{kind} {name}: {type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - began)
                statuses[str(r.status_code)] += 1
                problem = _check(kind, r, body, expected.get(name))
                if problem:
                    errors.append(f"{kind} {name}: {problem}")
        with lock:
            result.latencies += latencies
            result.statuses.update(statuses)
            result.errors += errors

    shares = [plan[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - began
    return result


def _check(kind: str, r: requests.Response, body: bytes, expected: bytes | None) -> str | None:
    if r.status_code != EXPECTED_STATUS[kind]:
        return f"HTTP {r.status_code}, expected {EXPECTED_STATUS[kind]}"
    if kind == "conditional":
        return f"a 304 with a {len(body)}-byte body" if body else None
    encoding = r.headers.get("Content-Encoding")
    if (kind == "gzip") != (encoding == "gzip"):
        return f"Content-Encoding {encoding!r} for a {kind} request"
    if expected is not None and body != expected:
        return f"body of {len(body)} bytes differs from the file ({len(expected)} bytes)"
    return None


@contextmanager
def serving(output_dir: Path, feeds_dir: Path, log: Path) -> Iterator[str]:
    """Run ``feedloom serve`` on 127.0.0.1 and a free port; yield its base URL."""
    with log.open("wb") as err:
        # The access log goes to a file: an unread pipe would fill up and stall the server.
        proc = subprocess.Popen(
            [sys.executable, "-m", "feedloom", "serve", "--host", "127.0.0.1", "--port", "0",
             "--output", str(output_dir), "--feeds", str(feeds_dir)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            text = log.read_text(encoding="utf-8", errors="replace")
            marker = " on http://127.0.0.1:"
            if marker in text:
                port = text.split(marker, 1)[1].split("/", 1)[0]
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"feedloom serve did not start:\n{text}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_example(folder: Path) -> Path:
    """Copy the shipped feeds/ and sources/ into ``folder`` and build them; return output/."""
    shutil.copytree(REPO_ROOT / "feeds", folder / "feeds")
    shutil.copytree(REPO_ROOT / "sources", folder / "sources")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    proc = subprocess.run(
        [sys.executable, "-m", "feedloom", "build", "--now", "2025-01-02T08:00:00+08:00"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"feedloom build exited {proc.returncode}:\n{proc.stderr}")
    return folder / "output"


def main(argv: Sequence[str] | None = None) -> int:
    """Build, serve, load, print the figures; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="total requests")
    parser.add_argument("--clients", type=int, default=50, help="concurrent client threads")
    parser.add_argument("--seed", type=int, default=20240601, help="seed of the request mix")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="feedloom-serve-load-") as tmp:
        folder = Path(tmp)
        output = build_example(folder)
        files = [f for f in DEFAULT_FILES if (output / f).exists()]
        expected = {f: (output / f).read_bytes() for f in files}
        with serving(output, folder / "feeds", folder / "serve.log") as url:
            result = run_load(
                url, files, expected, total=args.requests, clients=args.clients, seed=args.seed
            )
    print(
        f"feedloom serve: {args.requests} requests, {args.clients} clients, "
        f"{len(files)} files, mix {'/'.join(KINDS)} (seed {args.seed})"
    )
    print(result.summary())
    for error in result.errors[:20]:
        print("  error:", error)
    ok = not result.errors and result.count == args.requests
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
