"""The news page in a real browser: Debian's headless Chromium against ``feedloom serve``.

Chromium is a system package, not a Python one (``.ci/run`` installs it). Without it
the test is skipped on a developer machine but fails under CI (``CI`` set), so the
check can never silently vanish from the pipeline.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
import requests
from tests.conftest import NEWS_PAGE, CliRunner
from tests.test_service import Service, child_env

pytestmark = pytest.mark.browser

SCRATCH = Path("/work/scratch")
PHONE = (412, 915)  # CSS pixels of a common Android phone
FEED_LINKS = [
    ("application/rss+xml", "news.xml"),
    ("application/atom+xml", "news.atom"),
    ("application/feed+json", "news.json"),
]


def expected_headlines() -> list[str]:
    """The 40 headlines in rank order, read from the page without feedloom."""
    text = NEWS_PAGE.read_text(encoding="utf-8")
    return [m.group(1).strip() for m in re.finditer(r"^- \d+\.(.+)$", text, re.MULTILINE)]


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser test")
        pytest.skip(message)
    return path


@pytest.fixture
def page_url(project: Path, cli: CliRunner) -> Iterator[str]:
    """``news.html`` on a live ``feedloom serve --port 0`` over a fresh build."""
    cli("build", check=True)
    service = Service(["serve", "--port", "0"], project)
    try:
        yield service.url() + "/news.html"
        assert service.stop() == 0, service.stderr
    finally:
        service.kill()


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            *args,
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def png_facts(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decoded pixel rows.

    A blank or single-colour screenshot has only a handful of distinct bytes; real text
    (anti-aliased glyphs, coloured links, badges) has many.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_news_page_in_headless_chromium(chromium: str, page_url: str, tmp_path: Path) -> None:
    dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", page_url).stdout
    root = lxml.html.fromstring(dom)

    # The 40 headlines, in rank order, numbered 1..40 both for the list and on screen.
    items = root.xpath("//main/ol[@class='entries']/li")
    titles = [" ".join(li.xpath(".//h2")[0].text_content().split()) for li in items]
    assert titles == [" ".join(t.split()) for t in expected_headlines()]
    assert len(titles) == 40
    assert [li.get("value") for li in items] == [str(n) for n in range(1, 41)]
    badges = [li.xpath(".//*[@class='rank']")[0].text_content() for li in items]
    assert badges == [str(n) for n in range(1, 41)]
    assert root.xpath("string(//title)") == "新闻热榜"

    # Autodiscovery: exactly the three feeds, and each link really is that feed.
    links = root.xpath("//head/link[@rel='alternate']")
    assert [(link.get("type"), link.get("href")) for link in links] == FEED_LINKS
    with requests.Session() as s:
        for media_type, href in FEED_LINKS:
            r = s.get(urljoin(page_url, href))
            assert r.status_code == 200, href
            assert r.headers["Content-Type"].split(";")[0] == media_type

    shot = tmp_path / "news.png"
    width, height = PHONE
    run_chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        page_url,
    )
    data = shot.read_bytes()
    assert len(data) > 10_000, f"screenshot is only {len(data)} bytes"
    got_width, got_height, distinct = png_facts(data)
    assert (got_width, got_height) == PHONE
    assert distinct > 64, f"screenshot looks blank ({distinct} distinct byte values)"
    if SCRATCH.is_dir():
        # For a person to look at; never committed.
        shutil.copyfile(shot, SCRATCH / "news.png")
