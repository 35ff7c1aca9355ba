"""Parse-speed benchmark: feedloom's two XML readers against feedparser, fastfeedparser, lxml.

Contenders, each over the real-world corpus (``../shared/corpus/realworld``, XML files)
and the generated corpus (``gen_corpus.py``):

* ``feedloom auto``: :func:`feedloom.parse.parse_bytes` as a build calls it (the lxml
  reader where it can, feedparser otherwise), sanitising included;
* ``feedloom lxml``: the lxml reader forced, over the files it accepts only;
* ``feedloom feedparser``: the feedparser reader forced (the old path);
* ``fastfeedparser``: ``fastfeedparser.parse(bytes)`` (no sanitising), if installed;
* ``feedparser.parse``: plain ``feedparser.parse(BytesIO(bytes))`` with its defaults
  (sanitising and URL resolution on), what a user would write;
* ``lxml floor``: ``lxml.etree.fromstring`` alone, no feed reading at all.

Each figure is the median of ``--runs`` runs (at least 5); ratios are against
``feedparser.parse``, by wall time and by this process's CPU time (steadier when other
work shares the machine). ``--sanitizers`` also times nh3 (what feedloom uses) against
``lxml_html_clean`` on every HTML body of both corpora and checks both on hostile
input; ``--compare-fastfeedparser`` reads every file with fastfeedparser through
feedloom's own normalisation and counts the fields that differ from the feedparser
reader (the differential test of ``tests/test_fastparse.py``); ``--breakdown`` splits
the lxml path's time into lxml's parse, nh3 (sanitising and text) and feedloom's own
Python, the floor being what lxml and nh3 take.

Usage::

    python bench/parse_speed.py [--feeds 60] [--runs 5] [--sanitizers]
        [--compare-fastfeedparser] [--breakdown] [--only-feedloom]
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import DEFAULT_SEED, REPO_ROOT, environment_line, fmt_bytes, fmt_s, median, timed

REALWORLD = REPO_ROOT.parent / "shared" / "corpus" / "realworld"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
Doc = tuple[str, bytes]


def realworld() -> list[Doc]:
    """The XML files of the real-world corpus (JSON Feed has no XML reader to compare)."""
    with (REALWORLD / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        (row["file"], (REALWORLD / row["file"]).read_bytes())
        for row in rows
        if "JSON" not in row["format"]
    ]


def generated(feeds: int, directory: Path) -> list[Doc]:
    import gen_corpus

    gen_corpus.generate(directory, feeds=feeds, seed=DEFAULT_SEED)
    return [(p.name, p.read_bytes()) for p in sorted(directory.glob("feed-*"))]


# --- contenders: each reads every document and returns the entries it found -------------


def feedloom(parser: str | None) -> Callable[[Sequence[Doc]], int]:
    from feedloom.errors import ParseError
    from feedloom.parse import parse_bytes

    def run(docs: Sequence[Doc]) -> int:
        count = 0
        for name, data in docs:
            try:
                feed = parse_bytes(
                    data, url=f"https://bench.example/{name}", now=NOW, _parser=parser
                )
            except ParseError:
                continue
            count += len(feed.entries)
        return count

    return run


def plain_feedparser(docs: Sequence[Doc]) -> int:
    import feedparser

    return sum(len(feedparser.parse(io.BytesIO(data)).entries) for _, data in docs)


def fastfeedparser_run(docs: Sequence[Doc]) -> int:
    import fastfeedparser

    count = 0
    for _, data in docs:
        try:
            count += len(fastfeedparser.parse(data).entries)  # bytes: never a URL
        except Exception:  # noqa: S112 - it raises ValueError and others on bad feeds
            continue
    return count


def lxml_floor(docs: Sequence[Doc]) -> int:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    count = 0
    for _, data in docs:
        try:
            count += len(etree.fromstring(data, parser))  # children of the root, a token figure
        except etree.XMLSyntaxError:
            continue
    return count


def accepted_by_lxml(docs: Sequence[Doc]) -> list[Doc]:
    from feedloom.errors import ParseError
    from feedloom.parse import parse_bytes

    kept = []
    for name, data in docs:
        try:
            parse_bytes(data, url=f"https://bench.example/{name}", now=NOW, _parser="lxml")
        except ParseError:
            continue
        kept.append((name, data))
    return kept


def measure(
    label: str, fn: Callable[[Sequence[Doc]], int], docs: Sequence[Doc], runs: int
) -> dict[str, Any]:
    fn(docs[:3])  # warm-up: imports, caches
    walls, cpus, entries = [], [], 0
    for _ in range(runs):
        entries, sample = timed(lambda: fn(docs))
        walls.append(sample.wall)
        cpus.append(sample.cpu)
    size = sum(len(d) for _, d in docs)
    wall = median(walls)
    return {
        "label": label,
        "files": len(docs),
        "bytes": size,
        "entries": entries,
        "wall": wall,
        # CPU seconds of this process: steadier than wall time on a shared machine.
        "cpu": median(cpus),
        "mb_s": size / 1e6 / wall,
        "entries_s": entries / wall,
    }


def report(title: str, rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["label"] == "feedparser.parse"), None)
    print(f"\n== {title}")
    print(f"{'contender':<22}{'files':>6}{'size':>10}{'entries':>9}{'median':>10}{'MB/s':>9}"
          f"{'entries/s':>11}{'x feedparser':>14}{'cpu':>10}{'x (cpu)':>9}")  # fmt: skip
    for r in rows:
        ratio = f"{r['mb_s'] / base['mb_s']:.1f}x" if base else "-"
        cpu_ratio = "-"
        if base:
            cpu_ratio = f"{(r['bytes'] / r['cpu']) / (base['bytes'] / base['cpu']):.1f}x"
        print(
            f"{r['label']:<22}{r['files']:>6}{fmt_bytes(r['bytes']):>10}{r['entries']:>9}"
            f"{fmt_s(r['wall']):>10}{r['mb_s']:>9.2f}{r['entries_s']:>11.0f}{ratio:>14}"
            f"{fmt_s(r['cpu']):>10}{cpu_ratio:>9}"
        )


def speed(name: str, docs: list[Doc], runs: int, *, only_feedloom: bool = False) -> None:
    rows = [measure("lxml floor", lxml_floor, docs, runs)]
    rows.append(measure("feedloom auto", feedloom(None), docs, runs))
    fast_docs = accepted_by_lxml(docs)
    rows.append(measure("feedloom lxml", feedloom("lxml"), fast_docs, runs))
    if only_feedloom:
        report(f"{name}: {len(fast_docs)} of {len(docs)} files take the lxml path", rows)
        return
    rows.append(measure("feedloom feedparser", feedloom("feedparser"), docs, runs))
    try:
        import fastfeedparser  # noqa: F401
    except ImportError:
        print("fastfeedparser: not available (not installed)", file=sys.stderr)
    else:
        rows.append(measure("fastfeedparser", fastfeedparser_run, docs, runs))
    rows.append(measure("feedparser.parse", plain_feedparser, docs, runs))
    report(f"{name}: {len(fast_docs)} of {len(docs)} files take the lxml path", rows)


# --- where the lxml path's time goes --------------------------------------------------


class _Stopwatch:
    """Adds up the wall time spent in one callable, wrapped in place of it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed_call


class _TimedCleaner:
    """An nh3.Cleaner whose clean() is timed."""

    def __init__(self, cleaner: Any, watch: _Stopwatch) -> None:
        self.clean = watch.wrap(cleaner.clean)


def breakdown(name: str, docs: list[Doc], runs: int) -> None:
    """Time lxml's parse and nh3's clean() inside real parse_bytes runs of the lxml path.

    Both are wrapped where feedloom calls them (etree.fromstring; the sanitising and
    text cleaners), so the figures are of exactly the work a build does; the rest of
    the run is feedloom's own Python (reading elements, ids, links, dates, text).
    """
    from lxml import etree

    from feedloom import sanitize

    fast_docs = accepted_by_lxml(docs)
    run = feedloom("lxml")
    run(fast_docs[:3])  # warm-up: imports, caches
    original_parse, original_cleaner = etree.fromstring, sanitize._cleaner
    original_text_cleaner = sanitize._TEXT_CLEANER
    totals, lxml_s, nh3_s, entries = [], [], [], 0
    try:
        for _ in range(runs):
            parse_watch, nh3_watch = _Stopwatch(), _Stopwatch()
            etree.fromstring = parse_watch.wrap(original_parse)
            sanitize._cleaner = lambda base, w=nh3_watch: _TimedCleaner(original_cleaner(base), w)
            sanitize._TEXT_CLEANER = _TimedCleaner(original_text_cleaner, nh3_watch)
            entries, sample = timed(lambda: run(fast_docs))
            totals.append(sample.wall)
            lxml_s.append(parse_watch.seconds)
            nh3_s.append(nh3_watch.seconds)
    finally:
        etree.fromstring, sanitize._cleaner = original_parse, original_cleaner
        sanitize._TEXT_CLEANER = original_text_cleaner
    size = sum(len(d) for _, d in fast_docs)
    total, lxml_t, nh3_t = median(totals), median(lxml_s), median(nh3_s)
    own = total - lxml_t - nh3_t
    print(f"\n== where the lxml path's time goes: {name} ({len(fast_docs)} files, "
          f"{fmt_bytes(size)}, {entries} entries; median of {runs} runs)")  # fmt: skip
    for label, seconds in (("lxml parse", lxml_t), ("nh3 clean", nh3_t), ("feedloom Python", own)):
        print(
            f"{label:<18}{fmt_s(seconds):>9}{seconds / total * 100:7.1f}%"
            f"{seconds / max(entries, 1) * 1e6:9.1f} us/entry"
        )
    print(
        f"{'total':<18}{fmt_s(total):>9}{100:7.1f}%{total / max(entries, 1) * 1e6:9.1f} us/entry"
        f"   {size / 1e6 / total:.1f} MB/s; lxml + nh3 alone would be "
        f"{size / 1e6 / (lxml_t + nh3_t):.1f} MB/s"
    )


# --- sanitisers ----------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script><p>x</p>",
    '<img src="x.png" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    '<p style="width: expression(alert(1))">x</p>',
    '<iframe src="https://evil.example/"></iframe>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<form action="https://evil.example/"><input name="pw"></form>',
    '<a href="vbscript:msgbox(1)">x</a>',
]
FORBIDDEN = ("alert", "javascript", "data:", "expression", "<iframe", "<svg", "<form", "vbscript")


def html_bodies(docs: Sequence[Doc]) -> list[str]:
    import feedparser

    bodies = []
    for _, data in docs:
        result = feedparser.parse(
            io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False
        )
        for entry in result.entries:
            bodies.extend(c.get("value") or "" for c in entry.get("content") or ())
            bodies.append(entry.get("summary") or "")
    return [b for b in bodies if b]


def sanitizers(docs: list[Doc], runs: int) -> None:
    from feedloom.sanitize import sanitize_html

    bodies = html_bodies(docs)
    size = sum(len(b.encode()) for b in bodies)
    contenders: list[tuple[str, Callable[[str], str]]] = [("nh3 (feedloom)", sanitize_html)]
    try:
        from lxml_html_clean import Cleaner
    except ImportError:
        print("lxml_html_clean: not available (not installed)", file=sys.stderr)
    else:
        cleaner = Cleaner(
            scripts=True, javascript=True, comments=True, style=True, inline_style=True,
            links=True, meta=True, page_structure=True, processing_instructions=True,
            embedded=True, frames=True, forms=True, annoying_tags=True,
            remove_unknown_tags=True, safe_attrs_only=True, add_nofollow=False,
        )  # fmt: skip

        def lxml_clean(html: str) -> str:
            try:
                return str(cleaner.clean_html(html))
            except Exception:  # lxml refuses some fragments (empty after parsing)
                return ""

        contenders.append(("lxml_html_clean", lxml_clean))
    print(f"\n== sanitisers: {len(bodies)} HTML bodies, {fmt_bytes(size)}")
    for label, fn in contenders:
        walls = []
        for _ in range(runs):
            _, sample = timed(lambda fn=fn: [fn(b) for b in bodies])
            walls.append(sample.wall)
        leaks = sum(any(bad in fn(h).lower() for bad in FORBIDDEN) for h in HOSTILE)
        wall = median(walls)
        print(
            f"{label:<18} median {fmt_s(wall):>8}  {size / 1e6 / wall:7.2f} MB/s  "
            f"{len(bodies) / wall:9.0f} bodies/s  "
            f"hostile inputs let through: {leaks}/{len(HOSTILE)}"
        )


# --- fastfeedparser through feedloom's normalisation ------------------------------------


def _ffp_records(data: bytes) -> tuple[Any, list[Any]]:
    import fastfeedparser

    from feedloom.parse import RawEntry, RawFeed

    result = fastfeedparser.parse(data)
    feed = result.get("feed") or {}
    short = {"html": "text/html", "text": "text/plain", "xhtml": "application/xhtml+xml"}
    raw_feed = RawFeed(
        version=str(feed.get("version") or "unknown"),
        title=feed.get("title") or "",
        link=feed.get("link"),
        id=feed.get("id") or "",
        subtitle=feed.get("subtitle") or "",
        language=feed.get("language") or "",
        self_link=next(
            (x.get("href") for x in feed.get("links") or () if x.get("rel") == "self"), None
        ),
    )
    entries = []
    for e in result.get("entries") or ():
        entries.append(
            RawEntry(
                id=e.get("id") or "",
                title=e.get("title") or "",
                link=e.get("link"),
                summary=e.get("description") or e.get("summary") or "",
                contents=[
                    (
                        short.get(c.get("type") or "", c.get("type") or ""),
                        c.get("value") or "",
                        c.get("base"),
                    )
                    for c in e.get("content") or ()
                ],
                published=e.get("published"),
                updated=e.get("updated"),
                authors=list(e.get("authors") or ()),
                categories=[t.get("term") or "" for t in e.get("tags") or ()],
                enclosures=[
                    (x.get("href") or x.get("url"), x.get("type"), x.get("length"))
                    for x in e.get("enclosures") or ()
                ],
            )
        )
    return raw_feed, entries


def compare_fastfeedparser(docs: list[Doc]) -> None:
    from feedloom import parse as fl

    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_fastparse import differences

    fields: Counter[str] = Counter()
    examples: dict[str, tuple[str, Any, Any]] = {}
    same = failed = 0
    for name, data in docs:
        url = f"https://bench.example/{name}"
        try:
            reference = fl.parse_bytes(data, url=url, now=NOW, _parser="feedparser")
        except fl.ParseError:
            continue
        try:
            raw_feed, raw_entries = _ffp_records(data)
            ctx = fl._Context(url=url, tz=UTC, now=NOW)
            theirs = fl._build(raw_feed, raw_entries, ctx, None, lambda r: r, "fastfeedparser")
        except Exception:
            failed += 1
            continue
        found = differences(reference, theirs)
        # Entries only: fastfeedparser's feed-level keys (ttl, image, sy:*) are not mapped.
        found = {k: v for k, v in found.items() if k.startswith("entries.")}
        same += not found
        fields.update(found.keys())
        for key, (ours, theirs_value) in found.items():
            examples.setdefault(key, (name, ours, theirs_value))
    print("\n== fastfeedparser vs feedloom's feedparser reader, through the same normalisation")
    differing = len(docs) - same - failed
    print(f"files identical: {same}; differing: {differing}; fastfeedparser failed: {failed}")
    for field, count in fields.most_common():
        name, ours, theirs_value = examples[field]
        print(f"  {field:<22} differs in {count} files, e.g. {name}:")
        print(f"      feedparser reader: {str(ours)[:200]}")
        print(f"      fastfeedparser:    {str(theirs_value)[:200]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, default=60, help="generated feeds (default 60, ~5 MB)")
    ap.add_argument("--runs", type=int, default=5, help="runs per contender (at least 5)")
    ap.add_argument("--sanitizers", action="store_true", help="also time nh3 vs lxml_html_clean")
    ap.add_argument("--compare-fastfeedparser", action="store_true",
                    help="also diff fastfeedparser against the feedparser reader")  # fmt: skip
    ap.add_argument("--breakdown", action="store_true",
                    help="split the lxml path's time: lxml, nh3, feedloom's Python")  # fmt: skip
    ap.add_argument("--only-feedloom", action="store_true",
                    help="time only the lxml floor and feedloom's lxml path (quick)")  # fmt: skip
    args = ap.parse_args(argv)
    runs = max(5, args.runs)
    print(environment_line())
    real = realworld()
    with tempfile.TemporaryDirectory() as tmp:
        gen = generated(args.feeds, Path(tmp))
    speed("real-world corpus", real, runs, only_feedloom=args.only_feedloom)
    speed(f"generated corpus ({args.feeds} feeds)", gen, runs, only_feedloom=args.only_feedloom)
    if args.breakdown:
        breakdown("real-world corpus", real, runs)
        breakdown(f"generated corpus ({args.feeds} feeds)", gen, runs)
    if args.sanitizers:
        sanitizers(real + gen, runs)
    if args.compare_fastfeedparser:
        compare_fastfeedparser(real + gen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
