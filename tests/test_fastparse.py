"""Tests for feedloom.fastparse: the lxml reader must give what the feedparser reader gives.

The differential tests read every real-world corpus file and a generated sample with
both readers (forced through parse_bytes' private ``_parser``) and compare the model
field by field. Every difference is either fixed or listed in ALLOWED with the reason;
an ALLOWED entry that no longer differs fails too, so the list cannot rot.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import CORPUS

from feedloom.errors import ParseError
from feedloom.model import Author, Enclosure
from feedloom.parse import ParsedFeed, parse_bytes

ROOT = Path(__file__).resolve().parents[1]

NOW = datetime(2024, 6, 1, tzinfo=UTC)
URL = "https://feeds.example.org/feed.xml"

# (corpus file, field) -> why the readers differ. Fields are named as in snapshot().
ALLOWED: dict[tuple[str, str], str] = {
    # feedparser's _save_author writes itunes:owner's <itunes:name>/<itunes:email> into
    # the last feed author (the owner is the publisher, not an author); fastparse keeps
    # the owner out, so the author is the one the feed names.
    ("feedrs__rss_2.0_bbc.xml", "meta.authors"): "itunes:owner written into the author",
    ("feedrs__rss_2.0_nightvale.xml", "meta.authors"): "itunes:owner written into the author",
    ("feedrs__rss_2.0_spiegel.xml", "meta.authors"): "itunes:owner written into the author",
    ("rsparser__theomnishow.rss", "meta.authors"): "itunes:owner written into the author",
    ("rssparser__narro.rss", "meta.authors"): "itunes:owner written into the author",
    # RSS 1.0 puts <image> beside <channel>, inside <rdf:RDF>; feedparser stops storing
    # feed values at </channel> and drops it. fastparse reads it, as RSS 1.0 intends.
    ("rome__slashdot.xml", "meta.logo"): "RSS 1.0 <image> outside <channel>",
}


def _manifest() -> list[str]:
    if not CORPUS.is_dir():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return sorted(row["file"] for row in csv.DictReader(handle, delimiter="\t"))


CORPUS_FILES = _manifest()
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason=f"corpus not present at {CORPUS}")


def snapshot(feed: ParsedFeed) -> dict[str, Any]:
    """Every field of the result that a reader decides, by name."""
    meta = feed.meta
    values: dict[str, Any] = {
        "format": feed.format,
        "ttl": feed.ttl,
        "update_period": feed.update_period,
        "warnings": feed.warnings,
        "entries.count": len(feed.entries),
    }
    for name in (
        "id", "title", "link", "description", "language", "rights", "authors", "ttl",
        "icon", "logo", "updated",
    ):  # fmt: skip
        values[f"meta.{name}"] = getattr(meta, name)
    values["meta.self_urls"] = dict(meta.self_urls)
    for name in (
        "id", "title", "link", "summary", "content", "published", "updated", "authors",
        "categories", "enclosures", "source",
    ):  # fmt: skip
        values[f"entries.{name}"] = [getattr(entry, name) for entry in feed.entries]
    return values


def differences(one: ParsedFeed, two: ParsedFeed) -> dict[str, tuple[Any, Any]]:
    a, b = snapshot(one), snapshot(two)
    return {key: (a[key], b[key]) for key in a if a[key] != b[key]}


def read_both(data: bytes, url: str = URL) -> tuple[ParsedFeed | ParseError, ParsedFeed | None]:
    """(feedparser's result or error, lxml's result or None if it declined).

    JSON, and documents refused before a reader is chosen (empty, HTML, bad JSON), give
    the same result on both paths and count as declined.
    """
    try:
        slow: ParsedFeed | ParseError = parse_bytes(data, url=url, now=NOW, _parser="feedparser")
    except ParseError as exc:
        slow = exc
    try:
        fast = parse_bytes(data, url=url, now=NOW, _parser="lxml")
    except ParseError as exc:
        if "lxml reader declined" not in str(exc):
            assert isinstance(slow, ParseError) and str(slow) == str(exc)
        return slow, None
    if fast.parser == "json":
        assert isinstance(slow, ParsedFeed) and differences(slow, fast) == {}
        return slow, None
    assert fast.parser == "lxml"
    return slow, fast


def assert_same(name: str, data: bytes, url: str = URL) -> ParsedFeed | None:
    slow, fast = read_both(data, url)
    if fast is None:
        # Declined: the default path must then be feedparser's, with the same result.
        try:
            default = parse_bytes(data, url=url, now=NOW)
        except ParseError as exc:
            assert isinstance(slow, ParseError) and str(exc) == str(slow)
            return None
        assert default.parser in ("feedparser", "json")
        assert isinstance(slow, ParsedFeed) and differences(slow, default) == {}
        return None
    assert isinstance(slow, ParsedFeed), f"feedparser failed where lxml read it: {slow}"
    found = differences(slow, fast)
    allowed = {field for (file, field) in ALLOWED if file == name}
    unexpected = {k: v for k, v in found.items() if k not in allowed}
    assert unexpected == {}, f"{name}: readers differ on {sorted(unexpected)}"
    assert allowed <= set(found), f"{name}: ALLOWED lists {allowed - set(found)} but they agree"
    default = parse_bytes(data, url=url, now=NOW)
    assert default.parser == "lxml" and differences(fast, default) == {}
    return fast


# --- differential: real-world corpus ------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("name", CORPUS_FILES or ["(corpus missing)"])
def test_corpus_file_reads_the_same_with_both_readers(name: str) -> None:
    assert_same(name, (CORPUS / name).read_bytes(), url=(CORPUS / name).resolve().as_uri())


def test_allowed_differences_name_corpus_files() -> None:
    if CORPUS_FILES:
        assert {file for file, _ in ALLOWED} <= set(CORPUS_FILES)


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "rsparser__DaringFireball.atom",  # Atom 1.0, xml:base, HTML content
        "rsparser__kc0011.rss",  # GB2312, re-encoded to UTF-8 before lxml sees it
        "rsparser__bio.rdf",  # RSS 1.0
        "feedjira__google_alerts_atom.xml",  # type="html" titles, tag: ids
        "feedrs__rss_2.0_bbc.xml",  # podcast: description + itunes:summary
        "feedjira__youtube_atom.xml",  # media:group with media:title and description
    ],
)
def test_well_formed_corpus_feeds_take_the_fast_path(name: str) -> None:
    path = CORPUS / name
    assert parse_bytes(path.read_bytes(), url=path.as_uri(), now=NOW).parser == "lxml"


FIXTURES = ROOT / "tests" / "data" / "parse"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_parse_fixture_reads_the_same_with_both_readers(name: str) -> None:
    # The hand-checked fixtures of test_parse.py: xml:base, XHTML, hostile HTML, dates.
    assert_same(name, (FIXTURES / name).read_bytes(), url="https://example.org/feeds/main.xml")


# --- differential: generated corpus ------------------------------------------------


def _generated(tmp: Path) -> Iterator[Path]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from gen_corpus import generate  # bench/ is scripts, not a package
    finally:
        sys.path.remove(str(ROOT / "bench"))
    generate(tmp, feeds=16, seed=20240601)
    return iter(sorted(tmp.glob("feed-*")))


def test_generated_corpus_reads_the_same_with_both_readers(tmp_path: Path) -> None:
    files = list(_generated(tmp_path))
    assert len(files) == 16
    for path in files:
        fast = assert_same(path.name, path.read_bytes(), url=f"https://bench.example/{path.name}")
        assert fast is not None, f"{path.name}: well-formed RSS/Atom must not fall back"


# --- what makes it decline ---------------------------------------------------------

RSS = (
    '<rss version="2.0"><channel><title>t</title><item><guid>https://x.example/1</guid>'
    "<title>one</title>{}</item></channel></rss>"
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (RSS.format("<description>unclosed").encode(), "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]>'
            + RSS.format("<description>&e;</description>").encode(),
            "DOCTYPE",
        ),
        (
            b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91">'
            b"<channel><title>t</title><item><title>a</title></item></channel></rss>",
            "network entity|DOCTYPE",  # the external DTD is never fetched
        ),
        (
            b'<rss version="0.92"><channel><title>t</title><item><title>a</title></item>'
            b"</channel></rss>",
            "not RSS 2.0",
        ),
        (
            b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>t</title>'
            b"<entry><id>x:1</id></entry></feed>",
            "not RSS 2.0",
        ),
        (RSS.format("<description>a</description><summary>b</summary>").encode(), None),
        (RSS.format("<description><p>markup</p></description>").encode(), "holds elements"),
        (RSS.format("<content>guess my type</content>").encode(), "<content> in RSS"),
        # feedparser stores an element it has no handler for under its name; this one
        # would land on a name we read.
        (RSS.format('<enclosures xmlns="urn:x">x</enclosures>').encode(), "read by feedparser"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>x:1</id>'
            b'<content type="image/png">iVBORw0KGgo=</content></entry></feed>',
            "type 'image/png'",
        ),
        (("<a>" * 300 + "</a>" * 300).encode(), "not well-formed"),  # libxml2 depth limit
    ],
)
def test_declines_what_it_cannot_read_as_feedparser_would(data: bytes, reason: str | None) -> None:
    slow, fast = read_both(data)
    if reason is None:  # handled: a second summary is content, as in feedparser
        assert fast is not None and isinstance(slow, ParsedFeed)
        assert differences(slow, fast) == {}
        return
    assert fast is None
    with pytest.raises(ParseError, match=reason):
        parse_bytes(data, url=URL, now=NOW, _parser="lxml")


def test_entity_expansion_never_happens_on_the_fast_path() -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{levels}]>'
        + RSS.format("<description>&l9;</description>")
    ).encode()
    # Declared entities are refused before either reader runs, whichever is asked for.
    for parser in ("lxml", "feedparser", None):
        with pytest.raises(ParseError, match="declares XML entities"):
            parse_bytes(data, url=URL, now=NOW, _parser=parser)
    # The lxml reader on its own refuses any DOCTYPE too (the pre-check aside).
    from feedloom import fastparse

    with pytest.raises(fastparse.Unsupported):
        fastparse.read(data.replace(b"&l9;", b"&l1;"))


# Every character XML 1.0 forbids: C0 controls but tab, LF and CR; U+FFFE and U+FFFF.
# (Surrogates cannot reach the reader: no decoder feedloom uses produces them.)
FORBIDDEN_CHARS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + [
    "\ufffe",
    "\uffff",
]
# Everywhere a character can sit in a document; X marks the spot.
FORBIDDEN_PLACES = [
    "<rss version='2.0'><channel><title>X</title></channel></rss>",
    "<rss version='2.0'><channel><title a='X'>t</title></channel></rss>",
    "<rss version='2.0'><channel><!--X--><title>t</title></channel></rss>",
    "<rss version='2.0'><channel><?pi X?><title>t</title></channel></rss>",
    "<rss version='2.0'><channel><title><![CDATA[X]]></title></channel></rss>",
    "<rss version='2.0'><channel>X<title>t</title></channel></rss>",
    "<rss version='2.0'><channel><title>t</title></channel></rss><!--X-->",
    "<!--X--><rss version='2.0'><channel><title>t</title></channel></rss>",
    "<rss version='2.0'><channel><title>&#REF;</title></channel></rss>",
]


@pytest.mark.parametrize("place", FORBIDDEN_PLACES)
def test_libxml2_refuses_every_character_xml_forbids(place: str) -> None:
    # parse.py relies on this: a document lxml reads needs no clean_text pass.
    from feedloom import fastparse

    clean = place.replace("X", "x").replace("&#REF;", "&#120;")
    fastparse.read(('<?xml version="1.0" encoding="utf-8"?>\n' + clean).encode())
    for char in FORBIDDEN_CHARS:
        doc = place.replace("X", char).replace("REF", f"x{ord(char):x}")
        with pytest.raises(fastparse.Unsupported):
            fastparse.read(('<?xml version="1.0" encoding="utf-8"?>\n' + doc).encode())


def test_forbidden_characters_are_removed_and_the_document_read_by_lxml() -> None:
    data = (
        '<rss version="2.0"><channel><title>t\x1f</title><item><guid>https://x.example/1</guid>'
        "<title>a\x0bb\ufffe</title><description>&lt;p&gt;c\x01d&lt;/p&gt;</description>"
        "</item></channel></rss>"
    ).encode()
    slow, fast = read_both(data)
    assert fast is not None and isinstance(slow, ParsedFeed)
    assert differences(slow, fast) == {}
    assert fast.parser == "lxml"
    assert fast.entries[0].title == "ab" and fast.entries[0].content == "<p>cd</p>"
    assert fast.meta.title == "t"
    assert fast.warnings[0] == "removed 4 character(s) not allowed in XML"


# --- feedparser's readings, mirrored (expected values worked out from the XML) -------


def test_parser_is_reported() -> None:
    assert parse_bytes(RSS.format("").encode(), url=URL, now=NOW).parser == "lxml"
    broken = RSS.format("<description>a & b</description>").encode()
    assert parse_bytes(broken, url=URL, now=NOW).parser == "feedparser"
    json_feed = b'{"version": "https://jsonfeed.org/version/1.1", "items": []}'
    assert parse_bytes(json_feed, url=URL, now=NOW).parser == "json"


def _fast(body: str, wrapper: str = RSS) -> ParsedFeed:
    data = wrapper.format(body).encode()
    slow, fast = read_both(data)
    assert fast is not None and isinstance(slow, ParsedFeed)
    assert differences(slow, fast) == {}
    return fast


def test_second_description_becomes_content() -> None:
    # feedparser files a second summary-like element as content while there is none.
    entry = _fast(
        "<description>short &lt;b&gt;one&lt;/b&gt;</description>"
        "<itunes:summary xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd'>"
        "long &lt;i&gt;two&lt;/i&gt;</itunes:summary>"
    ).entries[0]
    assert entry.summary == "short one"
    assert entry.content == "long <i>two</i>"


def test_first_title_wins_and_guid_is_the_link() -> None:
    entry = _fast("<title>second</title>").entries[0]
    assert entry.title == "one"
    # isPermaLink defaults to true: the guid doubles as the link
    assert entry.link == entry.id == "https://x.example/1"


def test_not_a_permalink_guid_is_no_link() -> None:
    wrapper = RSS.replace("<guid>", '<guid isPermaLink="false">')
    assert _fast("", wrapper).entries[0].link is None


def test_rss_author_and_atom_person() -> None:
    entry = _fast("<author>jo@example.com (Jo Writer)</author>").entries[0]
    assert entry.authors == (Author(name="Jo Writer", email="jo@example.com"),)
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x:feed</id>'
        "<entry><id>urn:x:1</id><title>a</title>{}</entry></feed>"
    )
    person = _fast(
        "<author><name>Ann</name><email>ann@example.com</email>"
        "<uri>https://ann.example/</uri></author>",
        atom,
    ).entries[0]
    assert person.authors == (
        Author(name="Ann", email="ann@example.com", uri="https://ann.example/"),
    )


def test_atom_xhtml_content_and_enclosure_link() -> None:
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example/blog/">'
        "<title>t</title><id>urn:x:feed</id><entry><id>urn:x:1</id>{}</entry></feed>"
    )
    entry = _fast(
        '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>bold</b> '
        'title</div></title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<p>See <a href="next.html">next</a><br/>line</p></div></content>'
        '<link rel="enclosure" href="ep.mp3" length="42"/>',
        atom,
    ).entries[0]
    assert entry.title == "A bold title"
    assert entry.content == (
        '<p>See <a href="https://a.example/blog/next.html" rel="noopener noreferrer">next</a>'
        "<br>line</p>"
    )
    # feedparser gives an enclosure link without a type the link default, text/html
    assert entry.enclosures == (
        Enclosure(url="https://a.example/blog/ep.mp3", type="text/html", length=42),
    )


@pytest.mark.parametrize(
    ("data", "header", "expected"),
    [
        (b'<rss version="2.0" xml:lang="fr"><channel>', "pt-BR", "fr"),
        (b'<rss version="2.0" xml:lang=""><channel>', "pt-BR", "pt-BR"),
        (b'<rss version="2.0" lang="en_US"><channel>', None, "en-US"),
        (b'<rss version="2.0" lang="it"><channel><language>es</language>', "pt-BR", "es"),
        # feedparser ignores xml:lang on <rdf:RDF>, but not the header
        (
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns="http://purl.org/rss/1.0/" xml:lang="de"><channel rdf:about="x">',
            "pt-BR",
            "pt-BR",
        ),
    ],
)
def test_feed_language_from_root_header_and_element(
    data: bytes, header: str | None, expected: str
) -> None:
    rdf = data.startswith(b"<rdf")
    data += b"<title>t</title><link>http://a.example/</link></channel>"
    if rdf:
        data += b'<item rdf:about="http://a.example/1"><title>i</title></item></rdf:RDF>'
    else:
        data = data.replace(b"</channel>", b"<item><guid>http://a.example/1</guid></item>")
        data += b"</channel></rss>"
    headers = {"Content-Language": header} if header else {}
    for parser in ("lxml", "feedparser"):
        feed = parse_bytes(data, url=URL, headers=headers, now=NOW, _parser=parser)
        assert feed.meta.language == expected, parser


def test_mojibake_is_repaired_as_feedparser_does() -> None:
    # "cafÃ©" is UTF-8 read as ISO-8859-1; feedparser turns it back into "café".
    assert _fast("<description>caf\u00c3\u00a9</description>").entries[0].summary == "café"


def test_c1_controls_become_windows_1252_characters_in_any_text() -> None:
    # feedparser maps U+0080-U+009F to what those bytes mean in windows-1252 (0x85 is
    # "…", 0x80 "€", 0x93/0x94 curly quotes), in Latin text and in CJK text alike. (Not
    # at either end: U+0085 is whitespace to str.strip, which both readers apply first.)
    entry = _fast(
        "<category>\u4e2d\u0085\u6587</category>"
        "<description>\u0093\u5f15\u0094 \u0080 caf\u00e9</description>"
    ).entries[0]
    assert entry.categories == ("\u4e2d\u2026\u6587",)
    assert entry.summary == "\u201c\u5f15\u201d \u20ac caf\u00e9"


# --- differential: generated documents -----------------------------------------------

ITEM_PARTS = [
    "<title>T1</title>", "<title>T2 &lt;b&gt;x&lt;/b&gt;</title>", "<title></title>",
    "<link>http://a.example/p</link>", "<link>rel/p</link>", "<guid>g1</guid>",
    '<guid isPermaLink="false">g2</guid>', "<description>d &lt;p&gt;x</description>",
    "<description></description>", "<content:encoded>&lt;p&gt;c&lt;/p&gt;</content:encoded>",
    "<pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate>", "<pubDate>2024/1/2 3:4:5</pubDate>",
    "<dc:date>2024-01-03</dc:date>", "<author>a@b.com (A B)</author>", "<dc:creator>C</dc:creator>",
    "<category>x</category>", '<category domain="d"></category>', "<category>y</category>",
    '<enclosure url="m.mp3" type="audio/mpeg" length="5"/>', "<enclosure/>",
    "<itunes:summary>s &lt;i&gt;</itunes:summary>", "<itunes:author>IA</itunes:author>",
    '<atom:link rel="alternate" href="http://alt.example/"/>',
    '<atom:link rel="enclosure" href="e.ogg"/>',
    '<media:content url="u"><media:title>MT</media:title><media:description>MD</media:description>'
    "</media:content>", "<media:title>MT2</media:title>", "<source url='http://s/'>S</source>",
    "<comments>c</comments>", "<itunes:keywords>k1, k2</itunes:keywords>",
    "<image><title>IT</title><url>i.png</url></image>", "<summary>sum</summary>",
    "<dc:title>DT</dc:title>", "<atom:id>urn:x:1</atom:id>",
    "<atom:author><atom:name>N</atom:name><atom:email>n@x.org</atom:email></atom:author>",
    "<lastBuildDate>Tue, 02 Jan 2024 00:00:00 GMT</lastBuildDate>", "<foo:bar>x</foo:bar>",
    "<p>stray</p>", "caf\u00c3\u00a9 \u0081",
]  # fmt: skip
CHANNEL_PARTS = [
    "<title>C</title>", "<title>C2</title>", "<link>http://c.example/</link>",
    "<description>cd</description>", "<itunes:summary>cs</itunes:summary>",
    "<language>en</language>", "<managingEditor>e@x.com (Ed)</managingEditor>",
    "<image><url>l.png</url><title>IT</title></image>", '<itunes:image href="it.png"/>',
    "<ttl>5</ttl>", '<atom:link rel="self" href="http://c.example/feed"/>',
    "<copyright>c</copyright>", "<dc:creator>DC</dc:creator>",
    "<itunes:owner><itunes:name>O</itunes:name></itunes:owner>",
    "<sy:updatePeriod>hourly</sy:updatePeriod>",
]  # fmt: skip
NAMESPACES = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" xmlns:foo="urn:foo"'
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(CHANNEL_PARTS), max_size=6),
    st.lists(st.lists(st.sampled_from(ITEM_PARTS), min_size=1, max_size=8), min_size=1, max_size=3),
    st.booleans(),
)
def test_random_rss_reads_the_same_with_both_readers(
    channel: list[str], items: list[list[str]], items_first: bool
) -> None:
    body = "".join(f"<item>{''.join(parts)}</item>" for parts in items)
    inner = body + "".join(channel) if items_first else "".join(channel) + body
    data = f'<rss version="2.0" {NAMESPACES}><channel>{inner}</channel></rss>'.encode()
    slow, fast = read_both(data)
    if fast is None:
        return
    assert isinstance(slow, ParsedFeed)
    found = differences(slow, fast)
    if "<itunes:owner>" in inner:
        found.pop("meta.authors", None)  # the itunes:owner difference in ALLOWED
    assert found == {}


ENTRY_PARTS = [
    "<title>T1</title>", '<title type="html">A &lt;b&gt;b&lt;/b&gt;</title>',
    '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <i>y</i></div></title>',
    "<id>urn:x:1</id>", "<id>http://e.example/1</id>", "<id>rel-1</id>", '<link href="p.html"/>',
    '<link rel="alternate" type="text/html" href="http://a.example/q"/>',
    '<link rel="alternate" type="application/atom+xml" href="x.atom"/>',
    '<link rel="enclosure" href="e.mp3" type="audio/mpeg" length="3"/>',
    '<link rel="related" href="r"/>', "<summary>s</summary>",
    '<summary type="html">&lt;p&gt;s2&lt;/p&gt;</summary>',
    '<content type="html">&lt;p&gt;c &lt;a href="x"&gt;l&lt;/a&gt;&lt;/p&gt;</content>',
    "<content>plain &lt; text</content>",
    '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x<br/>y'
    '<img src="i.png"/></p></div></content>',
    "<published>2024-01-01T00:00:00Z</published>", "<updated>2024-01-02T00:00:00+08:00</updated>",
    "<author><name>A</name></author>",
    "<author><name>B</name><email>b@x.org</email><uri>http://b/</uri></author>",
    '<category term="t1"/>', '<category term="t2" label="L"/>', '<category label="only"/>',
    "<contributor><name>C</name></contributor>", "<rights>r</rights>",
    "<source><title>ST</title><id>urn:s</id></source>", "<dc:subject>ds</dc:subject>",
    "<media:group><media:title>MT</media:title></media:group>",
]  # fmt: skip
FEED_PARTS = [
    "<title>F</title>", "<subtitle>sub</subtitle>", "<id>urn:feed</id>",
    '<link href="http://f.example/"/>', '<link rel="self" href="http://f.example/atom"/>',
    "<icon>i.ico</icon>", "<logo>l.png</logo>", "<author><name>FA</name></author>",
    "<rights>fr</rights>", "<updated>2024-01-01T00:00:00Z</updated>", "<generator>g</generator>",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(FEED_PARTS), max_size=6),
    st.lists(
        st.tuples(st.booleans(), st.lists(st.sampled_from(ENTRY_PARTS), min_size=1, max_size=9)),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_random_atom_reads_the_same_with_both_readers(
    feed: list[str], entries: list[tuple[bool, list[str]]], root_base: bool
) -> None:
    body = "".join(
        ("<entry xml:base='http://b.example/d/'>" if based else "<entry>") + "".join(parts)
        + "</entry>"
        for based, parts in entries
    )  # fmt: skip
    base = ' xml:base="http://root.example/a/"' if root_base else ""
    data = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:media="http://search.yahoo.com/mrss/"{base}>{"".join(feed)}{body}</feed>'
    ).encode()
    slow, fast = read_both(data)
    if fast is not None:
        assert isinstance(slow, ParsedFeed)
        assert differences(slow, fast) == {}
