"""Shared fixtures: a throw-away copy of the shipped project, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_corpus() -> Path:
    """The shared real-world corpus, read in place (never copied into the repo).

    ``FEEDLOOM_CORPUS`` wins; else the first ``shared/corpus/realworld`` beside the
    checkout or one of its parents.
    """
    if os.environ.get("FEEDLOOM_CORPUS"):
        return Path(os.environ["FEEDLOOM_CORPUS"])
    for folder in ROOT.parents:
        candidate = folder / "shared" / "corpus" / "realworld"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "corpus" / "realworld"


CORPUS = _find_corpus()
requires_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS} (set FEEDLOOM_CORPUS)"
)
NEWS_PAGE = ROOT / "sources" / "news.txt"


class LoopbackHTTPServer(ThreadingHTTPServer):
    """The stdlib threaded server with a listen backlog fit for concurrent clients.

    socketserver's default backlog is 5: when a fetcher opens 16 connections at once on a
    loaded machine, the kernel drops the overflowing SYNs and the client sees a 1 s connect
    timeout instead of the behaviour under test (this failed CI once).
    """

    request_queue_size = 128


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver binds 127.0.0.1, never a name that could resolve elsewhere."""
    return ("127.0.0.1", 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of feeds/ and sources/ in a temporary folder (outputs and state go there too)."""
    shutil.copytree(ROOT / "feeds", tmp_path / "feeds")
    shutil.copytree(ROOT / "sources", tmp_path / "sources")
    return tmp_path


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(project: Path) -> CliRunner:
    """Run ``python -m feedloom ARGS`` in the project copy, as a real subprocess."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        # The build clock must come from the test, never from the caller's environment.
        full_env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
        full_env.update({"PYTHONUTF8": "1", **(env or {})})
        proc = subprocess.run(
            [sys.executable, "-m", "feedloom", *args],
            cwd=cwd or project,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"feedloom {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
            )
        return proc

    return run


def snapshot(folder: Path, names: Sequence[str] | None = None) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime (ns) of every file in ``folder`` (or those named)."""
    files = sorted(folder.iterdir()) if names is None else [folder / n for n in names]
    return {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in files if f.is_file()}
