"""Shared helpers of the benchmark scripts: corpus location, timing, report lines.

The scripts in ``bench/`` are run as files (``python bench/aggregate.py``), so they
import each other as top-level modules (``import common``).
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_CORPUS = BENCH_DIR / ".corpus"
RESULTS_DIR = BENCH_DIR / "results"
MANIFEST_NAME = "manifest.json"

# Every script uses the same seed unless told otherwise, so figures from two
# machines are measured on byte-identical corpora (compare the manifest digest).
DEFAULT_SEED = 20240601


@dataclass(frozen=True, slots=True)
class FeedFile:
    """One generated feed file, as recorded in the corpus manifest."""

    name: str
    format: str
    lang: str
    entries: int
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ``gen_corpus.py`` wrote: parameters, totals and every file."""

    seed: int
    feeds: int
    entries_total: int
    bytes_total: int
    digest: str
    files: tuple[FeedFile, ...]

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        """Read ``manifest.json`` from ``directory``.

        Raises:
            FileNotFoundError: if the corpus was never generated there.
            ValueError: if the manifest is not one ``gen_corpus.py`` wrote.
        """
        raw = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
        try:
            return cls(
                seed=int(raw["seed"]),
                feeds=int(raw["feeds"]),
                entries_total=int(raw["entries_total"]),
                bytes_total=int(raw["bytes_total"]),
                digest=str(raw["digest"]),
                files=tuple(FeedFile(**f) for f in raw["files"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{directory / MANIFEST_NAME}: not a corpus manifest") from exc

    def urls(self, base_urls: Sequence[str]) -> list[str]:
        """The URL of every feed file, spread round-robin over ``base_urls`` (each ends in /)."""
        return [base_urls[i % len(base_urls)] + f.name for i, f in enumerate(self.files)]


def ensure_corpus(directory: Path, *, feeds: int, seed: int = DEFAULT_SEED) -> Manifest:
    """Return the manifest of the corpus in ``directory``, generating it if needed.

    The corpus is regenerated when it is missing or was made with other parameters,
    so a stale ``.corpus/`` never silently changes what is measured.
    """
    try:
        manifest = Manifest.load(directory)
    except (FileNotFoundError, ValueError):
        manifest = None
    if manifest is not None and manifest.feeds == feeds and manifest.seed == seed:
        return manifest
    import gen_corpus

    print(f"generating corpus: {feeds} feeds, seed {seed} -> {directory}", flush=True)
    return gen_corpus.generate(directory, feeds=feeds, seed=seed)


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run: wall-clock and CPU seconds of this process."""

    wall: float
    cpu: float


def timed(fn: Callable[[], Any]) -> tuple[Any, Sample]:
    """Call ``fn`` and return its result with the wall and CPU time it took.

    A full collection first, so garbage left by the previous contender is not
    charged to this one.
    """
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn()
    sample = Sample(wall=time.perf_counter() - wall0, cpu=time.process_time() - cpu0)
    return result, sample


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return statistics.median(values)


def fmt_s(seconds: float) -> str:
    """Seconds with a precision that suits their size (``0.712s``, ``9.70s``, ``123s``)."""
    if seconds < 1:
        return f"{seconds:.3f}s"
    if seconds < 100:
        return f"{seconds:.2f}s"
    return f"{seconds:.0f}s"


def fmt_bytes(n: float) -> str:
    """Bytes as MB/KB with one decimal."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} KB"
    return f"{n:.0f} B"


def environment_line() -> str:
    """One line saying where the figures were measured (they mean little without it)."""
    import platform

    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, cpu_count {os.cpu_count()}, "
        f"loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as pretty UTF-8 JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def warn(message: str) -> None:
    """Print a note to stderr (kept apart from the figures on stdout)."""
    print(message, file=sys.stderr, flush=True)
