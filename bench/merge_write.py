"""Merge 20,000 entries and write 10,000 entries in each format: time and peak memory.

Inputs are built in memory from a seed (no network, no files): 100 sources of
200 entries, a third in Chinese, 5 % undated, 5 % wire stories carried by several
sources (same id and link) and 2 % near-copies (same story, new link, retouched
title) for title deduplication to find.

Cases (each line: median wall time over the rounds, ratio to the section's baseline,
peak memory, output size):

* ``merge``: ``dict+sorted`` (the floor: drop repeated ids and links with two
  dicts, sort by date) vs ``feedloom.merge.merge`` with id/link dedupe, and with
  ``dedupe_titles=True``.
* ``write rss`` / ``write atom``: a plain feedgen script (what one writes by hand:
  ``FeedGenerator``, ``add_entry(order="append")`` per entry, ``rss_str()``) vs
  ``Feed.to_rss()`` / ``Feed.to_atom()``.
* ``write json``: ``json.dumps`` of a hand-built JSON Feed dict vs ``Feed.to_json()``.

Peak memory is measured in a child process per case, after its inputs are built:
``rss`` is the growth of the process's peak resident set (``getrusage``; includes
lxml's C allocations), ``py`` the peak of Python allocations (``tracemalloc``).

Usage::

    python bench/merge_write.py [--entries 20000] [--write-entries 10000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gen_corpus
from common import DEFAULT_SEED, environment_line, fmt_bytes, fmt_s, median, timed, write_json
from feedloom.model import Author, Entry, Feed, FeedMeta, SourceRef

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
GROUPS = 100
SHARE_CHINESE = 0.33
SHARE_UNDATED = 0.05
SHARE_SHARED = 0.05
SHARE_NEAR_COPY = 0.02
_CHILD_TIMEOUT = 600


class Unavailable(Exception):
    """A case cannot run here (feedloom part not importable yet)."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """What every case works on."""

    groups: list[list[Entry]]
    write_entries: list[Entry]
    meta: FeedMeta


def _entry(rng: random.Random, source: SourceRef, n: int, zh: bool) -> Entry:
    date = NOW - timedelta(minutes=rng.randrange(60 * 24 * 30))
    budget = int(min(rng.lognormvariate(6.5, 0.8), 20_000))
    return Entry(
        id=f"tag:{source.id},2024:{n}",
        title=gen_corpus.headline(rng, zh),
        link=f"{source.link}{n}.html",
        summary=gen_corpus.sentence(rng, zh),
        content=gen_corpus.html_body(rng, zh, budget, hostile=False),
        published=None if rng.random() < SHARE_UNDATED else date,
        updated=None,
        authors=(Author(name=gen_corpus.headline(rng, False)[:30]),),
        categories=tuple(rng.sample(["world", "tech", "经济", "体育", "science"], 2)),
        source=source,
    )


def make_inputs(entries: int, write_entries: int, seed: int) -> Inputs:
    """Build the merge groups (``entries`` in all) and the entries to write."""
    rng = random.Random(seed)
    sources = [
        SourceRef(
            id=f"s{g:03d}.example.com",
            title=f"Source {g}",
            url=f"https://s{g:03d}.example.com/feed.xml",
            link=f"https://s{g:03d}.example.com/",
        )
        for g in range(GROUPS)
    ]
    wire = SourceRef(id="wire.example.net", title="Wire", link="https://wire.example.net/")
    pool = [
        _entry(rng, wire, n, rng.random() < SHARE_CHINESE) for n in range(max(10, entries // 40))
    ]
    groups: list[list[Entry]] = [[] for _ in range(GROUPS)]
    for n in range(entries):
        g = n % GROUPS
        roll = rng.random()
        if roll < SHARE_SHARED:
            entry = rng.choice(pool).evolve(source=sources[g])
            if any(e.id == entry.id for e in groups[g]):
                entry = _entry(rng, sources[g], n, False)
        elif roll < SHARE_SHARED + SHARE_NEAR_COPY:
            original = rng.choice(pool)
            entry = original.evolve(
                id=f"tag:{sources[g].id},2024:{n}",
                link=f"{sources[g].link}{n}.html",
                title=original.title + "！" if rng.random() < 0.5 else original.title.upper(),
                source=sources[g],
            )
        else:
            entry = _entry(rng, sources[g], n, rng.random() < SHARE_CHINESE)
        groups[g].append(entry)
    meta = FeedMeta(
        id="https://bench.example.org/",
        title="feedloom benchmark 基准",
        link="https://bench.example.org/",
        description="merged benchmark feed",
        self_urls={"rss": "https://bench.example.org/feed.xml"},
    )
    return Inputs(groups, plain_merge(groups)[:write_entries], meta)


# --- merge cases ------------------------------------------------------------------


def plain_merge(groups: list[list[Entry]]) -> list[Entry]:
    """The floor: first entry per id and per link wins, newest first, undated last."""
    by_id: dict[str, Entry] = {}
    links: set[str] = set()
    for group in groups:
        for entry in group:
            if entry.id in by_id or (entry.link and entry.link in links):
                continue
            by_id[entry.id] = entry
            if entry.link:
                links.add(entry.link)
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(by_id.values(), key=lambda e: e.date or epoch, reverse=True)


def _feedloom_merge(dedupe_titles: bool) -> Callable[[Inputs], Callable[[], Any]]:
    def make(inputs: Inputs) -> Callable[[], Any]:
        try:
            from feedloom.merge import MergeOptions, merge
        except ImportError as exc:
            raise Unavailable(str(exc)) from exc
        options = MergeOptions(dedupe_titles=dedupe_titles)
        return lambda: merge(inputs.groups, now=NOW, options=options)

    return make


# --- write cases ------------------------------------------------------------------


def feedgen_script(meta: FeedMeta, entries: list[Entry], fmt: str) -> bytes:
    """RSS or Atom the way a plain feedgen script writes it."""
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id(meta.id)
    fg.title(meta.title)
    fg.link(href=meta.link, rel="alternate")
    fg.description(meta.description)
    fg.language(meta.language)
    dates = [e.date for e in entries if e.date]
    fg.updated(max(dates) if dates else NOW)
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e.id)
        fe.title(e.title)
        if e.link:
            fe.link(href=e.link)
        if fmt == "rss":
            fe.description(e.summary or e.title)
            if e.content:
                fe.content(e.content, type="CDATA")
        else:
            if e.summary:
                fe.summary(e.summary)
            if e.content:
                fe.content(e.content, type="html")
        when = e.date or NOW
        fe.published(when)
        fe.updated(e.updated or when)
        for a in e.authors:
            fe.author(name=a.name)
        for c in e.categories:
            fe.category(term=c)
    data: bytes = fg.rss_str() if fmt == "rss" else fg.atom_str()
    return data


def plain_json(meta: FeedMeta, entries: list[Entry]) -> bytes:
    """JSON Feed 1.1 the way one writes it with ``json.dumps``."""
    items = []
    for e in entries:
        item: dict[str, Any] = {"id": e.id, "url": e.link, "title": e.title}
        if e.content:
            item["content_html"] = e.content
        if e.summary:
            item["summary"] = e.summary
        if e.date:
            item["date_published"] = e.date.isoformat()
        item["authors"] = [{"name": a.name} for a in e.authors]
        item["tags"] = list(e.categories)
        items.append(item)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": meta.link,
        "items": items,
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _feedgen_write(fmt: str) -> Callable[[Inputs], Callable[[], Any]]:
    return lambda inputs: lambda: feedgen_script(inputs.meta, inputs.write_entries, fmt)


def _feedloom_write(fmt: str) -> Callable[[Inputs], Callable[[], Any]]:
    def make(inputs: Inputs) -> Callable[[], Any]:
        feed = Feed(meta=inputs.meta, entries=inputs.write_entries)
        try:
            from feedloom.writers import render
        except ImportError as exc:
            raise Unavailable(str(exc)) from exc
        return lambda: render(feed, fmt)

    return make


@dataclass(frozen=True, slots=True)
class Case:
    """One measured operation; the first case of a section is its baseline."""

    section: str
    name: str
    make: Callable[[Inputs], Callable[[], Any]]

    @property
    def key(self) -> str:
        return f"{self.section}/{self.name}"


CASES: tuple[Case, ...] = (
    Case("merge", "dict+sorted", lambda i: lambda: plain_merge(i.groups)),
    Case("merge", "feedloom", _feedloom_merge(dedupe_titles=False)),
    Case("merge", "feedloom+titles", _feedloom_merge(dedupe_titles=True)),
    Case("write rss", "feedgen", _feedgen_write("rss")),
    Case("write rss", "feedloom", _feedloom_write("rss")),
    Case("write atom", "feedgen", _feedgen_write("atom")),
    Case("write atom", "feedloom", _feedloom_write("atom")),
    Case("write json", "json.dumps", lambda i: lambda: plain_json(i.meta, i.write_entries)),
    Case("write json", "feedloom", _feedloom_write("json")),
)


def _describe(result: Any) -> str:
    if isinstance(result, bytes):
        return f"out {fmt_bytes(len(result))}"
    if isinstance(result, list):
        return f"out {len(result)} entries"
    return ""


# --- memory, in a child process ---------------------------------------------------


def _maxrss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def _current_rss() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * resource.getpagesize()


class _RssSampler:
    """Samples the resident set size every millisecond while in the ``with`` block.

    The process's high-water mark (``ru_maxrss``) cannot be reset, and building the
    inputs may already have set it; sampling the current RSS measures this run alone.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, _current_rss() or 0)

    def __enter__(self) -> _RssSampler:
        self.peak = _current_rss() or 0
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, _current_rss() or 0)


def measure_memory(case: Case, inputs: Inputs) -> dict[str, Any]:
    """Peak RSS growth and peak Python allocations of one run of ``case``.

    Without ``/proc`` (not Linux) the RSS figure is the growth of the process's
    high-water mark instead, which misses any peak below the one building the
    inputs reached; it is then flagged ``rss_bound`` and printed as ``>=``.
    """
    fn = case.make(inputs)
    gc.collect()
    before = _current_rss()
    if before is not None:
        with _RssSampler() as sampler:
            fn()
        rss, bound = sampler.peak - before, False
    else:
        high_before = _maxrss()
        fn()
        rss, bound = _maxrss() - high_before, True
    gc.collect()
    tracemalloc.start()
    fn()
    py_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rss": max(rss, 0), "rss_bound": bound, "py": py_peak}


def _memory_in_child(case: Case, args: argparse.Namespace) -> dict[str, Any] | str:
    argv = [sys.executable, str(Path(__file__).resolve()), "--memory-case", case.key]
    argv += ["--entries", str(args.entries), "--write-entries", str(args.write_entries)]
    argv += ["--seed", str(args.seed)]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=_CHILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return f"memory run timed out after {_CHILD_TIMEOUT} s"
    if proc.returncode:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _fmt_memory(mem: dict[str, Any] | str | None) -> str:
    if mem is None:
        return ""
    if isinstance(mem, str):
        return f"  peak ? ({mem})"
    rss = (">=" if mem["rss_bound"] else "+") + fmt_bytes(mem["rss"])
    return f"  peak rss {rss}, py {fmt_bytes(mem['py'])}"


# --- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000, help="entries to merge")
    parser.add_argument("--write-entries", type=int, default=10_000, help="entries to write")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per case (3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="input seed")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--quick", action="store_true", help="5,000 / 2,500 entries, 1 round")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.write_entries, args.rounds = 5_000, 2_500, 1
    if min(args.entries, args.write_entries, args.rounds) < 1:
        parser.error("--entries, --write-entries and --rounds must be at least 1")

    inputs = make_inputs(args.entries, args.write_entries, args.seed)
    if args.memory_case:
        case = next(c for c in CASES if c.key == args.memory_case)
        print(json.dumps(measure_memory(case, inputs)))
        return 0

    print(environment_line())
    print(
        f"merge_write: {args.entries} entries in {GROUPS} sources to merge, "
        f"{len(inputs.write_entries)} to write, {args.rounds} round(s), seed {args.seed}"
    )
    lines: list[str] = []
    raw: dict[str, Any] = {}
    baselines: dict[str, float] = {}
    width = max(len(c.name) for c in CASES)
    for case in CASES:
        label = f"{case.section:10}  {case.name:{width}}"
        try:
            fn = case.make(inputs)
        except Unavailable as exc:
            lines.append(f"{label}  not available ({exc})")
            print(lines[-1], flush=True)
            continue
        samples = []
        result: Any = None
        for _ in range(args.rounds):
            result = None  # keep at most one output alive while timing
            result, sample = timed(fn)
            samples.append(sample.wall)
        wall = median(samples)
        baselines.setdefault(case.section, wall)
        ratio = wall / baselines[case.section]
        mem = None if args.no_memory else _memory_in_child(case, args)
        lines.append(
            f"{label}  median {fmt_s(wall):>7}  ({ratio:.2f}x)  "
            f"runs {'/'.join(f'{s:.3g}' for s in samples)}  {_describe(result)}{_fmt_memory(mem)}"
        )
        raw[case.key] = {"runs": samples, "median": wall, "ratio": ratio, "memory": mem}
        del result
        print(lines[-1], flush=True)
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        payload = {"environment": environment_line(), "args": settings, "cases": raw}
        write_json(args.json, payload | {"lines": lines})
    return 0


if __name__ == "__main__":
    sys.exit(main())
