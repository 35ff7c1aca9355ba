"""Whole-process build speed: ``feedloom build`` of the news page vs a minimal feedgen script.

Cron starts a new interpreter for every build, so what a user waits for (and pays
for on every run) is the whole process: interpreter start-up, imports, reading the
page, rendering, writing. Every contender here is timed as a child process in a
fresh temporary project holding a copy of ``feeds/news.toml`` and ``sources/news.txt``:

* ``feedgen script`` - ``bench/feedgen_news.py``: what one writes by hand: read the
  page, take the 40 ranked headlines with a regex, write RSS and Atom with feedgen.
  The baseline (``1.00x``).
* ``feedloom cold`` - ``feedloom build`` with no state and no output yet: writes RSS,
  Atom, JSON Feed and two HTML pages and creates the SQLite state.
* ``feedloom unchanged`` - ``feedloom build`` run again in a project it has already
  built (untimed): nothing new, no file rewritten (what cron does most of the time).
* ``python -c pass`` and ``import feedloom.cli`` - references: the interpreter's own
  start-up, and start-up plus the CLI's imports, so the rest can be read as work.

Rounds are interleaved and the contenders' order rotates each round, so background
load hits them alike. Each line: median wall time and its ratio to the feedgen script,
the child's median CPU seconds (user+sys, from ``getrusage``) and that ratio (steadier
on a shared machine), every run's wall time.

Children run with their bytecode cached (``PYTHONPYCACHEPREFIX`` in a temporary
folder, filled by an untimed warm-up run), as after ``pip install``: a process that
compiles every module from source measures the compiler, not the program.

Then ``-X importtime`` of ``import feedloom.cli`` and of a cold ``feedloom build``:
the median cumulative microseconds of the top imports, each with the module that
imported it. ``-X importtime`` adds overhead of its own: use it to rank, not to add up.

Usage::

    python bench/build_speed.py [--runs 10] [--import-runs 5] [--top 15] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import BENCH_DIR, REPO_ROOT, environment_line, fmt_s, median, write_json

FEED_FILE = REPO_ROOT / "feeds" / "news.toml"
PAGE_FILE = REPO_ROOT / "sources" / "news.txt"
FEEDGEN_SCRIPT = BENCH_DIR / "feedgen_news.py"
ENTRIES = 40
TARGET_RATIO = 1.5
_CHILD_TIMEOUT = 120


class RunFailed(Exception):
    """A child process did not do what its contender claims (its figures are void)."""


def _feedloom_argv() -> list[str]:
    # The console script is what cron runs; `python -m feedloom` does the same imports.
    script = Path(sys.executable).with_name("feedloom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "feedloom"]


def child_env(pycache: Path) -> dict[str, str]:
    """The environment of every child: bytecode cached under ``pycache``, output unbuffered."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("SOURCE_DATE_EPOCH", None)  # the unchanged pass must see a real clock
    return env


def new_project(root: Path) -> Path:
    """A fresh project folder: ``feeds/news.toml`` and ``sources/news.txt``, nothing else."""
    project = Path(tempfile.mkdtemp(prefix="project-", dir=root))
    (project / "feeds").mkdir()
    (project / "sources").mkdir()
    shutil.copyfile(FEED_FILE, project / "feeds" / "news.toml")
    shutil.copyfile(PAGE_FILE, project / "sources" / "news.txt")
    return project


@dataclass(frozen=True, slots=True)
class Run:
    """One timed child process: wall seconds and its CPU seconds (user + system)."""

    wall: float
    cpu: float


def run_child(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[Run, str]:
    """Run ``argv`` to completion in ``cwd``; return its timing and its stderr.

    Raises:
        RunFailed: on a non-zero exit status or a timeout.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=_CHILD_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise RunFailed(f"{' '.join(argv)}: no exit after {_CHILD_TIMEOUT} s") from exc
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no stderr"]
        raise RunFailed(f"{' '.join(argv)}: exit {proc.returncode}: {tail[0]}")
    return Run(wall, cpu), proc.stderr


# --- contenders -------------------------------------------------------------------


@dataclass(slots=True)
class Contender:
    """A whole-process command: ``setup`` makes its project (untimed), ``check`` its output."""

    name: str
    argv: Callable[[Path], list[str]]
    setup: Callable[[Path, dict[str, str]], Path]
    check: Callable[[Path, str], None]
    runs: list[Run] = field(default_factory=list)


def _count(path: Path, tag: str) -> int:
    try:
        return path.read_text(encoding="utf-8").count(tag)
    except OSError:
        return 0


def _check_feedgen(project: Path, _stderr: str) -> None:
    out = project / "output"
    items, entries = _count(out / "news.xml", "<item>"), _count(out / "news.atom", "<entry>")
    if (items, entries) != (ENTRIES, ENTRIES):
        raise RunFailed(f"feedgen script wrote {items} RSS items and {entries} Atom entries")


def _check_feedloom(expect: str) -> Callable[[Path, str], None]:
    def check(project: Path, stderr: str) -> None:
        if expect not in stderr:
            raise RunFailed(f"feedloom build said {stderr.strip()!r}, expected {expect!r}")
        out = project / "output"
        items, entries = _count(out / "news.xml", "<item>"), _count(out / "news.atom", "<entry>")
        if (items, entries) != (ENTRIES, ENTRIES):
            raise RunFailed(f"feedloom wrote {items} RSS items and {entries} Atom entries")

    return check


def _fresh(root: Path, _env: dict[str, str]) -> Path:
    return new_project(root)


def _built_once(root: Path, env: dict[str, str]) -> Path:
    project = new_project(root)
    run_child([*_feedloom_argv(), "build"], project, env)
    return project


def _no_check(_project: Path, _stderr: str) -> None:
    return None


def contenders() -> list[Contender]:
    """Every contender, the baseline first."""
    feedloom = _feedloom_argv()
    return [
        Contender(
            "feedgen script",
            lambda _p: [sys.executable, str(FEEDGEN_SCRIPT), "sources/news.txt", "output"],
            _fresh,
            _check_feedgen,
        ),
        Contender(
            "feedloom cold",
            lambda _p: [*feedloom, "build"],
            _fresh,
            _check_feedloom(f"news: {ENTRIES} entries, {ENTRIES} new, written rss,atom,json,html"),
        ),
        Contender(
            "feedloom unchanged",
            lambda _p: [*feedloom, "build"],
            _built_once,
            _check_feedloom(f"news: {ENTRIES} entries, 0 new, unchanged"),
        ),
        Contender("python -c pass", lambda _p: [sys.executable, "-c", "pass"], _fresh, _no_check),
        Contender(
            "import feedloom.cli",
            lambda _p: [sys.executable, "-c", "import feedloom.cli"],
            _fresh,
            _no_check,
        ),
    ]


def _rotated(items: list[Contender], k: int) -> Iterator[Contender]:
    k %= len(items)
    return iter(items[k:] + items[:k])


def measure(items: list[Contender], runs: int, root: Path, env: dict[str, str]) -> None:
    """One untimed warm-up each (fills the bytecode cache), then ``runs`` interleaved rounds."""
    for c in items:
        project = c.setup(root, env)
        c.check(project, run_child(c.argv(project), project, env)[1])
        shutil.rmtree(project)
    for round_no in range(runs):
        for c in _rotated(items, round_no):
            project = c.setup(root, env)
            run, stderr = run_child(c.argv(project), project, env)
            c.check(project, stderr)
            c.runs.append(run)
            shutil.rmtree(project)
        print(f"round {round_no + 1}/{runs} done", file=sys.stderr, flush=True)


# --- import time ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One line of ``-X importtime``: module, its depth, who imported it, microseconds."""

    name: str
    depth: int
    parent: str | None
    self_us: int
    cumulative_us: int


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The import lines of one ``-X importtime`` run, with each module's importer.

    A module's line comes after those of the modules it imported, one level deeper.
    """
    raw: list[tuple[str, int, int, int]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        head, cumulative, name_part = line.split("|")
        self_us = int(head.removeprefix("import time:").strip())
        name = name_part.rstrip()
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        raw.append((name.strip(), depth, self_us, int(cumulative.strip())))
    parents: dict[int, str] = {}
    pending: dict[int, list[int]] = defaultdict(list)
    for i, (name, depth, _, _) in enumerate(raw):
        for child in pending.pop(depth + 1, []):
            parents[child] = name
        pending[depth].append(i)
    return [
        ImportLine(name, depth, parents.get(i), self_us, cum)
        for i, (name, depth, self_us, cum) in enumerate(raw)
    ]


@dataclass(slots=True)
class ImportProfile:
    """Medians over several ``-X importtime`` runs of one command."""

    label: str
    totals_us: list[int] = field(default_factory=list)
    cumulative: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    parent: dict[str, str | None] = field(default_factory=dict)

    def add(self, lines: list[ImportLine]) -> None:
        self.totals_us.append(sum(line.cumulative_us for line in lines if line.depth == 0))
        for line in lines:
            self.cumulative[line.name].append(line.cumulative_us)
            self.parent.setdefault(line.name, line.parent)

    def top(self, n: int) -> list[tuple[str, float]]:
        ranked = {name: median(values) for name, values in self.cumulative.items()}
        return sorted(ranked.items(), key=lambda kv: kv[1], reverse=True)[:n]


def import_profiles(runs: int, root: Path, env: dict[str, str]) -> list[ImportProfile]:
    """``-X importtime`` of ``import feedloom.cli`` and of a cold ``feedloom build``."""
    cli = ImportProfile("python -X importtime -c 'import feedloom.cli'")
    build = ImportProfile("python -X importtime -m feedloom build")
    for _ in range(runs):
        project = new_project(root)
        for profile, argv in (
            (cli, [sys.executable, "-X", "importtime", "-c", "import feedloom.cli"]),
            (build, [sys.executable, "-X", "importtime", "-m", "feedloom", "build"]),
        ):
            _, stderr = run_child(argv, project, env)
            profile.add(parse_importtime(stderr))
        shutil.rmtree(project)
    return [cli, build]


def _import_lines(profile: ImportProfile, top: int) -> list[str]:
    lines = [
        f"importtime  {profile.label}  total {median(profile.totals_us) / 1000:.1f} ms "
        f"(median of {len(profile.totals_us)}; top {top} by cumulative time)"
    ]
    for name, us in profile.top(top):
        via = profile.parent.get(name)
        lines.append(f"  {us / 1000:7.1f} ms  {name}{f'  (imported by {via})' if via else ''}")
    return lines


# --- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per contender (10)")
    parser.add_argument("--import-runs", type=int, default=5, help="-X importtime runs (5)")
    parser.add_argument("--top", type=int, default=15, help="imports listed per command (15)")
    parser.add_argument("--quick", action="store_true", help="3 runs, 1 importtime run")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.import_runs = 3, 1
    if min(args.runs, args.import_runs, args.top) < 1:
        parser.error("--runs, --import-runs and --top must be at least 1")

    print(environment_line())
    print(
        f"build_speed: {ENTRIES} headlines of {PAGE_FILE.relative_to(REPO_ROOT)}, whole processes, "
        f"{args.runs} interleaved runs each, bytecode cached, "
        f"feedloom = {' '.join(_feedloom_argv())}"
    )
    items = contenders()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="feedloom-build-speed-") as tmp:
        root = Path(tmp)
        env = child_env(root / "pycache")
        try:
            measure(items, args.runs, root, env)
        except RunFailed as exc:
            print(f"build_speed: !! {exc}", flush=True)
            return 1
        baseline = median([r.wall for r in items[0].runs])
        cpu_baseline = median([r.cpu for r in items[0].runs])
        width = max(len(c.name) for c in items)
        for c in items:
            wall = median([r.wall for r in c.runs])
            cpu = median([r.cpu for r in c.runs])
            lines.append(
                f"build  {c.name:{width}}  median {fmt_s(wall):>7}  ({wall / baseline:.2f}x)  "
                f"cpu {fmt_s(cpu)} ({cpu / cpu_baseline:.2f}x)  "
                f"runs {'/'.join(f'{r.wall:.3f}' for r in c.runs)}"
            )
            print(lines[-1], flush=True)
        ratios = {c.name: median([r.wall for r in c.runs]) / baseline for c in items[1:3]}
        cpu_ratios = {c.name: median([r.cpu for r in c.runs]) / cpu_baseline for c in items[1:3]}
        verdict = "met" if max(ratios.values()) <= TARGET_RATIO else "NOT met"
        lines.append(
            "build  summary: "
            + ", ".join(
                f"{name} {ratios[name]:.2f}x (cpu {cpu_ratios[name]:.2f}x)" for name in ratios
            )
            + f" the feedgen script; target <= {TARGET_RATIO}x wall: {verdict}"
        )
        print(lines[-1], flush=True)
        profiles = import_profiles(args.import_runs, root, env)
    for profile in profiles:
        for line in _import_lines(profile, args.top):
            lines.append(line)
            print(line, flush=True)
    if args.json:
        payload: dict[str, Any] = {
            "environment": environment_line(),
            "args": {k: str(v) for k, v in vars(args).items()},
            "contenders": {
                c.name: {
                    "wall": [r.wall for r in c.runs],
                    "cpu": [r.cpu for r in c.runs],
                    "median": median([r.wall for r in c.runs]),
                    "ratio": median([r.wall for r in c.runs]) / baseline,
                    "cpu_ratio": median([r.cpu for r in c.runs]) / cpu_baseline,
                }
                for c in items
            },
            "importtime": {
                p.label: {
                    "total_ms": median(p.totals_us) / 1000,
                    "top_ms": {name: us / 1000 for name, us in p.top(args.top)},
                }
                for p in profiles
            },
            "lines": lines,
        }
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
