"""Tests of the RSS 2.0, Atom 1.0 and JSON Feed 1.1 writers.

The outputs are read back with independent consumers (feedparser, lxml, json)
and compared with the model, never with a copy of our own output. The fixture is
a realistic 40-entry Chinese feed built from the headlines of sources/news.txt.
"""

from __future__ import annotations

import html
import json
import os
import pickle
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedgen.version
import feedparser
import pytest
from lxml import etree

from feedloom.model import Author, Enclosure, Entry, Feed, FeedMeta, SourceRef
from feedloom.writers import FORMATS, MEDIA_TYPES, render

REPO = Path(__file__).resolve().parent.parent
NEWS_TXT = REPO / "sources" / "news.txt"

ATOM = "http://www.w3.org/2005/Atom"
FL = "https://feedloom.github.io/ns/1.0"
NS = {"a": ATOM, "fl": FL, "dc": "http://purl.org/dc/elements/1.1/"}
XML_FORMATS = ("rss", "atom")

BASE = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)
# Entry 3 was edited after everything else was published: the feed's updated.
NEWEST = BASE + timedelta(hours=2, minutes=30)
SELF = {
    "rss": "https://example.org/news.xml",
    "atom": "https://example.org/news.atom",
    "json": "https://example.org/news.json",
    "html": "https://example.org/news.html",
}
ORIGIN = SourceRef(
    id="https://other.example.com/",
    title="东方快讯",
    url="https://other.example.com/feed.xml",
    link="https://other.example.com/",
)
ALSO = SourceRef(id="urn:uuid:8e0b1f1c-0000-4000-8000-000000000001", title="申城日报",
                 url="https://paper.example.net/rss")  # fmt: skip


def headlines() -> list[tuple[int, str]]:
    """The ``- N.title`` lines of the news page, in page order."""
    text = NEWS_TXT.read_text(encoding="utf-8")
    found = [(int(n), t.strip()) for n, t in re.findall(r"^- (\d+)\.(.+)$", text, re.M)]
    assert len(found) == 40, f"{NEWS_TXT}: expected 40 headlines, found {len(found)}"
    return found


def news_entries() -> list[Entry]:
    entries = []
    for n, title in headlines():
        link = f"https://news.example.org/2020/{n:03d}.html"
        # A permutation of 0..39 hours: publication order is not page order.
        published: datetime | None = BASE - timedelta(hours=(n * 7) % 40)
        updated: datetime | None = None
        kw: dict = {}
        if n == 3:
            updated = NEWEST
        if n == 5:
            published, updated = None, BASE - timedelta(days=3)
        if n == 7:
            published = None  # no date at all: takes the feed's updated
        if n == 9:
            title = "控制\x00字符\x08与\x1f标题" + title
            kw["summary"] = "摘要\x0b中有\x0c控制字符"
        if n == 11:
            title += " A & B < C"
        if n % 4 == 0:
            kw["summary"] = f"第{n}条新闻的摘要。"
        if n % 6 == 0:
            kw["content"] = f"<p>第{n}条<b>正文</b></p>"
        if n % 5 == 0:
            kw["enclosures"] = (
                Enclosure(f"https://media.example.org/{n}.mp3", "audio/mpeg", 1000 + n),
                Enclosure(f"https://media.example.org/{n}.jpg", None, None),
            )
        if n % 3 == 0:
            kw["categories"] = ("上海", "民生")
        if n in (2, 13):
            kw["authors"] = (Author(name="记者 王芳"),)
        if n == 17:
            kw["authors"] = (Author(name="李明", email="liming@example.org"),)
        if n in (4, 8, 15):
            kw["source"] = ORIGIN
        if n == 8:
            kw["also_from"] = (ALSO,)
        ident = link if n % 10 == 1 else f"urn:feedloom:news:{n:04d}"
        entries.append(
            Entry(
                id=ident,
                title=title,
                link=None if n == 40 else link,
                published=published,
                updated=updated,
                rank=None if n == 39 else n,
                **kw,
            )
        )
    return entries


def news_meta(**changes) -> FeedMeta:
    meta = FeedMeta(
        id="https://example.org/",
        title="上海新闻\x0c速递",
        link="https://example.org/",
        description="上海本地新闻标题,每小时更新",
        rights="© 2020 示例新闻",
        contact="editor@example.org",
        ttl=60,
        self_urls=SELF,
        hub="https://hub.example.org/",
        name="news",
    )
    return meta.evolve(**changes)


@pytest.fixture(scope="module")
def feed() -> Feed:
    return Feed(meta=news_meta(), entries=news_entries())


@pytest.fixture(scope="module")
def out(feed: Feed) -> dict[str, bytes]:
    return {fmt: render(feed, fmt) for fmt in ("rss", "atom", "json")}


def xml(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(data, parser)


def expected_title(entry: Entry) -> str:
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", entry.title)


def expected_published(entry: Entry) -> datetime:
    # Worked out by hand from news_entries(): 5 has only `updated`, 7 has nothing.
    return entry.published or entry.updated or NEWEST


def expected_updated(entry: Entry) -> datetime:
    return entry.updated or expected_published(entry)


def assert_link(got: feedparser.FeedParserDict, entry: Entry) -> None:
    alternates = [ln.href for ln in got.get("links", []) if ln.rel == "alternate"]
    # feedparser copies an Atom id into `link` when there is no link, so
    # compare the alternate links it saw, not `link`.
    assert alternates == ([entry.link] if entry.link else []), entry.id
    if entry.link:
        assert got.link == entry.link


def struct_dt(value) -> datetime:
    return datetime(*value[:6], tzinfo=UTC)


# --- the interface ---------------------------------------------------------------


def test_formats_and_media_types() -> None:
    assert FORMATS == {"rss": ".xml", "atom": ".atom", "json": ".json", "html": ".html"}
    assert MEDIA_TYPES["rss"] == "application/rss+xml"
    assert MEDIA_TYPES["atom"] == "application/atom+xml"
    assert MEDIA_TYPES["json"] == "application/feed+json"
    assert set(MEDIA_TYPES) == set(FORMATS)


def test_unknown_format_is_a_value_error(feed: Feed) -> None:
    with pytest.raises(ValueError, match=r"'yaml'.*atom, html, json, rss"):
        render(feed, "yaml")


def test_feed_methods_use_the_writers(feed: Feed, out: dict[str, bytes]) -> None:
    assert feed.to_rss() == out["rss"]
    assert feed.to_atom() == out["atom"]
    assert feed.to_json() == out["json"]


# --- round trip through independent parsers -------------------------------------


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_feedparser_round_trip(feed: Feed, out: dict[str, bytes], fmt: str) -> None:
    parsed = feedparser.parse(out[fmt])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == {"rss": "rss20", "atom": "atom10"}[fmt]
    assert parsed.feed.title == "上海新闻速递"
    assert parsed.feed.link == "https://example.org/"
    assert [e.id for e in parsed.entries] == [e.id for e in feed.entries]
    for got, entry in zip(parsed.entries, feed.entries, strict=True):
        assert got.title == expected_title(entry)
        assert_link(got, entry)
        assert struct_dt(got.published_parsed) == expected_published(entry), entry.id
        if fmt == "atom":
            assert struct_dt(got.updated_parsed) == expected_updated(entry), entry.id


def test_json_round_trip(feed: Feed, out: dict[str, bytes]) -> None:
    doc = json.loads(out["json"])
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == "上海新闻速递"
    assert [i["id"] for i in doc["items"]] == [e.id for e in feed.entries]
    for item, entry in zip(doc["items"], feed.entries, strict=True):
        assert item["title"] == expected_title(entry)
        assert item.get("url") == entry.link
        assert datetime.fromisoformat(item["date_published"]) == expected_published(entry)
        assert datetime.fromisoformat(item["date_modified"]) == expected_updated(entry)


def test_all_formats_agree(feed: Feed, out: dict[str, bytes]) -> None:
    by_id = {e.id: e for e in feed.entries}
    rss = feedparser.parse(out["rss"]).entries
    atom = feedparser.parse(out["atom"]).entries
    items = json.loads(out["json"])["items"]
    for r, a, j in zip(rss, atom, items, strict=True):
        assert r.id == a.id == j["id"]
        assert r.title == a.title == j["title"]
        assert_link(r, entry := by_id[j["id"]])
        assert_link(a, entry)
        assert j.get("url") == entry.link
        assert struct_dt(r.published_parsed) == struct_dt(a.published_parsed)
        assert struct_dt(a.published_parsed) == datetime.fromisoformat(j["date_published"])


# --- rank and attribution survive in every format --------------------------------


def test_rank_in_every_format(feed: Feed, out: dict[str, bytes]) -> None:
    expected = [e.rank for e in feed.entries]
    assert None in expected  # entry 39 has no rank: no element for it
    rss = xml(out["rss"])
    atom = xml(out["atom"])
    rss_ranks = [item.findtext("fl:rank", namespaces=NS) for item in rss.iter("item")]
    atom_ranks = [e.findtext("fl:rank", namespaces=NS) for e in atom.iterfind("a:entry", NS)]
    json_ranks = [i.get("_feedloom", {}).get("rank") for i in json.loads(out["json"])["items"]]
    as_text = [None if r is None else str(r) for r in expected]
    assert rss_ranks == as_text
    assert atom_ranks == as_text
    assert json_ranks == expected
    assert rss.nsmap["feedloom"] == FL
    assert atom.nsmap["feedloom"] == FL


def test_rss_attribution(out: dict[str, bytes]) -> None:
    items = list(xml(out["rss"]).iter("item"))
    sources = [i.find("source") for i in items]
    attributed = [n for n, s in enumerate(sources, 1) if s is not None]
    assert attributed == [4, 8, 15]
    source = sources[3]
    assert source is not None
    assert source.get("url") == "https://other.example.com/feed.xml"  # the feed, not the site
    assert source.text == "东方快讯"
    also = items[7].findall("fl:also_from", NS)
    assert [dict(a.attrib) for a in also] == [
        {
            "id": "urn:uuid:8e0b1f1c-0000-4000-8000-000000000001",
            "title": "申城日报",
            "url": "https://paper.example.net/rss",
        }
    ]


def test_atom_source_element(out: dict[str, bytes]) -> None:
    entries = xml(out["atom"]).findall("a:entry", NS)
    assert [n for n, e in enumerate(entries, 1) if e.find("a:source", NS) is not None] == [
        4,
        8,
        15,
    ]
    src = entries[3].find("a:source", NS)
    assert src.findtext("a:id", namespaces=NS) == "https://other.example.com/"
    assert src.findtext("a:title", namespaces=NS) == "东方快讯"
    # The newest date among this output's entries from that origin: entry 8, published
    # 16 hours before BASE (entries 4 and 15: 28 and 25 hours), the same in each copy.
    dates = [entries[i].findtext("a:source/a:updated", namespaces=NS) for i in (3, 7, 14)]
    assert dates == ["2020-02-29T20:00:00+00:00"] * 3
    assert [child.tag.split("}")[1] for child in src] == ["id", "title", "updated", "link", "link"]
    links = {ln.get("rel"): ln.get("href") for ln in src.findall("a:link", NS)}
    assert links == {
        "alternate": "https://other.example.com/",
        "self": "https://other.example.com/feed.xml",
    }
    also = entries[7].find("fl:also_from", NS)
    assert also.get("title") == "申城日报"


def test_json_extension_object(out: dict[str, bytes]) -> None:
    items = json.loads(out["json"])["items"]
    assert items[7]["_feedloom"] == {
        "rank": 8,
        "source": {
            "id": "https://other.example.com/",
            "title": "东方快讯",
            "url": "https://other.example.com/feed.xml",
            "link": "https://other.example.com/",
        },
        "also_from": [
            {
                "id": "urn:uuid:8e0b1f1c-0000-4000-8000-000000000001",
                "title": "申城日报",
                "url": "https://paper.example.net/rss",
            }
        ],
    }
    assert "_feedloom" not in items[38]  # entry 39: no rank, no source


# --- determinism -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ("rss", "atom", "json"))
def test_render_is_deterministic(feed: Feed, out: dict[str, bytes], fmt: str) -> None:
    assert render(feed, fmt) == out[fmt]
    # A rebuilt, equal Feed (new objects) gives the same bytes too.
    assert render(Feed(news_meta(), news_entries()), fmt) == out[fmt]


def test_same_bytes_in_another_process_timezone_and_hash_seed(
    feed: Feed, out: dict[str, bytes], tmp_path: Path
) -> None:
    pickled = tmp_path / "feed.pickle"
    pickled.write_bytes(pickle.dumps(feed))
    code = (
        "import pickle, sys\n"
        "from feedloom.writers import render\n"
        "feed = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "for fmt in ('rss', 'atom', 'json'):\n"
        "    open(sys.argv[2] + '.' + fmt, 'wb').write(render(feed, fmt))\n"
    )
    env = dict(os.environ, TZ="Asia/Shanghai", PYTHONHASHSEED="12345", LC_ALL="C.UTF-8")
    subprocess.run(
        [sys.executable, "-c", code, str(pickled), str(tmp_path / "out")],
        env=env,
        check=True,
        timeout=60,
    )
    for fmt in ("rss", "atom", "json"):
        assert (tmp_path / f"out.{fmt}").read_bytes() == out[fmt], fmt


def test_no_clock_in_output() -> None:
    """Dates are 2020 and no title has a year: the current year must not appear."""
    year = str(datetime.now(UTC).year).encode()
    assert year != b"2020"
    entries = [
        Entry(id="urn:x:1", title="第一条", published=datetime(2020, 1, 2, tzinfo=UTC)),
        Entry(id="urn:x:2", title="第二条", link="https://example.org/2"),
    ]
    meta = FeedMeta(id="https://example.org/", title="无日期", link="https://example.org/")
    for fmt in ("rss", "atom", "json"):
        data = render(Feed(meta, entries), fmt)
        assert year not in data, fmt
        assert b"2020" in data, fmt


def test_feed_without_any_date_uses_the_epoch() -> None:
    meta = FeedMeta(id="https://example.org/", title="空", link="https://example.org/")
    feed = Feed(meta, [Entry(id="urn:x:1", title="没有日期")])
    atom = xml(render(feed, "atom"))
    assert atom.findtext("a:updated", namespaces=NS) == "1970-01-01T00:00:00+00:00"
    assert atom.findtext("a:entry/a:published", namespaces=NS) == "1970-01-01T00:00:00+00:00"
    rss = xml(render(feed, "rss"))
    assert rss.findtext("channel/lastBuildDate") == "Thu, 01 Jan 1970 00:00:00 +0000"
    empty = Feed(meta, [])
    assert xml(render(empty, "atom")).findtext("a:updated", namespaces=NS).startswith("1970")
    assert json.loads(render(empty, "json"))["items"] == []


def test_fractional_seconds_are_dropped_everywhere() -> None:
    when = datetime(2020, 6, 1, 8, 30, 15, 999_999, tzinfo=UTC)
    meta = FeedMeta(id="https://example.org/", title="t", link="https://example.org/")
    feed = Feed(meta, [Entry(id="urn:x:1", title="t", link="https://e.org/1", published=when)])
    atom = xml(render(feed, "atom"))
    assert atom.findtext("a:entry/a:published", namespaces=NS) == "2020-06-01T08:30:15+00:00"
    item = json.loads(render(feed, "json"))["items"][0]
    assert item["date_published"] == "2020-06-01T08:30:15+00:00"


# --- feedgen traps -----------------------------------------------------------------


def test_generator_has_no_version(out: dict[str, bytes]) -> None:
    version = feedgen.version.version_str.encode()
    atom = xml(out["atom"])
    gen = atom.find("a:generator", NS)
    assert gen.text == "feedloom"
    assert dict(gen.attrib) == {}  # no version=, no uri=
    assert xml(out["rss"]).findtext("channel/generator") == "feedloom"
    for fmt in XML_FORMATS:
        assert b"python-feedgen" not in out[fmt]
        assert version not in out[fmt]


def test_entry_order_is_feed_order(feed: Feed, out: dict[str, bytes]) -> None:
    ids = [e.id for e in feed.entries]
    # Page order differs from date order, so neither feedgen's prepend nor a
    # sort by date can pass this.
    by_date = sorted(feed.entries, key=expected_published, reverse=True)
    assert [e.id for e in by_date] != ids
    assert [i.findtext("guid") for i in xml(out["rss"]).iter("item")] == ids
    atom_ids = [e.findtext("a:id", namespaces=NS) for e in xml(out["atom"]).iterfind("a:entry", NS)]
    assert atom_ids == ids
    assert [i["id"] for i in json.loads(out["json"])["items"]] == ids


def test_atom_links_and_enclosures(feed: Feed, out: dict[str, bytes]) -> None:
    entries = xml(out["atom"]).findall("a:entry", NS)
    for elem, entry in zip(entries, feed.entries, strict=True):
        links = elem.findall("a:link", NS)
        # A link without rel is an alternate link too (RFC 4287 §4.2.7.2).
        alternates = [ln for ln in links if ln.get("rel", "alternate") == "alternate"]
        assert [ln.get("href") for ln in alternates] == ([entry.link] if entry.link else [])
        enclosures = [
            (ln.get("href"), ln.get("type"), ln.get("length"))
            for ln in links
            if ln.get("rel") == "enclosure"
        ]
        expected = [
            (e.url, e.type, None if e.length is None else str(e.length)) for e in entry.enclosures
        ]
        assert enclosures == expected, entry.id
        assert len(links) == len(alternates) + len(enclosures)
    assert any(e.enclosures for e in feed.entries)


def test_feed_updated_comes_from_entries(out: dict[str, bytes]) -> None:
    atom = xml(out["atom"])
    assert atom.findtext("a:updated", namespaces=NS) == "2020-03-01T14:30:00+00:00"
    rss = xml(out["rss"])
    assert rss.findtext("channel/lastBuildDate") == "Sun, 01 Mar 2020 14:30:00 +0000"


def test_meta_updated_wins_over_entries() -> None:
    when = datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC)
    feed = Feed(news_meta(updated=when), news_entries()[:3])
    atom = xml(render(feed, "atom"))
    assert atom.findtext("a:updated", namespaces=NS) == "2020-12-31T23:59:59+00:00"


def test_entry_updated_defaults_to_published_not_now(out: dict[str, bytes]) -> None:
    first = xml(out["atom"]).find("a:entry", NS)  # entry 1: published only
    published = first.findtext("a:published", namespaces=NS)
    assert published == "2020-03-01T05:00:00+00:00"  # BASE - 7 h
    assert first.findtext("a:updated", namespaces=NS) == published


# --- text: Chinese, escaping, control characters -------------------------------


@pytest.mark.parametrize("fmt", ("rss", "atom", "json"))
def test_chinese_is_literal_utf8(feed: Feed, out: dict[str, bytes], fmt: str) -> None:
    data = out[fmt]
    assert b"&#" not in data
    assert b"\\u" not in data
    data.decode("utf-8")
    for entry in feed.entries[:12]:
        assert expected_title(entry).split(" A &")[0].encode("utf-8") in data
    if fmt != "json":
        assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


@pytest.mark.parametrize("fmt", ("rss", "atom", "json"))
def test_control_characters_are_removed(out: dict[str, bytes], fmt: str) -> None:
    data = out[fmt]
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", data)
    assert "控制字符与标题".encode() in data
    assert "摘要中有控制字符".encode() in data


def test_hostile_strings_everywhere_do_not_crash() -> None:
    bad = "坏\x00\x01\x02\x0b\x0c\x1f\ufffe\uffff字"
    meta = FeedMeta(
        id="https://example.org/",
        title=bad,
        link="https://example.org/",
        description=bad,
        rights=bad,
        authors=(Author(name=bad, email="a@example.org"),),
    )
    entry = Entry(
        id="urn:x:" + bad,
        title=bad,
        summary=bad,
        content=f"<p>{bad}</p>",
        categories=(bad,),
        authors=(Author(name=bad),),
        source=SourceRef(title=bad, url="https://o.example/feed"),
        also_from=(SourceRef(title=bad),),
    )
    for fmt in ("rss", "atom", "json"):
        data = render(Feed(meta, [entry]), fmt)
        assert "坏字".encode() in data
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", data)
        assert "\ufffe".encode() not in data


def test_plain_text_summary_stays_text() -> None:
    meta = FeedMeta(id="https://example.org/", title="t", link="https://example.org/")
    text = "a < b & <i>c</i>"
    entry = Entry(id="urn:x:1", title="t", link="https://e.org/1", summary=text)
    rss = feedparser.parse(render(Feed(meta, [entry]), "rss")).entries[0].summary_detail
    # RSS <description> is HTML: the text is escaped once more, so a reader shows
    # the characters instead of an italic "c".
    assert rss.type == "text/html"
    assert "<i>" not in rss.value
    assert html.unescape(rss.value) == text
    atom = feedparser.parse(render(Feed(meta, [entry]), "atom")).entries[0].summary_detail
    assert (atom.type, atom.value) == ("text/plain", text)
    assert json.loads(render(Feed(meta, [entry]), "json"))["items"][0]["summary"] == text


# --- RSS 2.0 details ---------------------------------------------------------------


RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$"
)


def test_rss_channel(out: dict[str, bytes]) -> None:
    root = xml(out["rss"])
    assert root.get("version") == "2.0"
    ch = root.find("channel")
    assert ch.findtext("description") == "上海本地新闻标题,每小时更新"
    assert ch.findtext("language") == "zh-CN"
    assert ch.findtext("ttl") == "60"
    assert ch.findtext("copyright") == "© 2020 示例新闻"
    assert ch.findtext("managingEditor") == "editor@example.org (上海新闻速递)"
    assert ch.findtext("webMaster") == "editor@example.org (上海新闻速递)"
    links = {ln.get("rel"): ln.get("href") for ln in ch.findall("a:link", NS)}
    assert links == {"self": SELF["rss"], "hub": "https://hub.example.org/"}
    assert ch.findtext("link") == "https://example.org/"


def test_rss_items(feed: Feed, out: dict[str, bytes]) -> None:
    items = list(xml(out["rss"]).iter("item"))
    for item, entry in zip(items, feed.entries, strict=True):
        assert RFC822.match(item.findtext("pubDate")), item.findtext("pubDate")
        guid = item.find("guid")
        assert guid.get("isPermaLink") == ("true" if entry.id == entry.link else "false")
        assert [c.text for c in item.findall("category")] == list(entry.categories)
        enclosures = item.findall("enclosure")
        # RSS has room for one enclosure: the first.
        assert len(enclosures) == min(1, len(entry.enclosures))
    assert items[0].find("guid").get("isPermaLink") == "true"  # entry 1: id is its link
    assert items[1].find("guid").get("isPermaLink") == "false"
    enc = items[4].find("enclosure")
    assert dict(enc.attrib) == {
        "url": "https://media.example.org/5.mp3",
        "length": "1005",
        "type": "audio/mpeg",
    }
    assert items[1].findtext("dc:creator", namespaces=NS) == "记者 王芳"
    assert items[16].findtext("author") == "liming@example.org (李明)"
    assert items[16].find("dc:creator", NS) is None


def test_rss_description_and_content() -> None:
    meta = FeedMeta(id="https://example.org/", title="标题", link="https://example.org/")
    entries = [
        Entry(id="urn:x:1", title="一", summary="摘要", content="<p>正文</p>"),
        Entry(id="urn:x:2", title="二", content="<p>只有正文</p>"),
        Entry(id="urn:x:3", title="三", enclosures=(Enclosure("https://e.org/x"),)),
    ]
    ch = xml(render(Feed(meta, entries), "rss")).find("channel")
    assert ch.findtext("description") == "标题"  # required: falls back to the title
    assert ch.find("managingEditor") is None
    items = ch.findall("item")
    assert items[0].findtext("description") == "摘要"
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    assert items[0].findtext(content) == "<p>正文</p>"
    assert items[1].findtext("description") == "<p>只有正文</p>"
    enc = items[2].find("enclosure")
    assert (enc.get("length"), enc.get("type")) == ("0", "application/octet-stream")


def test_rss_contact_forms() -> None:
    def editor(**kw) -> str | None:
        meta = FeedMeta(id="https://e.org/", title="站点", link="https://e.org/", **kw)
        return xml(render(Feed(meta, []), "rss")).findtext("channel/managingEditor")

    assert editor(contact="Wang Fang <wf@example.org>") == "wf@example.org (Wang Fang)"
    assert editor(contact="wf@example.org (王芳)") == "wf@example.org (王芳)"
    assert editor(contact="wf@example.org", authors=(Author(name="编辑部"),)) == (
        "wf@example.org (编辑部)"
    )
    assert editor(contact="not an address") is None


# --- Atom 1.0 details --------------------------------------------------------------


def test_atom_feed(out: dict[str, bytes]) -> None:
    root = xml(out["atom"])
    assert root.tag == f"{{{ATOM}}}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-CN"
    assert root.findtext("a:id", namespaces=NS) == "https://example.org/"
    assert root.findtext("a:title", namespaces=NS) == "上海新闻速递"
    assert root.findtext("a:rights", namespaces=NS) == "© 2020 示例新闻"
    assert root.findtext("a:subtitle", namespaces=NS) == "上海本地新闻标题,每小时更新"
    links = {ln.get("rel"): ln.get("href") for ln in root.findall("a:link", NS)}
    assert links == {
        "self": SELF["atom"],
        "alternate": "https://example.org/",
        "hub": "https://hub.example.org/",
    }
    # No meta.authors: Atom still needs an author, named after the feed.
    assert [a.findtext("a:name", namespaces=NS) for a in root.findall("a:author", NS)] == [
        "上海新闻速递"
    ]


def test_atom_entries(feed: Feed, out: dict[str, bytes]) -> None:
    entries = xml(out["atom"]).findall("a:entry", NS)
    for elem, entry in zip(entries, feed.entries, strict=True):
        content = elem.find("a:content", NS)
        if entry.content:
            assert content.get("type") == "html"
            assert content.text == entry.content
        elif entry.link is None:
            assert content.get("type") == "text"  # required without an alternate link
        else:
            assert content is None
        assert [c.get("term") for c in elem.findall("a:category", NS)] == list(entry.categories)
    assert entries[3].findtext("a:summary", namespaces=NS) == "第4条新闻的摘要。"
    author = entries[16].find("a:author", NS)
    assert author.findtext("a:name", namespaces=NS) == "李明"
    assert author.findtext("a:email", namespaces=NS) == "liming@example.org"


def test_atom_feed_authors_from_meta() -> None:
    meta = FeedMeta(
        id="https://e.org/",
        title="站点",
        link="https://e.org/",
        authors=(Author(name="编辑部", email="ed@e.org", uri="https://e.org/about"), Author()),
    )
    root = xml(render(Feed(meta, []), "atom"))
    authors = root.findall("a:author", NS)
    assert len(authors) == 1
    assert [c.text for c in authors[0]] == ["编辑部", "ed@e.org", "https://e.org/about"]
    assert root.find("a:subtitle", NS) is None  # empty description: no subtitle


def test_atom_matches_rfc4287_schema(out: dict[str, bytes]) -> None:
    """Validate against the RELAX NG schema of RFC 4287 appendix B."""
    rng = Path(__file__).parent / "data" / "writers" / "atom.rng"
    schema = etree.RelaxNG(etree.parse(str(rng)))
    doc = xml(out["atom"])
    assert schema.validate(doc), schema.error_log
    # and the schema is not a pushover: an entry without id is rejected
    doc.find("a:entry", NS).remove(doc.find("a:entry/a:id", NS))
    assert not schema.validate(doc)


# --- JSON Feed 1.1 details -----------------------------------------------------------


def test_json_top_level(out: dict[str, bytes]) -> None:
    assert out["json"].endswith(b"}\n")
    assert out["json"].startswith(b'{\n  "version": "https://jsonfeed.org/version/1.1",\n')
    doc = json.loads(out["json"])
    assert list(doc) == [
        "version",
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "language",
        "hubs",
        "items",
    ]
    assert doc["home_page_url"] == "https://example.org/"
    assert doc["feed_url"] == SELF["json"]
    assert doc["language"] == "zh-CN"
    assert doc["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/"}]


def test_json_items_by_hand() -> None:
    """A two-entry feed against a JSON document written out by hand from the spec."""
    meta = FeedMeta(
        id="https://e.org/",
        title="站点",
        link="https://e.org/",
        language="en",
        authors=(Author(name="编辑部", email="ed@e.org"),),
        icon="https://e.org/favicon.png",
        logo="https://e.org/logo.png",
    )
    when = datetime(2020, 2, 3, 4, 5, 6, tzinfo=UTC)
    entries = [
        Entry(
            id="urn:x:1",
            title="一",
            link="https://e.org/1",
            summary="摘要",
            content="<p>正文</p>",
            published=when,
            updated=when + timedelta(hours=1),
            authors=(Author(name="王芳", uri="https://e.org/wf"),),
            categories=("上海",),
            enclosures=(Enclosure("https://e.org/a.mp3", "audio/mpeg", 12),),
            rank=1,
        ),
        Entry(id="urn:x:2", title="二", summary="只有摘要", published=when),
    ]
    assert json.loads(render(Feed(meta, entries), "json")) == {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "站点",
        "home_page_url": "https://e.org/",
        "icon": "https://e.org/logo.png",
        "favicon": "https://e.org/favicon.png",
        "language": "en",
        "authors": [{"name": "编辑部", "url": "mailto:ed@e.org"}],
        "items": [
            {
                "id": "urn:x:1",
                "url": "https://e.org/1",
                "title": "一",
                "content_html": "<p>正文</p>",
                "summary": "摘要",
                "date_published": "2020-02-03T04:05:06+00:00",
                "date_modified": "2020-02-03T05:05:06+00:00",
                "authors": [{"name": "王芳", "url": "https://e.org/wf"}],
                "tags": ["上海"],
                "attachments": [
                    {"url": "https://e.org/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 12}
                ],
                "_feedloom": {"rank": 1},
            },
            {
                "id": "urn:x:2",
                "title": "二",
                "content_text": "只有摘要",
                "summary": "只有摘要",
                "date_published": "2020-02-03T04:05:06+00:00",
                "date_modified": "2020-02-03T04:05:06+00:00",
            },
        ],
    }


def test_json_every_item_has_content(out: dict[str, bytes]) -> None:
    for item in json.loads(out["json"])["items"]:
        assert item.get("content_html") or item.get("content_text"), item["id"]
        for att in item.get("attachments", []):
            assert att["mime_type"]


def test_empty_titles_get_a_fallback() -> None:
    meta = FeedMeta(id="https://e.org/", title=" ", link="https://e.org/", name="news")
    entries = [
        Entry(id="urn:x:1", title="", summary="由摘要代替的标题"),
        Entry(id="urn:x:2", title="\x00", link="https://e.org/2"),
    ]
    feed = Feed(meta, entries)
    atom = xml(render(feed, "atom"))
    assert atom.findtext("a:title", namespaces=NS) == "news"
    titles = [e.findtext("a:title", namespaces=NS) for e in atom.iterfind("a:entry", NS)]
    assert titles == ["由摘要代替的标题", "https://e.org/2"]
    assert [i["title"] for i in json.loads(render(feed, "json"))["items"]] == titles
    assert [i.findtext("title") for i in xml(render(feed, "rss")).iter("item")] == titles


def test_unusable_enclosures_and_categories_are_dropped() -> None:
    meta = FeedMeta(id="https://e.org/", title="站点", link="https://e.org/")
    entry = Entry(
        id="urn:x:1",
        title="一",
        link="https://e.org/1",
        categories=("", "  ", "上海"),
        enclosures=(Enclosure(""), Enclosure("https://e.org/a.mp3", "audio/mpeg", -1)),
    )
    feed = Feed(meta, [entry])
    item = xml(render(feed, "rss")).find("channel/item")
    assert [c.text for c in item.findall("category")] == ["上海"]
    assert item.find("enclosure").get("length") == "0"
    atom_entry = xml(render(feed, "atom")).find("a:entry", NS)
    enclosures = [ln for ln in atom_entry.findall("a:link", NS) if ln.get("rel") == "enclosure"]
    assert [dict(ln.attrib) for ln in enclosures] == [
        {"rel": "enclosure", "href": "https://e.org/a.mp3", "type": "audio/mpeg"}
    ]
    item_json = json.loads(render(feed, "json"))["items"][0]
    assert item_json["tags"] == ["上海"]
    assert item_json["attachments"] == [{"url": "https://e.org/a.mp3", "mime_type": "audio/mpeg"}]


def test_a_malformed_source_url_never_crashes_a_writer() -> None:
    from datetime import UTC, datetime

    from feedloom.model import Entry, Feed, FeedMeta, SourceRef

    ref = SourceRef(id="http://[broken", title="odd", url="http://[broken", link="http://[broken")
    entry = Entry(
        id="urn:x:1",
        title="t",
        link="http://[broken",
        source=ref,
        published=datetime(2024, 1, 1, tzinfo=UTC),
    )
    feed = Feed(FeedMeta(id="urn:x", title="f", link="https://x.example/"), [entry])
    for fmt in ("rss", "atom", "json", "html"):
        assert b"urn:x:1" in feed.render(fmt) or fmt == "html"


def test_author_emails_that_are_not_addresses_are_dropped() -> None:
    """External feeds put placeholders and names in e-mail fields (the real-world corpus
    has ``atom_0.3.feed.entry[1].author.email``); written as-is they broke Atom's schema
    and the W3C validator. An IDN domain is kept, in punycode."""
    when = datetime(2024, 1, 1, tzinfo=UTC)
    entries = [
        Entry(id="urn:x:1", title="a", link="https://x.example/1", published=when,
              authors=(Author(name="Ann", email="feed.entry[1].author.email"),)),
        Entry(id="urn:x:2", title="b", link="https://x.example/2", published=when,
              authors=(Author(email="not an address"), Author(name="Bo", email="mailto:bo@x.org"))),
        Entry(id="urn:x:3", title="c", link="https://x.example/3", published=when,
              authors=(Author(name="王", email="wang@例子.中国"),)),
    ]  # fmt: skip
    meta = FeedMeta(id="urn:x", title="f", link="https://x.example/", contact="editor (at) x")
    feed = Feed(meta, entries)
    atom = xml(render(feed, "atom"))
    people = [
        [(c.tag.split("}")[1], c.text) for c in a]
        for e in atom.findall("a:entry", NS)
        for a in e.findall("a:author", NS)
    ]
    assert people == [
        [("name", "Ann")],
        # an author with nothing left is no author at all
        [("name", "Bo"), ("email", "bo@x.org")],
        [("name", "王"), ("email", "wang@xn--fsqu00a.xn--fiqs8s")],
    ]
    rng = Path(__file__).parent / "data" / "writers" / "atom.rng"
    schema = etree.RelaxNG(etree.parse(str(rng)))
    assert schema.validate(atom), schema.error_log
    rss = xml(render(feed, "rss"))
    # RSS <author> must be an address: only entries whose every author has one get it.
    assert [i.findtext("author") for i in rss.iter("item")] == [
        None,
        "bo@x.org (Bo)",
        "wang@xn--fsqu00a.xn--fiqs8s (王)",
    ]
    assert rss.find("channel/managingEditor") is None  # the contact is no address either
    items = json.loads(render(feed, "json"))["items"]
    assert [i.get("authors") for i in items] == [
        [{"name": "Ann"}],
        [{"name": "Bo", "url": "mailto:bo@x.org"}],
        [{"name": "王", "url": "mailto:wang@xn--fsqu00a.xn--fiqs8s"}],
    ]
