"""Property-based fuzzing of everything that reads untrusted bytes.

Whatever the input, the readers either return a result or raise a
:class:`~feedloom.errors.FeedloomError` subclass; anything else (IndexError,
UnicodeError, RecursionError, a warning turned error...) is a bug. Parsed feeds must
also render in every output format, since a build writes whatever the parser accepted.

Inputs: news pages built from headline-like lines (numbering variants, Chinese text,
control characters, line-end and encoding variants), and real feeds (``tests/data`` and
the shared real-world corpus, read in place) mutated byte-wise and token-wise.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.conftest import CORPUS, ROOT

from feedloom.errors import FeedloomError
from feedloom.model import Entry, Feed, FeedMeta
from feedloom.parse import parse_bytes
from feedloom.sources.newspage import decode_page, page_entries, parse_page

NOW = datetime(2025, 1, 2, tzinfo=UTC)
# FEEDLOOM_FUZZ_EXAMPLES=5000 for a deeper run than the suite's bounded one.
FUZZ = settings(
    max_examples=int(os.environ.get("FEEDLOOM_FUZZ_EXAMPLES", "200")),
    deadline=None,  # 2 busy cores: time is bounded by the file's total, not per example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- news pages ------------------------------------------------------------------------

_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_TEXT_CHARS = st.one_of(
    _HAN,
    st.sampled_from(list("，。、：；！？“”《》（）【】…—·％ 　abcXYZ0189０９.-:@")),
    st.characters(max_codepoint=0x1F),  # C0 controls, including NUL
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),  # DEL and C1
    st.characters(),  # anything, surrogates excepted by hypothesis' default
)
_TEXT = st.text(_TEXT_CHARS, max_size=60)
_DIGITS = st.integers(0, 120).map(str) | st.integers(0, 120).map(
    lambda n: str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
)
_HEADLINE = st.builds(
    lambda marker, gap, rank, sep, space, title: f"{marker}{gap}{rank}{sep}{space}{title}",
    st.sampled_from(["-", "－", "–", "—", "•", "*", ""]),
    st.sampled_from(["", " ", "\t", "　"]),
    _DIGITS,
    st.sampled_from([".", "．", "、", ")", "）", ""]),
    st.sampled_from(["", " "]),
    _TEXT,
)
_DISCLAIMER = st.builds(
    lambda word, colon, body, mail: f"{word}{colon}{body}{mail}",
    st.sampled_from(["声明", "免责声明", "声明称"]),
    st.sampled_from([":", "：", ""]),
    _TEXT,
    st.sampled_from(["", "联系方式:a@b.cn", "ｍａｉｌ＠ｅｘａｍｐｌｅ．ｃｏｍ", "x@y"]),
)
_LINE = st.one_of(_HEADLINE, _HEADLINE, _DISCLAIMER, _TEXT, st.just(""))
_PAGE = st.builds(
    lambda lines, newline, bom: bom + newline.join(lines),
    st.lists(_LINE, max_size=25),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from(["", "\ufeff"]),
)


@FUZZ
@given(_PAGE)
def test_parse_page_returns_a_page_or_an_input_error(text: str) -> None:
    try:
        page = parse_page(text, path="fuzz.txt")
    except FeedloomError:
        return
    entries = page_entries(
        page, feed_id="https://news.example.com/", site_url="https://news.example.com/"
    )
    assert len(entries) <= len(page.headlines) + 1
    assert len({e.id for e in entries}) == len(entries)
    for entry in entries:
        assert entry.title.strip() and entry.link and entry.link.startswith("https://")
    # What the page parser accepts, the writers must be able to publish.
    _render(entries)


_CODECS = [
    "utf-8",
    "utf-8-sig",
    "gb18030",
    "gbk",
    "big5",
    "utf-16",
    "utf-16-le",
    "latin-1",
    "shift_jis",
]


@FUZZ
@given(
    _PAGE,
    st.sampled_from(_CODECS),
    st.sampled_from([None, None, "utf-8", "gb2312", "gbk", "utf-16", "latin-1", "base64", "nope"]),
    st.binary(max_size=16),
    st.integers(0, 64),
)
def test_decode_page_returns_text_or_an_input_error(
    text: str, codec: str, configured: str | None, junk: bytes, cut: int
) -> None:
    data = text.encode(codec, errors="replace")
    data = data[: max(0, len(data) - cut)] + junk  # truncated mid-character, then noise
    try:
        decoded = decode_page(data, path="fuzz.txt", encoding=configured)
    except FeedloomError:
        return
    assert "\x00" not in decoded and "\r" not in decoded
    with contextlib.suppress(FeedloomError):
        parse_page(decoded, path="fuzz.txt")


# --- feeds -----------------------------------------------------------------------------

_MAX_SEED = 35_000  # keeps one parse to milliseconds, so 200 examples take seconds


def _seeds() -> list[bytes]:
    files = sorted((ROOT / "tests" / "data" / "parse").iterdir())
    files += sorted((ROOT / "sources" / "external").iterdir())
    if CORPUS.is_dir():  # the shared real-world corpus, read in place, never copied
        files += sorted(
            p for p in CORPUS.iterdir() if p.suffix in (".xml", ".rss", ".atom", ".json")
        )
    seeds = [p.read_bytes() for p in files if p.is_file() and p.stat().st_size <= _MAX_SEED]
    assert len(seeds) >= 10
    return seeds


SEEDS = _seeds()

_TOKENS = [
    b"<![CDATA[", b"]]>", b"&#0;", b"&#xD800;", b"&#x110000;", b"&amp", b"&nbsp;", b"&undefined;",
    b'<!DOCTYPE rss [<!ENTITY a "b">]>', b"&a;", b"<?xml version='1.0' encoding='utf-16'?>",
    b"<?xml version='1.0' encoding='nope'?>", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3",
    b"</item>", b"<item>", b"<entry>", b"</channel>", b'xml:base="http://[broken/"',
    b'<link href="http://[v6"/>', b"<link>javascript:alert(1)</link>", b"<pubDate>",
    b"Mon, 99 Foo 99999 99:99:99 +9999", b"9999-99-99T99:99:99Z", b"0001-01-01T00:00:00-23:59",
    b"<ttl>99999999999999999999</ttl>", b'<enclosure url="x" length="-1" type=""/>',
    b'"items": {}', b'"items": [1, null, "x", []]', b'"id": 1e400', b'"title": ["x"]',
    b'"date_published": 12', b'"attachments": "x"', b'"authors": [null]', b"[" * 2000,
    b"\xe4\xb8\xad\xe6\x96\x87", b"\xd6\xd0\xce\xc4", b"<title>" * 50, b"\r\n", b"\t",
]  # fmt: skip


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        # Truncation is weighted down: most refusals come from it, and parsed documents
        # exercise more code (entries, dates, sanitising, the writers).
        kind = draw(
            st.sampled_from(
                ["flip", "insert", "delete", "duplicate", "token", "token"] * 3 + ["truncate"]
            )
        )
        if kind == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            data[where:where] = data[where : where + draw(st.integers(1, 256))]
        elif kind == "truncate":
            del data[where:]
        else:
            data[where:where] = draw(st.sampled_from(_TOKENS))
    return bytes(data)


_HEADERS = st.sampled_from(
    [
        None,
        {"Content-Type": "application/rss+xml; charset=utf-8"},
        {"Content-Type": "text/xml; charset=gb2312"},
        {"Content-Type": "application/json"},
        {"Content-Type": "text/html; charset=nope"},
        {"content-type": "application/feed+json; charset=utf-16", "Content-Language": "zh"},
    ]
)


@FUZZ
@given(
    mutated_feed(),
    _HEADERS,
    st.sampled_from([None, None, "gb18030", "utf-8", "latin-1", "utf-16"]),
    st.sampled_from(
        ["https://feed.example.org/feed.xml", "file:///srv/feeds/x.xml", "about:blank"]
    ),
)
def test_parse_bytes_returns_a_feed_or_a_feedloom_error(
    data: bytes, headers: dict[str, str] | None, encoding: str | None, url: str
) -> None:
    try:
        parsed = parse_bytes(data, url=url, headers=headers, encoding=encoding, now=NOW)
    except FeedloomError as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event(f"parsed: {'some' if parsed.entries else 'no'} entries")
    ids = [e.id for e in parsed.entries]
    assert len(set(ids)) == len(ids)
    for entry in parsed.entries:
        for when in (entry.published, entry.updated):
            assert when is None or when.tzinfo is not None
    _render(list(parsed.entries), parsed.meta)


_JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_ITEM_KEYS = [
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "date_published", "date_modified", "authors", "author", "tags", "attachments", "language",
]  # fmt: skip


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["version", "title", "home_page_url", "feed_url", "description", "icon",
                         "favicon", "authors", "author", "language", "expired"]),
        _JSON_VALUE,
    ),
    st.lists(st.dictionaries(st.sampled_from(_ITEM_KEYS), _JSON_VALUE) | _JSON_VALUE, max_size=6),
)  # fmt: skip
def test_json_feeds_of_any_shape_parse_or_fail_cleanly(
    top: dict[str, object], items: list[object]
) -> None:
    doc = {**top, "items": items}
    data = json.dumps(doc, allow_nan=True).encode()
    try:
        parsed = parse_bytes(data, url="https://json.example.org/feed.json", now=NOW)
    except FeedloomError:
        return
    _render(list(parsed.entries), parsed.meta)


def _render(entries: list[Entry], meta: FeedMeta | None = None) -> None:
    """Render ``entries`` in every format; the writers must accept whatever parsed."""
    if meta is None:
        meta = FeedMeta(
            id="https://fuzz.example.org/", title="fuzz", link="https://fuzz.example.org/"
        )
    feed = Feed(meta, entries)
    for fmt in ("rss", "atom", "json", "html"):
        assert feed.render(fmt)
