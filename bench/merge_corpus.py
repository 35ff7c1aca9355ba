"""Merge the whole shared real-world corpus: feedloom.merge_feeds vs a plain feedparser loop.

    .venv/bin/python bench/merge_corpus.py [--rounds 5]

The alternative is what a user would write by hand: feedparser.parse on every file,
entries deduplicated by id/link, sorted by date. feedloom does more (sanitising,
canonical links, Chinese-aware title dedupe with --titles), so the ratio is the price
of that work. One line per contender: median wall time, entries out, ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _corpus() -> Path:
    for folder in ROOT.parents:
        candidate = folder / "shared" / "corpus" / "realworld"
        if candidate.is_dir():
            return candidate
    sys.exit("bench/merge_corpus.py: the shared corpus (shared/corpus/realworld) was not found")


def plain_feedparser(files: list[Path]) -> int:
    import feedparser

    seen: dict[str, object] = {}
    for path in files:
        parsed = feedparser.parse(path.read_bytes())
        for e in parsed.entries:
            key = e.get("id") or e.get("link") or e.get("title", "")
            seen.setdefault(key, e)
    ordered = sorted(
        seen.values(), key=lambda e: tuple(e.get("published_parsed") or ()), reverse=True
    )
    return len(ordered)


def feedloom_merge(files: list[Path], titles: bool) -> int:
    from feedloom import merge_feeds

    return len(merge_feeds(files, dedupe_titles=titles).entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    corpus = _corpus()
    files = sorted(
        p for p in corpus.iterdir() if p.suffix in (".xml", ".rss", ".atom", ".json", ".rdf")
    )
    size = sum(p.stat().st_size for p in files) / 1e6
    contenders = {
        "feedparser loop": lambda: plain_feedparser(files),
        "feedloom merge_feeds": lambda: feedloom_merge(files, False),
        "feedloom +titles": lambda: feedloom_merge(files, True),
    }
    results: dict[str, tuple[float, int]] = {}
    for name, run in contenders.items():
        run()  # warm imports and caches
        times, count = [], 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            count = run()
            times.append(time.perf_counter() - started)
        results[name] = (statistics.median(times), count)
    base = results["feedparser loop"][0]
    for name, (median, count) in results.items():
        print(
            f"merge-corpus  {name:<22} median {median:7.3f}s  ({median / base:4.2f}x)"
            f"  {len(files)} files {size:.1f} MB  entries out {count}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
