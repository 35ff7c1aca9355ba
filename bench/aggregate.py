"""Aggregate N feeds over loopback HTTP with latency: feedloom against the usual ways.

All contenders run in ONE process run, against the same server and corpus, with
their rounds interleaved (and their order rotated each round), so machine noise
hits them alike. Each round gives every contender fresh state (new HTTP session,
new database) and times two passes:

* **first pass** - cold: no validators, every feed is downloaded and parsed;
* **304 pass** - the same feeds again with the validators of the first pass;
  the server answers every request with ``304 Not Modified``.

Contenders:

* ``fetch-only`` - ``requests.Session`` in a 16-thread pool, bodies downloaded and
  dropped; its 304 pass sends ``If-None-Match``/``If-Modified-Since``. The floor.
* ``requests+feedparser`` - what one writes by hand: the same pool, each worker
  downloads and runs ``feedparser.parse(body, response_headers=...)``; the 304 pass
  skips parsing on 304.
* ``reader`` - the reader library: ``make_reader(tmp db)``, ``add_feed`` per URL
  (untimed setup), ``update_feeds(workers=16, scheduled=False)``. It also stores
  every entry in SQLite, which the others don't.
* ``feedloom`` - ``feedloom.fetch.Fetcher.iter_many``, with ``feedloom.parse.parse_bytes``
  in the calling thread as each body arrives (as ``feedloom build`` does). Skipped,
  with the reason, if not importable.

Each line gives the median wall time over the rounds, its ratio to fetch-only of the
same pass, the CPU seconds of this process, and what the server answered (status
counts), so a pass that did not do what it claims is visible. The server runs in a
child process so its CPU and GIL are not charged to the contenders.

Usage::

    python bench/aggregate.py [--feeds 200] [--rounds 3] [--latency-ms 50] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

import gen_corpus
import server
from common import (
    DEFAULT_CORPUS,
    DEFAULT_SEED,
    Manifest,
    Sample,
    ensure_corpus,
    environment_line,
    fmt_s,
    median,
    timed,
    write_json,
)

PASSES = ("first-pass", "304-pass")
WORKERS = 16
# (connect, read) seconds: generous for a loaded 2-core machine, but bounded.
TIMEOUT = (10.0, 60.0)


class Unavailable(Exception):
    """A contender cannot run here (library missing, interface not there yet)."""


@dataclass(slots=True)
class PassResult:
    """What one timed pass did, checked against the corpus and the server's counters."""

    sample: Sample
    entries: int | None = None
    bytes: int = 0
    errors: int = 0
    http: dict[str, int] = field(default_factory=dict)
    detail: str = ""


class Contender:
    """Base of the contenders: fresh state per round, then two timed passes."""

    name: str = "?"

    def __init__(self, urls: list[str], workers: int) -> None:
        self.urls = urls
        self.workers = workers

    def setup(self) -> None:
        """Create fresh state for a round (untimed)."""

    def first_pass(self) -> PassResult:
        """Cold pass: no validators."""
        raise NotImplementedError

    def second_pass(self) -> PassResult:
        """Revalidation pass with the first pass's validators."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Release the round's state (untimed)."""


def _session(workers: int) -> requests.Session:
    session = requests.Session()
    # One pooled connection per worker: the default pool of 10 would make 6 of the
    # 16 threads open and drop a connection on every request.
    adapter = HTTPAdapter(pool_maxsize=workers)
    session.mount("http://", adapter)
    return session


def _conditional_headers(response: requests.Response) -> dict[str, str]:
    headers = {}
    if etag := response.headers.get("ETag"):
        headers["If-None-Match"] = etag
    if last_modified := response.headers.get("Last-Modified"):
        headers["If-Modified-Since"] = last_modified
    return headers


class FetchOnly(Contender):
    """Download the bodies and nothing else: the floor every contender is measured against."""

    name = "fetch-only"

    def setup(self) -> None:
        self.session = _session(self.workers)
        self.validators: dict[str, dict[str, str]] = {}

    def _get(self, url: str) -> requests.Response:
        response = self.session.get(url, headers=self.validators.get(url), timeout=TIMEOUT)
        response.raise_for_status()
        return response

    def _run(self) -> tuple[list[requests.Response], Sample]:
        with ThreadPoolExecutor(self.workers) as pool:
            responses, sample = timed(lambda: list(pool.map(self._get, self.urls)))
        return responses, sample

    def first_pass(self) -> PassResult:
        responses, sample = self._run()
        self.validators = {r.url: _conditional_headers(r) for r in responses}
        return PassResult(sample, bytes=sum(len(r.content) for r in responses))

    def second_pass(self) -> PassResult:
        responses, sample = self._run()
        return PassResult(sample, bytes=sum(len(r.content) for r in responses))

    def teardown(self) -> None:
        self.session.close()


class RequestsFeedparser(Contender):
    """Hand-written aggregation: a thread pool where each worker downloads and parses."""

    name = "requests+feedparser"

    def setup(self) -> None:
        import feedparser

        self.parse = feedparser.parse
        self.session = _session(self.workers)
        self.validators: dict[str, dict[str, str]] = {}

    def _job(self, url: str) -> tuple[str, dict[str, str], int | None]:
        response = self.session.get(url, headers=self.validators.get(url), timeout=TIMEOUT)
        if response.status_code == 304:
            return url, self.validators[url], None
        response.raise_for_status()
        headers = dict(response.headers)
        # requests has already decoded any Content-Encoding; feedparser must not again.
        headers.pop("Content-Encoding", None)
        headers["Content-Location"] = response.url
        parsed = self.parse(response.content, response_headers=headers)
        return url, _conditional_headers(response), len(parsed.entries)

    def _run(self) -> PassResult:
        with ThreadPoolExecutor(self.workers) as pool:
            results, sample = timed(lambda: list(pool.map(self._job, self.urls)))
        self.validators = {url: validators for url, validators, _ in results}
        return PassResult(sample, entries=sum(n or 0 for _, _, n in results))

    def first_pass(self) -> PassResult:
        return self._run()

    def second_pass(self) -> PassResult:
        return self._run()

    def teardown(self) -> None:
        self.session.close()


class Reader(Contender):
    """The reader library, configured as its docs suggest for many feeds."""

    name = "reader"

    def setup(self) -> None:
        try:
            from reader import make_reader
        except ImportError as exc:
            raise Unavailable(f"{exc}; pip install -e '.[bench]'") from exc
        self.tmp = Path(tempfile.mkdtemp(prefix="feedloom-bench-reader-"))
        self.reader = make_reader(str(self.tmp / "db.sqlite"))
        for url in self.urls:
            self.reader.add_feed(url)

    def _run(self) -> PassResult:
        # scheduled=False: both passes must really visit every feed, whatever
        # reader's update interval says about the second one.
        _, sample = timed(lambda: self.reader.update_feeds(workers=self.workers, scheduled=False))
        entries = self.reader.get_entry_counts().total
        broken = sum(1 for _ in self.reader.get_feeds(broken=True))
        return PassResult(sample, entries=entries, errors=broken)

    def first_pass(self) -> PassResult:
        return self._run()

    def second_pass(self) -> PassResult:
        return self._run()

    def teardown(self) -> None:
        self.reader.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Feedloom(Contender):
    """feedloom's own fetcher and parser, in the shape ``feedloom build`` uses them.

    Fetching runs on the fetcher's threads; parsing runs in the calling thread as
    each body arrives (parsing is CPU-bound and holds the GIL, so more parsing
    threads only add contention).
    """

    name = "feedloom"

    def setup(self) -> None:
        try:
            from feedloom.fetch import Fetcher, Limits
            from feedloom.parse import parse_bytes
        except ImportError as exc:
            raise Unavailable(str(exc)) from exc
        self.parse_bytes = parse_bytes
        # The same number of fetch threads as the others; per-host politeness as shipped.
        self.fetcher = Fetcher(Limits(workers=self.workers))
        self.states: list[Any] = [None] * len(self.urls)
        self.now = datetime.now(UTC)

    def _run(self, now: datetime) -> PassResult:
        jobs = list(zip(self.urls, self.states, strict=True))
        kinds: dict[str, int] = {}
        parse_time: list[float] = []

        def work() -> int:
            # As sources/remote.py does: parse each body in this thread as soon as its
            # fetch completes, while the fetch threads keep downloading.
            entries = 0
            spent = 0.0
            states = list(self.states)
            for index, outcome in self.fetcher.iter_many(jobs, now=now):
                kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1
                states[index] = outcome.state
                if outcome.kind == "fetched":
                    started = time.perf_counter()
                    entries += self._parse(outcome.result)
                    spent += time.perf_counter() - started
            self.states = states
            parse_time.append(spent)
            return entries

        entries, sample = timed(work)
        detail = "outcomes " + " ".join(f"{k}x{v}" for k, v in sorted(kinds.items()))
        detail += f"  (parse {fmt_s(parse_time[0])}, overlapping the fetches)"
        return PassResult(sample, entries=entries, errors=kinds.get("failed", 0), detail=detail)

    def _parse(self, result: Any) -> int:
        headers = dict(result.headers) if getattr(result, "headers", None) else None
        parsed = self.parse_bytes(result.body, url=result.final_url, headers=headers)
        return len(parsed.entries)

    def first_pass(self) -> PassResult:
        return self._run(self.now)

    def second_pass(self) -> PassResult:
        # A day later, so no politeness schedule (the state's next_fetch) can skip a
        # feed: this pass is meant to measure revalidation of every feed.
        return self._run(self.now + timedelta(days=1))

    def teardown(self) -> None:
        self.fetcher.close()


CONTENDERS: tuple[type[Contender], ...] = (FetchOnly, RequestsFeedparser, Reader, Feedloom)


@dataclass(slots=True)
class Record:
    """Every pass of one contender over all rounds."""

    name: str
    passes: dict[str, list[PassResult]] = field(default_factory=lambda: {p: [] for p in PASSES})
    unavailable: str | None = None


def _rotated(items: list[Contender], k: int) -> Iterator[Contender]:
    k %= len(items)
    yield from items[k:] + items[:k]


def _stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in ("200", "304", "404")}


def run(
    manifest: Manifest,
    base_urls: list[str],
    *,
    rounds: int,
    workers: int,
    only: set[str] | None = None,
) -> list[Record]:
    """Run every contender ``rounds`` times; return their records (unavailable ones marked)."""
    urls = manifest.urls(base_urls)
    stats_url = base_urls[0]
    contenders = [c(urls, workers) for c in CONTENDERS if only is None or c.name in only]
    records = {c.name: Record(c.name) for c in contenders}

    # One unmeasured pass warms the server, the connection code paths and imports.
    warm = FetchOnly(urls, workers)
    warm.setup()
    warm.first_pass()
    warm.teardown()

    for round_no in range(rounds):
        for contender in _rotated(contenders, round_no):
            record = records[contender.name]
            if record.unavailable:
                continue
            try:
                contender.setup()
            except Unavailable as exc:
                record.unavailable = str(exc)
                print(f"{contender.name}: not available ({exc})", flush=True)
                continue
            try:
                for phase, method in zip(
                    PASSES, (contender.first_pass, contender.second_pass), strict=True
                ):
                    before = server.fetch_stats(stats_url)
                    result = method()
                    result.http.update(_stats_delta(before, server.fetch_stats(stats_url)))
                    record.passes[phase].append(result)
            except Exception as exc:  # one broken contender must not lose the others' figures
                record.unavailable = f"failed: {type(exc).__name__}: {exc}"
                print(f"{contender.name}: {record.unavailable}", flush=True)
            finally:
                contender.teardown()
        print(f"round {round_no + 1}/{rounds} done", file=sys.stderr, flush=True)
    return list(records.values())


def _check(result: PassResult, phase: str, manifest: Manifest, name: str) -> str:
    """Empty if the pass did what it claims, else a short note why not."""
    notes = []
    want = {"first-pass": ("200", manifest.feeds), "304-pass": ("304", manifest.feeds)}[phase]
    if result.http.get(want[0]) != want[1]:
        notes.append(f"expected {want[1]} x {want[0]}")
    # feedparser and feedloom count what they parsed in this pass (nothing on a 304),
    # reader counts what it has stored.
    parsed_none_on_304 = phase == "304-pass" and name != "reader" and result.entries == 0
    if result.entries not in (None, manifest.entries_total) and not parsed_none_on_304:
        notes.append(f"expected {manifest.entries_total} entries")
    if result.errors:
        notes.append(f"{result.errors} feeds failed")
    return "  !! " + "; ".join(notes) if notes else ""


def report(records: list[Record], manifest: Manifest) -> list[str]:
    """The figure lines: one per contender and pass, then a summary line."""
    lines = []
    floor = {p: _median_wall(records, "fetch-only", p) for p in PASSES}
    width = max(len(r.name) for r in records)
    for phase in PASSES:
        for record in records:
            results = record.passes[phase]
            if not results:
                why = record.unavailable or "no result"
                lines.append(f"aggregate {phase:10}  {record.name:{width}}  not available ({why})")
                continue
            wall = median([r.sample.wall for r in results])
            cpu = median([r.sample.cpu for r in results])
            base = floor[phase]
            ratio = f"({wall / base:.2f}x)" if base else "(-)"
            spread = "/".join(f"{r.sample.wall:.2f}" for r in results)
            last = results[-1]
            http = " ".join(f"{k}x{v}" for k, v in last.http.items() if v)
            entries = "" if last.entries is None else f"  entries {last.entries}"
            detail = f"  {last.detail}" if last.detail else ""
            lines.append(
                f"aggregate {phase:10}  {record.name:{width}}  median {fmt_s(wall):>7}  "
                f"{ratio:>8}  cpu {fmt_s(cpu):>7}  runs {spread}  http {http}{entries}{detail}"
                + _check(last, phase, manifest, record.name)
            )
    lines.append(_summary(records, floor))
    return lines


def _median_wall(records: list[Record], name: str, phase: str) -> float | None:
    for record in records:
        if record.name == name and record.passes[phase]:
            return median([r.sample.wall for r in record.passes[phase]])
    return None


def _summary(records: list[Record], floor: dict[str, float | None]) -> str:
    parts = []
    for phase in PASSES:
        base = floor[phase]
        ratios = []
        for record in records:
            wall = _median_wall(records, record.name, phase)
            if record.name == "fetch-only" or wall is None or not base:
                continue
            ratios.append(f"{record.name} {wall / base:.1f}x")
        if base:
            parts.append(f"{phase} vs fetch-only {fmt_s(base)}: " + (", ".join(ratios) or "-"))
    text = "aggregate summary  " + "; ".join(parts)
    feedloom = {p: _median_wall(records, "feedloom", p) for p in PASSES}
    for phase in PASSES:
        mine = feedloom[phase]
        if mine is None:
            continue
        others = []
        for other in ("requests+feedparser", "reader"):
            theirs = _median_wall(records, other, phase)
            if theirs:
                ratio = theirs / mine
                if abs(ratio - 1) < 0.05:
                    others.append(f"as fast as {other}")
                elif ratio > 1:
                    others.append(f"{ratio:.1f}x faster than {other}")
                else:
                    others.append(f"{1 / ratio:.1f}x slower than {other}")
        if others:
            text += f"; feedloom {phase}: " + ", ".join(others)
    if feedloom["first-pass"] is None:
        text += "; feedloom not measured"
    return text


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200, help="feeds in the corpus (200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per contender (3)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="server delay (50)")
    parser.add_argument("--workers", type=int, default=WORKERS, help="fetch threads (16)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument(
        "--only", help="comma-separated contenders, e.g. fetch-only,reader (default: all)"
    )
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the server in a child process (default) or a thread of this one",
    )
    parser.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="distinct loopback hosts the feeds are spread over (default: one per feed, max 250)",
    )
    parser.add_argument("--no-gzip", action="store_true", help="server never gzips")
    parser.add_argument("--quick", action="store_true", help="40 feeds, 1 round")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.feeds, args.rounds = 40, 1
        if args.corpus == DEFAULT_CORPUS:
            args.corpus = DEFAULT_CORPUS.with_name(".corpus-quick")
    if args.rounds < 1 or args.feeds < 1 or args.workers < 1:
        parser.error("--rounds, --feeds and --workers must be at least 1")
    only = {name.strip() for name in args.only.split(",")} if args.only else None
    known = {c.name for c in CONTENDERS}
    if only and not only <= known:
        parser.error(f"unknown contender(s) {sorted(only - known)}; known: {sorted(known)}")

    hosts = min(args.hosts or args.feeds, 250)
    manifest = ensure_corpus(args.corpus, feeds=args.feeds, seed=args.seed)
    serve: Callable[..., AbstractContextManager[list[str]]] = (
        server.serve_in_process if args.server == "process" else server.serve_in_thread
    )
    print(environment_line())
    print(gen_corpus.describe(manifest))
    print(
        f"aggregate: {args.rounds} round(s), {args.workers} fetch threads, "
        f"latency {args.latency_ms:g} ms, {hosts} host(s), gzip {'off' if args.no_gzip else 'on'}, "
        f"server in a {args.server}"
    )
    latency = args.latency_ms / 1000
    with serve(args.corpus, latency=latency, hosts=hosts, use_gzip=not args.no_gzip) as base_urls:
        records = run(manifest, base_urls, rounds=args.rounds, workers=args.workers, only=only)
    lines = report(records, manifest)
    print("\n".join(lines), flush=True)
    if args.json:
        write_json(
            args.json,
            {
                "environment": environment_line(),
                "corpus": gen_corpus.describe(manifest),
                "args": {k: str(v) for k, v in vars(args).items()},
                "records": [asdict(r) for r in records],
                "lines": lines,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
