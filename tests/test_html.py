"""Tests of the HTML page writer and the index page.

The pages are parsed back with lxml.html (libxml2's HTML parser) and checked for
structure, escaping, autodiscovery and order; nothing is compared with a copy
of our own output.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from feedloom.model import Entry, Feed, FeedMeta, SourceRef
from feedloom.writers import FORMATS, render
from feedloom.writers import html as html_writer

NEWS_TXT = Path(__file__).resolve().parent.parent / "sources" / "news.txt"
BASE = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> & "引号"'


def headlines() -> list[str]:
    text = NEWS_TXT.read_text(encoding="utf-8")
    titles = [t.strip() for t in re.findall(r"^- \d+\.(.+)$", text, re.M)]
    assert len(titles) == 40
    return titles


def make_feed(*, ranked: bool = True, **meta_changes) -> Feed:
    entries = []
    for n, title in enumerate(headlines(), 1):
        kw: dict = {}
        if n == 4:
            kw["source"] = SourceRef(
                title="东方快讯",
                url="https://other.example.com/feed.xml",
                link="https://other.example.com/",
            )
            kw["also_from"] = (SourceRef(title="申城日报", link="https://paper.example.net/"),)
        if n % 5 == 0:
            kw["summary"] = f"第{n}条新闻的摘要。"
        entries.append(
            Entry(
                id=f"urn:feedloom:news:{n}",
                title=title,
                link=f"https://news.example.org/{n}.html",
                published=BASE - timedelta(hours=(n * 7) % 40),
                rank=n if ranked or n % 2 else None,
                **kw,
            )
        )
    meta = FeedMeta(
        id="https://example.org/",
        title="上海新闻速递",
        link="https://example.org/",
        description="上海本地新闻",
        name="news",
    )
    return Feed(meta.evolve(**meta_changes), entries)


@pytest.fixture(scope="module")
def page() -> bytes:
    return html_writer.render(make_feed())


def parse(data: bytes) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(data)


def test_registered_format(page: bytes) -> None:
    assert FORMATS["html"] == ".html"
    assert render(make_feed(), "html") == page
    assert make_feed().render("html") == page


def test_page_structure(page: bytes) -> None:
    assert page.startswith(b"<!DOCTYPE html>\n")
    doc = parse(page)
    assert doc.get("lang") == "zh-CN"
    assert doc.xpath("//meta/@charset") == ["utf-8"]
    viewport = doc.xpath("//meta[@name='viewport']/@content")
    assert viewport and "width=device-width" in viewport[0]
    assert doc.findtext(".//title") == "上海新闻速递"
    assert doc.xpath("//h1//text()") == ["上海新闻速递"]
    styles = doc.xpath("//style")
    assert len(styles) == 1
    assert "@media (prefers-color-scheme: dark)" in styles[0].text


def test_no_script_and_no_external_assets(page: bytes) -> None:
    doc = parse(page)
    assert doc.xpath("//script|//img|//iframe|//object|//embed") == []
    assert doc.xpath("//@*[starts-with(name(), 'on')]") == []
    assert doc.xpath("//link[@rel='stylesheet']|//@src") == []
    # Every link goes to a web page or to a sibling output file.
    for href in doc.xpath("//a/@href|//link/@href"):
        assert href.startswith("https://") or re.fullmatch(r"news\.(xml|atom|json)", href), href


def test_csp_allows_exactly_the_inline_style(page: bytes) -> None:
    doc = parse(page)
    csp = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # falls back to default-src 'none'
    style = doc.xpath("//style")[0].text
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp


def test_autodiscovery_links(page: bytes) -> None:
    doc = parse(page)
    found = [(ln.get("type"), ln.get("href")) for ln in doc.xpath("//head/link[@rel='alternate']")]
    assert found == [
        ("application/rss+xml", "news.xml"),
        ("application/atom+xml", "news.atom"),
        ("application/feed+json", "news.json"),
    ]
    assert doc.xpath("//link[@rel='canonical']") == []


def test_autodiscovery_follows_configured_formats() -> None:
    urls = {"atom": "https://example.org/news.atom", "html": "https://example.org/news.html"}
    doc = parse(html_writer.render(make_feed(self_urls=urls)))
    found = [(ln.get("type"), ln.get("href")) for ln in doc.xpath("//head/link[@rel='alternate']")]
    assert found == [("application/atom+xml", "news.atom")]
    assert doc.xpath("//link[@rel='canonical']/@href") == ["https://example.org/news.html"]


def test_entries_in_rank_order(page: bytes) -> None:
    doc = parse(page)
    items = doc.xpath("//main/ol/li")
    assert len(items) == 40
    assert [int(li.get("value")) for li in items] == list(range(1, 41))
    assert [li.xpath("string(.//span[@class='rank'])") for li in items] == [
        str(n) for n in range(1, 41)
    ]
    assert [li.xpath("string(.//h2)") for li in items] == headlines()
    hrefs = [li.xpath(".//h2/a/@href")[0] for li in items]
    assert hrefs == [f"https://news.example.org/{n}.html" for n in range(1, 41)]


def test_partly_ranked_feed_is_an_unordered_list() -> None:
    doc = parse(html_writer.render(make_feed(ranked=False)))
    assert doc.xpath("//main/ol") == []
    items = doc.xpath("//main/ul/li")
    assert len(items) == 40
    assert all(li.get("value") is None for li in items)
    ranks = [li.xpath("string(.//span[@class='rank'])") for li in items]
    assert ranks == [str(n) if n % 2 else "" for n in range(1, 41)]


def test_dates_and_attribution(page: bytes) -> None:
    items = parse(page).xpath("//main/ol/li")
    for n, li in enumerate(items, 1):
        expected = BASE - timedelta(hours=(n * 7) % 40)
        assert li.xpath(".//time/@datetime") == [expected.isoformat()]
    meta4 = items[3].xpath("string(.//p[@class='meta'])")
    assert "来源: 东方快讯" in meta4
    assert "另见: 申城日报" in meta4
    assert items[3].xpath(".//p[@class='meta']/a/@href") == [
        "https://other.example.com/",
        "https://paper.example.net/",
    ]
    assert items[4].xpath("string(.//p[@class='summary'])") == "第5条新闻的摘要。"
    assert items[0].xpath(".//p[@class='summary']") == []


def test_hostile_strings_are_escaped() -> None:
    meta = FeedMeta(
        id="https://e.org/",
        title=HOSTILE,
        link="javascript:alert(3)",
        description=HOSTILE,
        name="x",
    )
    entry = Entry(
        id="urn:x:1",
        title=HOSTILE,
        link="javascript:alert(4)",
        summary=HOSTILE,
        source=SourceRef(title=HOSTILE, link="data:text/html,<script>alert(5)</script>"),
        rank=1,
    )
    data = html_writer.render(Feed(meta, [entry]))
    doc = parse(data)
    assert doc.xpath("//script|//img") == []
    assert doc.xpath("//@onerror|//@*[starts-with(name(), 'on')]") == []
    assert not [h for h in doc.xpath("//@href") if not h.startswith("x.")]  # no live link
    assert doc.findtext(".//title") == HOSTILE
    assert doc.xpath("string(//h1)") == HOSTILE
    assert doc.xpath("string(//main//h2)") == HOSTILE
    assert doc.xpath("string(//main//p[@class='summary'])") == HOSTILE
    assert doc.xpath("//meta[@name='description']/@content") == [HOSTILE]
    assert b"&lt;script&gt;" in data


def test_content_is_never_embedded() -> None:
    meta = FeedMeta(id="https://e.org/", title="t", link="https://e.org/")
    body = "<p>正文<b>加粗</b><script>steal()</script><style>p{}</style></p>" + "长" * 300
    entry = Entry(id="urn:x:1", title="一", link="https://e.org/1", content=body)
    doc = parse(html_writer.render(Feed(meta, [entry])))
    summary = doc.xpath("//main//p[@class='summary']")[0]
    assert len(summary) == 0  # text only, no <b>
    assert summary.text.startswith("正文加粗长")
    assert "steal" not in summary.text
    assert summary.text.endswith("…")
    assert len(summary.text) <= 201
    assert doc.xpath("//main//b|//main//script") == []


def test_text_is_clean_utf8_and_deterministic(page: bytes) -> None:
    assert html_writer.render(make_feed()) == page
    assert b"&#" not in page
    assert "意大利原版音乐剧".encode() in page
    feed = make_feed(title="控制\x00字符\x0b标题")
    data = html_writer.render(feed)
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", data)
    assert "控制字符标题".encode() in data


def test_language_and_empty_feed() -> None:
    meta = FeedMeta(id="https://e.org/", title="World", link="https://e.org/", language="en")
    doc = parse(html_writer.render(Feed(meta, [])))
    assert doc.get("lang") == "en"
    assert doc.xpath("//main/ol|//main/ul") == []
    assert doc.xpath("string(//main)").strip() == "No entries yet."


def test_index_lists_every_feed_sorted() -> None:
    news = make_feed().meta
    world = FeedMeta(
        id="https://w.example/",
        title=HOSTILE,
        link="https://w.example/",
        language="en",
        name="world",
        self_urls={"rss": "https://w.example/world.xml", "json": "https://w.example/world.json"},
    )
    data = html_writer.render_index([world, news])
    assert data == html_writer.render_index([news, world])  # order-independent
    doc = parse(data)
    assert doc.get("lang") == "zh-CN"
    assert doc.xpath("//script|//img") == []
    items = doc.xpath("//main/ul/li")
    assert [li.xpath("string(.//h2)") for li in items] == ["上海新闻速递", HOSTILE]
    assert items[0].xpath(".//a/@href") == [
        "news.html",
        "news.xml",
        "news.atom",
        "news.json",
        "https://example.org/",
    ]
    # world has no HTML page: its title links to the site; only its formats are listed.
    assert items[1].xpath(".//a/@href") == [
        "https://w.example/",
        "world.xml",
        "world.json",
        "https://w.example/",
    ]
    assert items[1].get("lang") == "en"
    discovery = doc.xpath("//head/link[@rel='alternate']/@href")
    assert discovery == ["news.xml", "news.atom", "news.json", "world.xml", "world.json"]


def test_index_without_feeds() -> None:
    doc = parse(html_writer.render_index([]))
    assert doc.xpath("//main/ul") == []
    assert doc.findtext(".//title") == "订阅源"


def test_times_are_shown_in_the_feeds_zone() -> None:
    from datetime import UTC, datetime

    from feedloom.model import Entry, Feed, FeedMeta
    from feedloom.writers.html import render

    when = datetime(2025, 1, 2, 0, 30, tzinfo=UTC)
    meta = FeedMeta(id="urn:x", title="t", link="https://x.example/", timezone="Asia/Shanghai")
    page = render(Feed(meta, [Entry(id="urn:e", title="e", published=when)])).decode()
    # 00:30 UTC is 08:30 in Shanghai; the machine-readable attribute stays UTC.
    assert "2025-01-02 08:30 UTC+08:00" in page
    assert 'datetime="2025-01-02T00:30:00' in page
    utc_page = render(
        Feed(meta.evolve(timezone="UTC"), [Entry(id="urn:e", title="e", published=when)])
    )
    assert b"2025-01-02 00:30 UTC<" in utc_page
