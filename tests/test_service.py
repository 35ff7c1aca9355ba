"""Regenerate and serve, end to end: ``feedloom run``, the state lock, ``feedloom serve``
(with and without ``--schedule``) and WebSub pings, as real subprocesses.

Every server here listens on 127.0.0.1 only. External feeds and the hub are a stdlib
``ThreadingHTTPServer`` (:class:`Loopback`) whose feed can be *held*: a request waits
until the test releases it, so "SIGTERM while a build is slowed" and "a second build
while the first holds the lock" happen deterministically instead of by sleeping and
hoping.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
import requests
from tests.conftest import CliRunner, LoopbackHTTPServer

PYTHON = sys.executable
SERVING_RE = re.compile(r"serving .* on http://(?P<host>[^/\s]+):(?P<port>\d+)/")

# --------------------------------------------------------------------------- helpers


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a feedloom subprocess: our clock, UTF-8, and no proxies."""
    env = {
        k: v
        for k, v in os.environ.items()
        # A proxy variable would send "loopback" requests through another host.
        if k != "SOURCE_DATE_EPOCH" and not k.lower().endswith("_proxy")
    }
    env.update({"PYTHONUTF8": "1", "NO_PROXY": "*", **(extra or {})})
    return env


class Service:
    """A long-running ``python -m feedloom ...`` whose stderr is collected line by line."""

    def __init__(self, args: Sequence[str], cwd: Path) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "feedloom", *args],
            cwd=cwd,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        self.proc.stderr.close()
        with self._changed:
            self._changed.notify_all()

    def matching(self, pattern: str | re.Pattern[str]) -> list[str]:
        """The stderr lines so far that contain ``pattern`` (a regex)."""
        with self._changed:
            return [line for line in self.lines if re.search(pattern, line)]

    def wait_for(
        self, pattern: str | re.Pattern[str], *, count: int = 1, timeout: float = 20.0
    ) -> list[str]:
        """Wait until ``count`` stderr lines match ``pattern``; fail showing stderr if not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if re.search(pattern, line)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    break
                self._changed.wait(min(remaining, 0.2))
        raise AssertionError(
            f"feedloom {' '.join(self.args)}: no {count} line(s) matching {pattern!r} within "
            f"{timeout:g} s (exit status {self.proc.poll()}); stderr:\n" + "\n".join(self.lines)
        )

    def url(self) -> str:
        """``http://host:port`` of a ``serve`` process, from its "serving ... on" line."""
        (line, *_) = self.wait_for(SERVING_RE)
        match = SERVING_RE.search(line)
        assert match is not None
        assert match["host"] == "127.0.0.1", line
        return f"http://{match['host']}:{match['port']}"

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``signum`` and return the exit status."""
        self.proc.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 20.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"feedloom {' '.join(self.args)} still running after {timeout:g} s; "
                "stderr:\n" + self.stderr
            ) from None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)


@pytest.fixture
def start() -> Iterator[Callable[..., Service]]:
    """Start feedloom subprocesses; any still running at the end are killed."""
    started: list[Service] = []

    def run(*args: str, cwd: Path) -> Service:
        service = Service(args, cwd)
        started.append(service)
        return service

    yield run
    for service in started:
        service.kill()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- loopback


SLOW_TITLES = (
    "慢速源第一条：城市夜间公交新增三条线路",
    "慢速源第二条：图书馆周末延长开放",
    "慢速源第三条",
)


def slow_rss() -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>http://slow.example/{n}</link>"
        f"<guid>http://slow.example/{n}</guid>"
        f"<pubDate>Wed, 01 Jan 2025 0{n}:00:00 +0000</pubDate></item>"
        for n, title in enumerate(SLOW_TITLES, 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>慢速源</title><link>http://slow.example/</link><description>d</description>"
        f"{items}</channel></rss>"
    ).encode()


class Loopback:
    """A feed at ``/slow.xml`` that can be held, and a WebSub hub at ``/hub`` that records pings.

    Attributes:
        hold_from: feed requests from this arrival number on (1 = the first) wait until
            ``release`` is set (at most ``hold_timeout``); None holds none.
        active, max_active: feed requests being answered now / at most at once.
        arrivals, answered: feed requests received / fully answered.
        pings: the form fields of every POST to ``/hub``.
        hub_status: what ``/hub`` answers.
    """

    hold_timeout = 15.0

    def __init__(self) -> None:
        self.hold_from: int | None = None
        self.release = threading.Event()
        self.cond = threading.Condition()
        self.active = self.max_active = self.arrivals = self.answered = 0
        self.pings: list[dict[str, list[str]]] = []
        self.ping_types: list[str] = []
        self.hub_status = 204
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/slow.xml":
                    self.send_error(404)
                    return
                with owner.cond:
                    owner.active += 1
                    owner.arrivals += 1
                    owner.max_active = max(owner.max_active, owner.active)
                    # Decided under the lock, so a test that sets hold_from knows exactly
                    # which request will be held.
                    hold = owner.hold_from is not None and owner.arrivals >= owner.hold_from
                    owner.cond.notify_all()
                try:
                    if hold:
                        owner.release.wait(owner.hold_timeout)
                    body = slow_rss()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                    with owner.cond:
                        owner.answered += 1
                finally:
                    with owner.cond:
                        owner.active -= 1
                        owner.cond.notify_all()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                with owner.cond:
                    owner.pings.append(form)
                    owner.ping_types.append(self.headers.get("Content-Type", ""))
                    owner.cond.notify_all()
                self.send_response(owner.hub_status if self.path == "/hub" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_arrivals(self, n: int, timeout: float = 20.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.arrivals >= n, timeout):
                raise AssertionError(f"only {self.arrivals} feed request(s), expected {n}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    yield server
    server.close()


# --------------------------------------------------------------------------- project edits


def every_second(project: Path, *, merged: str = "1s") -> None:
    """Schedule news every second and merged every ``merged`` (shipped: ``every``, a crontab)."""
    for name, old, every in (
        ("news", r'^every = "15m"$', "1s"),
        ("merged", r"^schedule = .*$", merged),
    ):
        path = project / "feeds" / f"{name}.toml"
        text, n = re.subn(old, f'every = "{every}"', path.read_text(encoding="utf-8"), flags=re.M)
        assert n == 1, f"{path}: the shipped schedule line changed; update this test"
        path.write_text(text, encoding="utf-8")


def add_source(project: Path, feed: str, url: str) -> None:
    path = project / "feeds" / f"{feed}.toml"
    with path.open("a", encoding="utf-8") as f:
        f.write(f'\n[[sources]]\ntype = "feed"\nurl = "{url}"\nname = "慢速源"\n')


def set_top_level(project: Path, feed: str, line: str) -> None:
    """Add a top-level key (it must come before the first table)."""
    path = project / "feeds" / f"{feed}.toml"
    path.write_text(line + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")


def add_headline(project: Path, title: str) -> None:
    """Append a ranked headline to the page, atomically (as an editor's save would)."""
    page = project / "sources" / "news.txt"
    text = page.read_text(encoding="utf-8")
    last = max(int(n) for n in re.findall(r"^- (\d+)\.", text, re.M))
    tmp = page.with_name(".news.txt.tmp")
    tmp.write_text(text.rstrip("\n") + f"\n- {last + 1}.{title}\n", encoding="utf-8")
    os.replace(tmp, page)


def assert_outputs_complete(output: Path) -> None:
    """Every published file is whole and parses; no temporary file is left behind."""
    names = sorted(p.name for p in output.iterdir())
    assert not [n for n in names if n.startswith(".")], names
    assert {"news.xml", "news.atom", "news.json", "news.html", "index.html"} <= set(names)
    for path in output.iterdir():
        data = path.read_bytes()
        if path.suffix in (".xml", ".atom"):
            parsed = feedparser.parse(data)
            assert not parsed.bozo, (path.name, parsed.get("bozo_exception"))
            assert parsed.entries, path.name
        elif path.suffix == ".json":
            assert json.loads(data)["items"], path.name
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path.name


def headline_titles(feed_xml: bytes) -> list[str]:
    return [e.title for e in feedparser.parse(feed_xml).entries]


# --------------------------------------------------------------------------- feedloom run


def test_run_rebuilds_every_second_and_logs_one_json_line_per_build(
    project: Path, start: Callable[..., Service]
) -> None:
    # "2w" (weeks, as the config reference allows): merged builds at start, then not again.
    every_second(project, merged="2w")
    service = start("--log-format", "json", "run", cwd=project)
    # The first build runs at start; the following ones come from the 1 s interval.
    service.wait_for(r'"msg": "built".*"feed": "news"', count=3, timeout=25)
    news_xml = project / "output" / "news.xml"
    mtime = news_xml.stat().st_mtime_ns
    add_headline(project, "运行中新增的头条：地铁四号线延长段开通")
    service.wait_for(r'"feed": "news".*"new": 1\b', timeout=15)
    assert service.stop() == 0, service.stderr

    records = [json.loads(line) for line in service.lines]  # every line is JSON
    built = [r for r in records if r["msg"] == "built" and r["feed"] == "news"]
    for r in built:
        assert {"ts", "level", "entries", "new", "failed", "duration", "written"} <= set(r), r
        assert r["failed"] == 0 and isinstance(r["duration"], int | float)
    assert (built[0]["entries"], built[0]["new"]) == (40, 40)
    assert (built[1]["entries"], built[1]["new"], built[1]["written"]) == (40, 0, "-")
    changed = next(r for r in built if r["new"] == 1)
    assert changed["entries"] == 41 and "rss" in changed["written"]
    assert [r["feed"] for r in records if r["msg"] == "built"].count("merged") == 1
    # Idle rebuilds kept the file; the change rewrote it.
    assert news_xml.stat().st_mtime_ns != mtime
    # (Where it lands in date order is test_a_headline_added_seconds_later_is_the_newest.)
    assert "运行中新增的头条：地铁四号线延长段开通" in headline_titles(news_xml.read_bytes())
    assert records[-1]["msg"] == "scheduler stopped"


def test_sigterm_lets_the_slow_build_finish_and_runs_never_overlap(
    project: Path, start: Callable[..., Service], loopback: Loopback
) -> None:
    every_second(project)
    # Both feeds read the slow source, so the two jobs would overlap if anything let them.
    add_source(project, "news", f"{loopback.base}/slow.xml")
    add_source(project, "merged", f"{loopback.base}/slow.xml")
    service = start("run", cwd=project)
    # A few unhurried builds, then hold the next request and stop the service during it.
    loopback.wait_arrivals(3)
    with loopback.cond:
        held = loopback.hold_from = loopback.arrivals + 1
    loopback.wait_arrivals(held)
    # While it is held, the 1 s ticks of both jobs are skipped rather than piled up.
    service.wait_for(r"skipped: maximum number of running instances reached \(1\)", count=2)
    service.proc.send_signal(signal.SIGTERM)
    service.wait_for(r"stopping; waiting for running jobs reason=SIGTERM")
    time.sleep(0.3)
    assert service.proc.poll() is None, "exited without finishing the running build"
    built_before = len(service.matching(r"INFO built feed="))
    loopback.release.set()
    assert service.wait() == 0, service.stderr

    # The held request was answered and its build completed and was logged.
    assert loopback.answered == loopback.arrivals == held
    assert len(service.matching(r"INFO built feed=")) == built_before + 1
    assert loopback.max_active == 1, "two builds fetched at once"
    text_lines = service.matching(r"INFO built feed=")
    assert all(
        re.search(r"feed=\w+ entries=\d+ new=\d+ written=\S+ failed=0 duration=\d", line)
        for line in text_lines
    ), text_lines
    assert "Traceback" not in service.stderr and "ERROR" not in service.stderr, service.stderr
    assert_outputs_complete(project / "output")
    for name in ("news.xml", "merged.xml"):
        titles = headline_titles((project / "output" / name).read_bytes())
        assert set(SLOW_TITLES) <= set(titles), name


def test_a_headline_added_seconds_later_is_the_newest(project: Path, cli: CliRunner) -> None:
    # A service rebuilds every few seconds or minutes, not once a day.
    cli("build", "--now", "2025-01-02T08:00:00+08:00", "news", check=True)
    add_headline(project, "十秒后出现的头条")
    cli("build", "--now", "2025-01-02T08:00:10+08:00", "news", check=True)
    items = json.loads((project / "output" / "news.json").read_bytes())["items"]
    newest = max(items, key=lambda i: i["date_published"])
    assert newest["title"] == "十秒后出现的头条"


# --------------------------------------------------------------------------- the state lock


def holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (it opens the lock file, then polls it)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fd_dir.iterdir())
    except OSError:  # the process exited, or a descriptor closed while we looked
        return False


def test_second_build_waits_for_the_lock_or_gives_up_with_75(
    project: Path, start: Callable[..., Service], loopback: Loopback
) -> None:
    add_source(project, "merged", f"{loopback.base}/slow.xml")
    loopback.hold_from = 1
    first = start("build", cwd=project)
    loopback.wait_arrivals(1)  # the first build now holds the lock, inside the fetch

    impatient = start("build", "--wait", "0.2", cwd=project)
    assert impatient.wait() == 75, impatient.stderr
    lock_file = project / ".feedloom" / "state.sqlite.lock"
    assert "error: .feedloom/state.sqlite.lock: " in impatient.stderr  # the path as given
    assert f"another feedloom process (pid {first.pid}) holds the state lock" in impatient.stderr
    # index.html is written at the end of every build, whatever the feed order.
    assert not (project / "output" / "index.html").exists(), "a build ran without the lock"

    patient = start("build", cwd=project)  # --wait defaults to 10 s
    wait_until(lambda: holds_open(patient.pid, lock_file.resolve()), 15, "the lock to be tried")
    time.sleep(0.3)
    assert patient.proc.poll() is None and loopback.arrivals == 1, "it did not wait"
    loopback.release.set()
    assert first.wait() == 0, first.stderr
    assert patient.wait() == 0, patient.stderr

    assert re.search(
        r"^merged: \d+ entries, \d+ new, written rss,atom,json,html", first.stderr, re.M
    )
    assert re.search(r"^news: 40 entries, 0 new, unchanged", patient.stderr, re.M)
    assert loopback.arrivals == 2 and loopback.max_active == 1
    assert_outputs_complete(project / "output")
    with contextlib.closing(sqlite3.connect(project / ".feedloom" / "state.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# --------------------------------------------------------------------------- feedloom serve


def ttl_seconds(project: Path, feed: str) -> int:
    with (project / "feeds" / f"{feed}.toml").open("rb") as f:
        return int(tomllib.load(f).get("ttl", 60)) * 60


def raw_get(base: str, target: str) -> int:
    """Status of a request target sent byte for byte (no client-side ``..`` clean-up)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("GET", target, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture
def served(project: Path, cli: CliRunner, start: Callable[..., Service]) -> Iterator[str]:
    """``feedloom serve --port 0`` over a built project; yields its base URL."""
    # A distinct ttl per feed shows that Cache-Control follows each feed's own.
    path = project / "feeds" / "merged.toml"
    text = re.sub(r"^ttl = \d+$", "ttl = 7", path.read_text(encoding="utf-8"), flags=re.M)
    path.write_text(text, encoding="utf-8")
    # The state inside the served folder: the server must still never hand it out.
    cli("build", "--state", "output/.feedloom/state.sqlite", check=True)
    service = start("serve", "--port", "0", cwd=project)
    yield service.url()
    assert service.stop() == 0, service.stderr
    assert "Traceback" not in service.stderr


TYPES = {
    "news.xml": "application/rss+xml; charset=utf-8",
    "news.atom": "application/atom+xml; charset=utf-8",
    "news.json": "application/feed+json; charset=utf-8",
    "news.html": "text/html; charset=utf-8",
    "merged.xml": "application/rss+xml; charset=utf-8",
    "index.html": "text/html; charset=utf-8",
    "feeds.opml": "text/x-opml; charset=utf-8",
}


def test_live_server_types_validators_gzip_head(project: Path, served: str) -> None:
    # One server for every file: starting one per file would cost more than the checks.
    with requests.Session() as s:
        for name, content_type in TYPES.items():
            check_served_file(s, project, f"{served}/{name}", name, content_type)


def check_served_file(
    s: requests.Session, project: Path, url: str, name: str, content_type: str
) -> None:
    on_disk = (project / "output" / name).read_bytes()
    feed = name.split(".")[0]
    r = s.get(url, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200, name
    assert r.headers["Content-Type"] == content_type, name
    assert r.content == on_disk, name
    if feed in ("news", "merged"):
        max_age = ttl_seconds(project, feed)
        assert r.headers["Cache-Control"] == f"public, max-age={max_age}", name
    etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    mtime = (project / "output" / name).stat().st_mtime
    assert email.utils.parsedate_to_datetime(modified).timestamp() == int(mtime), name

    r = s.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert (r.status_code, r.content, r.headers["ETag"]) == (304, b"", etag), name
    r = s.get(url, headers={"If-Modified-Since": modified})
    assert (r.status_code, r.content) == (304, b""), name

    r = s.get(url, headers={"Accept-Encoding": "gzip"}, stream=True)
    assert r.headers["Content-Encoding"] == "gzip", name
    assert r.headers["ETag"] != etag, name
    assert gzip.decompress(r.raw.read()) == on_disk, name
    r = s.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["ETag"]})
    assert r.status_code == 304, name

    head = s.head(url, headers={"Accept-Encoding": "identity"})
    assert (head.status_code, head.content) == (200, b""), name
    assert head.headers["ETag"] == etag, name
    assert head.headers["Content-Type"] == content_type, name
    assert head.headers["Content-Length"] == str(len(on_disk)), name


def test_live_server_never_serves_the_state_or_the_project(project: Path, served: str) -> None:
    (project / "secret.html").write_text("<p>not for readers</p>", encoding="utf-8")
    # The files exist, so only the server's refusal can make these 404.
    assert (project / "output" / ".feedloom" / "state.sqlite").is_file()
    assert (project / "feeds" / "news.toml").is_file()
    for target in (
        "/../secret.html",
        "/%2e%2e/secret.html",
        "/..%2fsecret.html",
        "/../feeds/news.toml",
        "/.feedloom/state.sqlite",
        "/.feedloom/state.sqlite.lock",
        "/%2efeedloom/state.sqlite",
        "/.feedloom%2fstate.sqlite",
        str(project / "secret.html"),
        "//" + str(project / "secret.html"),
    ):
        assert raw_get(served, target) == 404, target
    assert raw_get(served, "/news.xml") == 200  # the same client gets real files


def test_serve_schedule_fills_an_empty_folder_and_readers_see_only_changes(
    project: Path, start: Callable[..., Service]
) -> None:
    every_second(project)
    output = project / "output"
    assert not output.exists()
    service = start("--log-format", "json", "serve", "--port", "0", "--schedule", cwd=project)
    url = service.url() + "/news.xml"
    with requests.Session() as reader:
        first: requests.Response | None = None

        def appeared() -> bool:
            nonlocal first
            first = reader.get(url)
            if first.status_code == 404:
                assert first.headers["Cache-Control"] == "no-cache"  # never cache "missing"
            return first.status_code == 200

        wait_until(appeared, 20, "news.xml to be built and served")
        assert first is not None
        etag = first.headers["ETag"]
        assert len(headline_titles(first.content)) == 40
        # Scheduled rebuilds with nothing new: the reader keeps getting 304.
        built = r'"msg": "built", "feed": "news"'
        seen = len(service.matching(built))
        for n in (1, 2):
            service.wait_for(built, count=seen + n)
            r = reader.get(url, headers={"If-None-Match": etag})
            assert (r.status_code, r.headers["ETag"]) == (304, etag)

        add_headline(project, "服务运行中新增的头条")
        deadline = time.monotonic() + 15
        while (r := reader.get(url, headers={"If-None-Match": etag})).status_code == 304:
            assert time.monotonic() < deadline, "the change never reached the reader"
            time.sleep(0.2)
        assert r.status_code == 200 and r.headers["ETag"] != etag
        assert "服务运行中新增的头条" in headline_titles(r.content)
        again = reader.get(url, headers={"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304
    assert service.stop() == 0, service.stderr
    # Log collectors get JSON only: the "serving" line and the access log included.
    records = [json.loads(line) for line in service.lines]
    assert {r["level"] for r in records} <= {"INFO", "WARNING"}, service.stderr
    assert sum(r["msg"].startswith("serving output on http://127.0.0.1:") for r in records) == 1
    assert any(r["logger"] == "feedloom.serve" and " 304 " in r["msg"] for r in records)
    assert records[-1]["msg"] == "scheduler stopped"
    assert_outputs_complete(output)


# --------------------------------------------------------------------------- WebSub


def self_urls(project: Path, feed: str) -> set[str]:
    with (project / "feeds" / f"{feed}.toml").open("rb") as f:
        base = tomllib.load(f)["base_url"]
    return {f"{base}{feed}{suffix}" for suffix in (".xml", ".atom", ".json")}


def test_hub_gets_one_ping_per_changed_format_and_none_when_unchanged(
    project: Path, cli: CliRunner, loopback: Loopback
) -> None:
    set_top_level(project, "news", f'hub = "{loopback.base}/hub"')
    expected = self_urls(project, "news")

    cli("build", check=True)
    assert len(loopback.pings) == 3, loopback.pings
    assert all(p["hub.mode"] == ["publish"] and len(p["hub.url"]) == 1 for p in loopback.pings)
    assert {p["hub.url"][0] for p in loopback.pings} == expected
    assert set(loopback.ping_types) == {"application/x-www-form-urlencoded"}

    proc = cli("build", check=True)
    assert "news: 40 entries, 0 new, unchanged" in proc.stderr
    assert len(loopback.pings) == 3, "an unchanged rebuild pinged the hub"

    add_headline(project, "推送测试新增的头条")
    cli("build", check=True)
    assert len(loopback.pings) == 6
    assert {p["hub.url"][0] for p in loopback.pings[3:]} == expected
    # The feeds advertise the hub, so subscribers know where to subscribe.
    feed = feedparser.parse((project / "output" / "news.atom").read_bytes()).feed
    assert f"{loopback.base}/hub" in [link.href for link in feed.links if link.rel == "hub"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("hub", ["answers 500", "is down"])
def test_a_failing_hub_never_fails_the_build(
    project: Path, cli: CliRunner, loopback: Loopback, hub: str
) -> None:
    loopback.hub_status = 500
    url = f"{loopback.base}/hub" if hub == "answers 500" else f"http://127.0.0.1:{closed_port()}/"
    set_top_level(project, "news", f'hub = "{url}"')
    started = time.monotonic()
    proc = cli("build")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 20
    assert "news: 40 entries, 40 new, written rss,atom,json,html" in proc.stderr
    warning = "answered HTTP 500" if hub == "answers 500" else "not reachable"
    assert len(re.findall(rf"hub {re.escape(url)} {warning}", proc.stderr)) == 3, proc.stderr
    assert_outputs_complete(project / "output")
