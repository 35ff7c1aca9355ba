"""`feed` sources in a real build against loopback HTTP servers."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from tests.conftest import CORPUS, CliRunner, requires_corpus, snapshot
from werkzeug.wrappers import Request, Response

pytestmark = requires_corpus

NOW = "2025-01-02T08:00:00+08:00"


def feed_toml(project: Path, urls: list[str], extra: str = "") -> None:
    """Replace the shipped feeds with one merged feed of ``urls``."""
    for f in (project / "feeds").iterdir():
        f.unlink()
    sources = "".join(f'\n[[sources]]\ntype = "feed"\nurl = "{u}"\n' for u in urls)
    (project / "feeds" / "agg.toml").write_text(
        f'title = "聚合"\nsite_url = "https://agg.example.org/"\n{extra}{sources}', encoding="utf-8"
    )


def etag_handler(body: bytes, etag: str, content_type: str, seen: list[dict[str, str]]):
    def handle(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=content_type, headers={"ETag": etag})

    return handle


def test_second_build_is_conditional_and_rewrites_nothing(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    seen: list[dict[str, str]] = []
    httpserver.expect_request("/guardian.rss").respond_with_handler(
        etag_handler(
            (CORPUS / "rssparser__guardian.rss").read_bytes(), '"g1"', "application/rss+xml", seen
        )
    )
    httpserver.expect_request("/heise.atom").respond_with_handler(
        etag_handler(
            (CORPUS / "rssparser__heise.atom").read_bytes(), 'W/"h1"', "application/atom+xml", seen
        )
    )
    feed_toml(project, [httpserver.url_for("/guardian.rss"), httpserver.url_for("/heise.atom")])
    first = cli("build", "--now", NOW, check=True)
    assert "agg: 70 entries" in first.stderr  # 55 + 15, none shared
    before = snapshot(project / "output")
    assert len(seen) == 2 and not any("If-None-Match" in h for h in seen)
    second = cli("build", "--now", "2025-01-02T09:00:00+08:00", check=True)
    assert "agg: 70 entries, 0 new, unchanged" in second.stderr
    assert len(seen) == 4
    # The validators are echoed exactly as received, weak ones included.
    assert sorted(h["If-None-Match"] for h in seen[2:]) == ['"g1"', 'W/"h1"']
    assert snapshot(project / "output") == before
    status = cli("status", check=True).stdout
    assert status.count("http=304") == 2


def test_dead_slow_and_broken_sources_never_fail_the_others(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/ok.atom").respond_with_data(
        (CORPUS / "rssparser__heise.atom").read_bytes(), content_type="application/atom+xml"
    )
    httpserver.expect_request("/html").respond_with_data(
        "<html><body>hi</body></html>", content_type="text/html"
    )
    httpserver.expect_request("/slow").respond_with_handler(
        lambda r: (time.sleep(3), Response("late"))[1]
    )
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"
    feed_toml(
        project,
        [
            httpserver.url_for("/ok.atom"),
            httpserver.url_for("/html"),
            httpserver.url_for("/slow"),
            dead,
        ],
        extra="[fetch]\ndeadline = 1\nread_timeout = 1\n",
    )
    # Tables must follow the top-level keys: move [fetch] after them.
    toml = project / "feeds" / "agg.toml"
    text = toml.read_text(encoding="utf-8").replace("[fetch]\ndeadline = 1\nread_timeout = 1\n", "")
    toml.write_text(text + "\n[fetch]\ndeadline = 1\nread_timeout = 1\n", encoding="utf-8")
    started = time.monotonic()
    proc = cli("build", "--now", NOW)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "3 of 4 sources failed" in proc.stderr
    assert elapsed < 10
    data = json.loads((project / "output" / "agg.json").read_bytes())
    assert len(data["items"]) == 15
    for needle in ("/html", "/slow", dead):
        assert needle in proc.stderr


def test_every_source_failing_keeps_outputs_and_exits_3(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/a.atom").respond_with_data(
        (CORPUS / "rssparser__heise.atom").read_bytes(), content_type="application/atom+xml"
    )
    feed_toml(project, [httpserver.url_for("/a.atom")])
    cli("build", "--now", NOW, check=True)
    before = snapshot(project / "output")
    httpserver.clear()
    httpserver.expect_request("/a.atom").respond_with_data("boom", status=500)
    proc = cli("build", "--now", NOW, "--force")
    assert proc.returncode == 3
    assert "every source failed" in proc.stderr and "500" in proc.stderr
    assert snapshot(project / "output") == before


def test_gone_source_keeps_its_history(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/a.atom").respond_with_data(
        (CORPUS / "rssparser__heise.atom").read_bytes(), content_type="application/atom+xml"
    )
    httpserver.expect_request("/b.xml").respond_with_data(
        (CORPUS / "rssparser__reddit.rss").read_bytes(), content_type="application/rss+xml"
    )
    feed_toml(project, [httpserver.url_for("/a.atom"), httpserver.url_for("/b.xml")])
    cli("build", "--now", NOW, check=True)
    httpserver.clear()
    httpserver.expect_request("/a.atom").respond_with_data("gone", status=410)
    httpserver.expect_request("/b.xml").respond_with_data(
        (CORPUS / "rssparser__reddit.rss").read_bytes(), content_type="application/rss+xml"
    )
    proc = cli("build", "--now", NOW)
    assert proc.returncode == 0
    assert "410" in proc.stderr
    third = cli("build", "--now", NOW)
    assert "gone" in third.stderr
    # The gone source is no longer asked, and its last good entries stay.
    assert sum(1 for r, _ in httpserver.log if r.path == "/a.atom") == 1
    data = json.loads((project / "output" / "agg.json").read_bytes())
    assert len(data["items"]) == 15 + 24


def test_quiet_build_reports_only_feeds_with_trouble(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    """``--quiet`` is for cron, which mails whatever a job prints: silence when all is well."""
    httpserver.expect_request("/guardian.rss").respond_with_data(
        (CORPUS / "rssparser__guardian.rss").read_bytes(), content_type="application/rss+xml"
    )
    httpserver.expect_request("/gone.xml").respond_with_data("nope", status=404)
    good, gone = httpserver.url_for("/guardian.rss"), httpserver.url_for("/gone.xml")
    feed_toml(project, [good])
    (project / "feeds" / "troubled.toml").write_text(
        'title = "坏"\nsite_url = "https://bad.example.org/"\n'
        f'[[sources]]\ntype = "feed"\nurl = "{good}"\n'
        f'[[sources]]\ntype = "feed"\nurl = "{gone}"\n',
        encoding="utf-8",
    )
    noisy = cli("build", "--now", NOW, "agg", check=True)
    assert noisy.stderr.startswith("agg: 55 entries, 55 new, written")
    quiet = cli("build", "--quiet", "--now", NOW, check=True)
    # The fetcher's own log line about the 404 comes too (timestamped): the report is the rest.
    lines = [line for line in quiet.stderr.splitlines() if not line[:4].isdigit()]
    assert lines[0].startswith("troubled: 55 entries, 55 new, written"), quiet.stderr
    assert lines[0].endswith(", 1 of 2 sources failed")
    assert lines[1].startswith(f"  source failed: {gone}") and "404" in lines[1]
    assert not any(line.startswith("agg:") for line in lines)
    (project / "feeds" / "troubled.toml").unlink()
    assert cli("build", "-q", "--now", NOW, check=True).stderr == ""
