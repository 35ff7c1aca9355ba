"""Reliability end to end: hostile HTTP servers, kill -9 at random moments, concurrent
builds, and a live ``feedloom serve`` under load.

Everything is real: ``feedloom`` subprocesses, files, SQLite, and HTTP servers on
127.0.0.1 only. Randomised tests print their seed (``-s`` shows it, and every failure
message repeats it); ``FEEDLOOM_TEST_SEED=N`` replays one.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

import feedparser
import lxml.html
import pytest
from lxml import etree
from tests.conftest import ROOT, CliRunner
from tests.test_security import (
    GOOD_FEED,
    GOOD_TITLES,
    Loopback,
    failed_sources,
    feed_toml,
    headlines,
    output_titles,
    rss,
    run_limited,
)

from feedloom.errors import FetchError, ParseError
from feedloom.fetch import Fetcher, Limits
from feedloom.opml import read_opml
from feedloom.parse import parse_bytes

NOW = "2025-01-02T08:00:00+08:00"


def seed_for(test: str) -> int:
    """A fresh seed (or ``FEEDLOOM_TEST_SEED``), printed so that a failure can be replayed."""
    seed = int(os.environ.get("FEEDLOOM_TEST_SEED") or secrets.randbits(32))
    print(f"{test}: seed {seed} (FEEDLOOM_TEST_SEED={seed} replays it)")
    return seed


# --- hostile HTTP servers ---------------------------------------------------------------


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """A fresh loopback HTTP server, shut down after the test."""
    server = Loopback()
    yield server
    server.close()


INFLATED = 128 * 1024 * 1024


@functools.cache
def gzip_bomb() -> bytes:
    """128 MiB of XML-looking whitespace, gzipped to about 130 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'<?xml version="1.0"?><rss version="2.0"><channel><title>')]
    block = b" " * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(INFLATED // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


def _start(h: BaseHTTPRequestHandler, status: int = 200, **headers: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", headers.pop("content_type", "application/rss+xml"))
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.end_headers()


def endless(server: Loopback) -> Callable[[BaseHTTPRequestHandler], None]:
    """A 200 whose body never ends (no Content-Length, so only the client can stop it)."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        _start(h)
        h.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>endless')
        chunk = b"<item><title>again and again</title></item>" * 1500
        while not server.stopping.is_set():
            h.wfile.write(chunk)

    return respond


def trickle(server: Loopback, body: bytes, seconds: float | None) -> Callable[..., None]:
    """One byte a second; after ``seconds`` the rest of ``body`` at once (None: never)."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        _start(h, Content_Length=str(len(body)))
        started = time.monotonic()
        for i in range(len(body)):
            if seconds is not None and time.monotonic() - started >= seconds:
                h.wfile.write(body[i:])
                return
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()
            if server.stopping.wait(1.0):
                return

    return respond


def bomb(h: BaseHTTPRequestHandler) -> None:
    data = gzip_bomb()
    _start(h, Content_Encoding="gzip", Content_Length=str(len(data)))
    h.wfile.write(data)


def redirect(to: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(h: BaseHTTPRequestHandler) -> None:
        _start(h, 302, Location=to, Content_Length="0")

    return respond


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Not a feed</title></head><body>Hi</body></html>"


def hostile_http(server: Loopback) -> dict[str, str]:
    """Install every hostile route; returns label -> URL."""
    server.routes["/endless.xml"] = endless(server)
    server.routes["/bomb.xml"] = bomb
    server.routes["/loop-a.xml"] = redirect("/loop-b.xml")
    server.routes["/loop-b.xml"] = redirect("/loop-a.xml")
    server.routes["/to-file.xml"] = redirect("file:///etc/passwd")
    server.routes["/to-ftp.xml"] = redirect("ftp://127.0.0.1/feed.xml")
    server.routes["/to-js.xml"] = redirect("javascript:alert(1)")
    return {
        "endless": server.url("/endless.xml"),
        "bomb": server.url("/bomb.xml"),
        "loop": server.url("/loop-a.xml"),
        "to-file": server.url("/to-file.xml"),
        "to-ftp": server.url("/to-ftp.xml"),
        "to-js": server.url("/to-js.xml"),
        "html": server.static("/page.html", HTML_PAGE, "text/html; charset=utf-8"),
    }


# What each failure must say, besides the URL.
EXPECTED_FAILURE = {
    "endless": r"limit",
    "bomb": r"limit.*decompress",
    "loop": r"redirect loop",
    "to-file": r"redirect to .*non-http",
    "to-ftp": r"redirect to .*non-http",
    "to-js": r"redirect to .*non-http",
    "html": r"HTML",
}

TRICKLED_TITLE = "慢速服务器送来的新闻"


def test_hostile_servers_in_a_real_build_are_bounded_and_reported(
    project: Path, loopback: Loopback
) -> None:
    urls = hostile_http(loopback)
    slow = rss("slow", [("slow-1", f"<title>{TRICKLED_TITLE}</title>")])
    loopback.routes["/slow.xml"] = trickle(loopback, slow, seconds=3)
    good = loopback.static("/good.xml", GOOD_FEED)
    sources = [good, loopback.url("/slow.xml"), *urls.values()]
    (project / "feeds" / "web.toml").write_text(feed_toml("web", sources), encoding="utf-8")
    started = time.monotonic()
    proc, peak_mb = run_limited(project, "build", "--now", NOW, "web", timeout=90)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = failed_sources(proc.stderr)
    assert len(lines) == len(urls), proc.stderr
    for label, url in urls.items():
        matching = [line for line in lines if url in line]
        assert len(matching) == 1, f"{label}: {url} not reported:\n{proc.stderr}"
        assert re.search(EXPECTED_FAILURE[label], matching[0]), matching[0]
    # The good and the slow sources and the news page all made it.
    titles = output_titles(project / "output", "web")
    assert {*GOOD_TITLES, TRICKLED_TITLE, *headlines()} <= titles
    # Bounded: the trickle took its 3 s, the 10 MiB body cap stopped the endless body and
    # the 128 MiB bomb (decompressed) without a retry, and memory stayed small.
    assert 3 <= elapsed < 45, f"build took {elapsed:.1f} s"
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"
    assert loopback.hits["/bomb.xml"] == 1 and loopback.hits["/endless.xml"] == 1
    assert loopback.hits["/loop-a.xml"] == 1 and loopback.hits["/loop-b.xml"] == 1
    status = subprocess.run(
        [sys.executable, "-m", "feedloom", "status"], cwd=project, capture_output=True, text=True
    )
    for url in urls.values():
        assert re.search(re.escape(url) + r".*error=(?!-)", status.stdout), status.stdout


def test_fetcher_limits_bound_every_hostile_server_in_one_batch(loopback: Loopback) -> None:
    """The module default deadline is 60 s, which no test can wait for (and neither
    ``[fetch]`` config keys nor CLI options expose the limits): small limits here."""
    urls = hostile_http(loopback)
    loopback.routes["/trickle.xml"] = trickle(loopback, b"x" * 100, seconds=None)
    urls["trickle"] = loopback.url("/trickle.xml")

    def stall(h: BaseHTTPRequestHandler) -> None:
        _start(h)
        h.wfile.write(b"<rss>")
        h.wfile.flush()
        loopback.stopping.wait(30)

    loopback.routes["/stall.xml"] = stall
    urls["stall"] = loopback.url("/stall.xml")
    good = loopback.static("/good.xml", GOOD_FEED)
    limits = Limits(
        connect_timeout=1,
        # Margins for a loaded CI machine: the read timeout is longer than the trickle's
        # 1 s gaps (only the deadline stops it), and long enough for a busy server.
        read_timeout=2.5,
        deadline=5,
        max_bytes=256 * 1024,
        max_redirects=3,
        per_host=16,
        workers=16,
    )
    expected = {
        **EXPECTED_FAILURE,
        "endless": r"over the 262144-byte limit",
        "bomb": r"over the 262144-byte limit \(counted after decompression\)",
        "trickle": r"gave up after 5 s \(total deadline\)",
        "stall": r"no data for 2\.5 s",
    }
    started = time.monotonic()
    with Fetcher(limits) as fetcher:
        outcomes = fetcher.fetch_many(
            [(url, None) for url in [good, *urls.values()]],
            now=datetime(2025, 1, 2, tzinfo=UTC),
            force=True,
        )
    elapsed = time.monotonic() - started
    first, *rest = outcomes
    assert first.kind == "fetched" and first.result is not None
    assert first.result.body == GOOD_FEED
    for (label, url), outcome in zip(urls.items(), rest, strict=True):
        if label == "html":
            # HTTP-wise a 200 is a success: recognising the page is the parser's job.
            assert outcome.kind == "fetched", outcome.error
            assert outcome.result is not None
            with pytest.raises(ParseError, match="got HTML") as info:
                parse_bytes(outcome.result.body or b"", url=url, headers=outcome.result.headers)
            assert url in str(info.value)
            continue
        assert outcome.kind == "failed", (label, outcome)
        assert isinstance(outcome.error, FetchError)
        message = str(outcome.error)
        assert url in message and re.search(expected[label], message), (label, message)
        assert outcome.state.failures == 1 and outcome.state.next_fetch is not None
    # All in parallel: the whole batch ends soon after the 5 s deadline.
    assert elapsed < 15, f"batch took {elapsed:.1f} s"
    assert loopback.hits["/trickle.xml"] == 1


# --- crash safety ----------------------------------------------------------------------

EXTERNAL_FEEDS = 5
ITEMS_PER_FEED = 60


def external_feed(index: int, rounds: int) -> bytes:
    """A local external feed; each round adds one newer item, so every build writes."""
    rng = random.Random(index)
    items = []
    for i in range(ITEMS_PER_FEED + rounds):
        title = f"外部来源{index}第{i}条：" + "".join(
            rng.choice("城市交通文化经济科技体育") for _ in range(10)
        )
        body = (
            "<p>"
            + escape("".join(rng.choice("新闻内容段落描述报道，。") for _ in range(400)))
            + "</p>"
        )
        items.append(
            f"<item><title>{escape(title)}</title><link>https://ext{index}.example.org/{i}</link>"
            f"<guid>ext{index}-{i}</guid><pubDate>{_rfc822(i)}</pubDate>"
            f"<description>{escape(body)}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>外部来源{index}</title><link>https://ext{index}.example.org/</link>"
        f"<description>d</description>{''.join(reversed(items))}</channel></rss>"
    ).encode()


def _rfc822(i: int) -> str:
    day, hour = divmod(i, 24)
    return f"{day % 28 + 1:02d} Dec 2024 {hour:02d}:00:00 +0800"


def make_big_project(project: Path, rounds: int = 0) -> None:
    """The shipped project whose ``merged`` feed also reads 5 local feeds of 60+ items."""
    ext = project / "sources" / "external"
    for i in range(EXTERNAL_FEEDS):
        (ext / f"big{i}.xml").write_bytes(external_feed(i, rounds))
    toml = project / "feeds" / "merged.toml"
    text = toml.read_text(encoding="utf-8")
    if "big0.xml" not in text:
        text = text.replace("limit = 100\n", "limit = 1000\n")
        text += "".join(
            f'\n[[sources]]\ntype = "feed"\nurl = "../sources/external/big{i}.xml"\n'
            for i in range(EXTERNAL_FEEDS)
        )
        toml.write_text(text, encoding="utf-8")


OUTPUTS = [f"{f}{s}" for f in ("news", "merged") for s in (".xml", ".atom", ".json", ".html")]
# Written by every build for the whole site.
SITE_FILES = ["index.html", "feeds.opml"]


def check_outputs(out: Path) -> dict[str, int]:
    """Every output is absent or a complete, valid document; returns entry counts."""
    counts = {}
    for name in [*OUTPUTS, *SITE_FILES]:
        path = out / name
        if not path.exists():
            continue
        data = path.read_bytes()
        if name.endswith(".opml"):
            counts[name] = len(read_opml(data, name=name).subscriptions)  # strict XML
        elif name.endswith((".xml", ".atom")):
            root = etree.fromstring(data)  # strict: a truncated file raises
            counts[name] = len(root.findall("channel/item")) + len(
                root.findall("{http://www.w3.org/2005/Atom}entry")
            )
        elif name.endswith(".json"):
            doc = json.loads(data)
            assert doc["version"] == "https://jsonfeed.org/version/1.1"
            counts[name] = len(doc["items"])
        else:
            assert data.endswith(b"</html>\n"), f"{name} is truncated"
            lxml.html.document_fromstring(data)
            counts[name] = data.count(b"<li")
        assert counts[name] > 0 or name == "index.html", name
    return counts


def integrity(state: Path) -> str:
    """``PRAGMA integrity_check`` of the state file (recovering its WAL, as feedloom would)."""
    db = sqlite3.connect(state)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def _wait_for_lock(lock: Path, proc: subprocess.Popen[bytes], limit: float) -> bool:
    """Wait until ``proc`` holds the state lock (its pid is in the lock file)."""
    pid = f"{proc.pid}\n".encode()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if lock.read_bytes() == pid:
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    return False


def _wait_for_publishing(
    out: Path, before: dict[str, bytes], proc: subprocess.Popen[bytes], limit: float
) -> None:
    """Wait until ``proc`` starts publishing: a temporary file or a changed output appears."""
    deadline = time.monotonic() + limit
    sizes = {name: len(data) for name, data in before.items()}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with os.scandir(out) as entries:
                if any(
                    e.name.endswith(".tmp")
                    or (e.name in OUTPUTS and sizes.get(e.name) != e.stat().st_size)
                    for e in entries
                ):
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.001)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONUTF8"] = "1"
    return env


KILLS = 24


def test_kill_9_at_random_moments_never_leaves_a_broken_output_or_state(
    project: Path, cli: CliRunner
) -> None:
    seed = seed_for("kill -9")
    rng = random.Random(seed)
    make_big_project(project)
    out, state = project / "output", project / ".feedloom" / "state.sqlite"
    lock = state.with_name(state.name + ".lock")
    # How long the work under the lock takes, so kills can land anywhere in it.
    started = time.monotonic()
    cli("build", "--now", NOW, check=True)
    work = time.monotonic() - started
    print(f"kill -9: an uninterrupted build takes {work:.2f} s")
    shutil.rmtree(out)
    shutil.rmtree(state.parent)
    page = project / "sources" / "news.txt"
    killed = finished = 0
    # Where the kills landed, judged by how many of the 8 feed files the round rewrote.
    landed = {"before publishing": 0, "mid-publish": 0, "after publishing": 0}
    for i in range(KILLS):
        where = f"seed {seed}, kill {i}"
        if i % 6 == 0:  # now and then start from nothing: outputs must be absent or whole
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(state.parent, ignore_errors=True)
        # New input every round, so every build has something to write.
        make_big_project(project, rounds=i + 1)
        page.write_text(
            page.read_text(encoding="utf-8").rstrip("\n") + f"\n- {41 + i}.第{i}轮新增头条\n",
            encoding="utf-8",
        )
        now = f"2025-01-{2 + i:02d}T08:00:00+08:00"
        before = {n: (out / n).read_bytes() for n in OUTPUTS if (out / n).exists()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "feedloom", "build", "--now", now],
            cwd=project,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Three kinds of moment, in turn: 0-300 ms after the start (imports, config, the
        # lock); anywhere in the work under the lock (collect, parse, render, commit); and
        # 0-20 ms into publishing, a window of a few ms that chance alone seldom hits.
        if i % 3 == 0:
            time.sleep(rng.uniform(0, 0.3))
        elif i % 3 == 1:
            _wait_for_lock(lock, proc, 30)
            time.sleep(rng.uniform(0, max(0.3, work)))
        else:
            _wait_for_publishing(out, before, proc, 30)
            time.sleep(rng.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            rewritten = sum(
                1 for n in OUTPUTS if (out / n).exists() and before.get(n) != (out / n).read_bytes()
            )
            phase = "before" if rewritten == 0 else "mid" if rewritten < len(OUTPUTS) else "after"
            landed[next(k for k in landed if k.startswith(phase))] += 1
        else:
            assert proc.returncode == 0, f"{where}: {err.decode()}"
            finished += 1
        try:
            check_outputs(out)
        except Exception as exc:
            raise AssertionError(f"{where}: broken output: {exc}") from exc
        if state.exists():
            assert integrity(state) == "ok", where
    print(f"kill -9: {killed} killed ({landed}), {finished} finished first (seed {seed})")
    assert killed >= KILLS // 2, f"seed {seed}: only {killed} of {KILLS} builds were killed"
    # A normal build after all that succeeds and publishes everything.
    proc = cli("build", "--now", "2025-02-01T08:00:00+08:00")
    assert proc.returncode == 0, f"seed {seed}: {proc.stderr}"
    assert integrity(state) == "ok"
    counts = check_outputs(out)
    assert counts["news.json"] == 40 + KILLS
    assert counts["merged.json"] >= EXTERNAL_FEEDS * (ITEMS_PER_FEED + KILLS)
    merged = feedparser.parse((out / "merged.atom").read_bytes())
    assert not merged.bozo
    titles = {e.title for e in merged.entries}
    assert f"第{KILLS - 1}轮新增头条" in titles
    # Interrupted writes leave only dot-files behind, which serve never publishes.
    leftovers = [p.name for p in out.iterdir() if p.name not in [*OUTPUTS, *SITE_FILES]]
    assert all(name.startswith(".") and name.endswith(".tmp") for name in leftovers), leftovers
    print(f"kill -9: {len(leftovers)} temporary files left in output/ by killed builds")


# --- concurrency -----------------------------------------------------------------------


def test_four_concurrent_builds_serialise_and_lose_nothing(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    make_big_project(project)
    # The reference: one clean build of an identical copy.
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(project / "feeds", reference / "feeds")
    shutil.copytree(project / "sources", reference / "sources")
    subprocess.run(
        [sys.executable, "-m", "feedloom", "build", "--now", NOW],
        cwd=reference,
        env=_env(),
        check=True,
        capture_output=True,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "feedloom", "build", "--now", NOW, "--wait", "60"],
            cwd=project,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errs = [p.communicate(timeout=100)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    # The lock serialised them: each feed was written by exactly one of the four, and
    # the other three found nothing new.
    for feed in ("news", "merged"):
        written = [e for e in errs if re.search(rf"^{feed}: .* written ", e, re.MULTILINE)]
        unchanged = [
            e for e in errs if re.search(rf"^{feed}: .* 0 new, unchanged", e, re.MULTILINE)
        ]
        assert (len(written), len(unchanged)) == (1, 3), errs
    assert integrity(project / ".feedloom" / "state.sqlite") == "ok"
    out, ref = project / "output", reference / "output"
    check_outputs(out)
    for name in [*OUTPUTS, *SITE_FILES]:
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    ids = {i["id"] for i in json.loads((out / "merged.json").read_bytes())["items"]}
    reference_ids = {i["id"] for i in json.loads((ref / "merged.json").read_bytes())["items"]}
    assert ids == reference_ids


# --- serve under load ------------------------------------------------------------------


def _serve_load() -> ModuleType:
    """bench/serve_load.py, imported from its path (bench/ is a folder of scripts)."""
    name = "feedloom_bench_serve_load"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "serve_load.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_serve_answers_200_concurrent_requests_without_error(project: Path, cli: CliRunner) -> None:
    load = _serve_load()
    cli("build", "--now", NOW, check=True)
    out = project / "output"
    files = [f for f in load.DEFAULT_FILES if (out / f).exists()]
    assert len(files) == 9
    expected = {f: (out / f).read_bytes() for f in files}
    with load.serving(out, project / "feeds", project / "serve.log") as url:
        result = load.run_load(url, files, expected, total=200, clients=10, seed=7)
    print("serve load:", result.summary())
    assert result.errors == []
    assert result.count == 200
    assert set(result.statuses) == {"200", "304"} and result.statuses["304"] >= 60
    assert result.percentile(99) < 5
