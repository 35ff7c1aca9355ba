"""Tests for feedloom.sanitize: the HTML allow-list, plain-text extraction, truncation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedloom.sanitize import html_to_text, sanitize_html, truncate_text

# --- sanitize_html -------------------------------------------------------------------

# Each case: hostile input, and a substring that must not survive.
HOSTILE = [
    ("<script>alert(1)</script><p>x</p>", "alert"),
    ("<SCRIPT SRC=https://evil.example/x.js></SCRIPT>", "evil"),
    ("<scr<script>ipt>alert(1)</script>", "<script"),
    ('<img src="x.png" onerror="alert(1)">', "onerror"),
    ('<body onload="alert(1)">', "onload"),
    ('<a href="javascript:alert(1)">x</a>', "javascript"),
    ('<a href=" JaVaScRiPt:alert(1)">x</a>', "alert"),
    ('<a href="&#106;avascript:alert(1)">x</a>', "alert"),
    ('<a href="java&#x09;script:alert(1)">x</a>', "alert"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
    ('<img src="data:image/png;base64,iVBORw0KGgo=">', "data:"),
    ('<a href="vbscript:msgbox(1)">x</a>', "vbscript"),
    ('<p style="width: expression(alert(1))">x</p>', "expression"),
    ('<p style="background:url(javascript:alert(1))">x</p>', "style"),
    ("<style>p { color: red }</style><p>x</p>", "color"),
    ('<iframe src="https://evil.example/"></iframe>', "iframe"),
    ('<object data="https://evil.example/x.swf"></object>', "object"),
    ('<embed src="https://evil.example/x.swf">', "embed"),
    ('<form action="https://evil.example/"><input name="pw"></form>', "form"),
    ('<form action="https://evil.example/"><input name="pw"></form>', "input"),
    ('<svg onload="alert(1)"><circle r="1"/></svg>', "svg"),
    ('<math><mi xlink:href="javascript:alert(1)">x</mi></math>', "javascript"),
    ('<base href="https://evil.example/">', "base"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', "refresh"),
    ('<link rel="stylesheet" href="https://evil.example/x.css">', "stylesheet"),
    ("<!-- <script>alert(1)</script> -->", "alert"),
    ('<blockquote cite="javascript:alert(1)">q</blockquote>', "javascript"),
    ('<div class="ad" id="main">x</div>', "class"),
    ('<a href="https://ok.example/" target="_blank">x</a>', "target"),
]


@pytest.mark.parametrize(("html", "forbidden"), HOSTILE)
def test_sanitize_removes_dangerous_markup(html: str, forbidden: str) -> None:
    out = sanitize_html(html)
    assert forbidden.lower() not in out.lower(), out


def test_sanitize_keeps_harmless_markup_and_text() -> None:
    html = (
        '<h2>Title</h2><p>Some <b>bold</b>, <em>em</em> and <a href="https://ok.example/a" '
        'title="t">a link</a>.</p><ul><li>one</li></ul><img src="https://ok.example/i.png" '
        'alt="pic" width="10"><pre><code>x &lt; y</code></pre><table><tr><td colspan="2">c</td>'
        "</tr></table>"
    )
    out = sanitize_html(html)
    assert "<h2>Title</h2>" in out
    assert "<b>bold</b>" in out and "<em>em</em>" in out
    assert '<a href="https://ok.example/a" title="t" rel="noopener noreferrer">a link</a>' in out
    assert "<li>one</li>" in out
    assert '<img src="https://ok.example/i.png" alt="pic" width="10">' in out
    assert "<code>x &lt; y</code>" in out
    assert '<td colspan="2">c</td>' in out


def test_sanitize_keeps_http_https_mailto() -> None:
    out = sanitize_html(
        '<a href="http://a.example/">1</a><a href="https://b.example/">2</a>'
        '<a href="mailto:me@example.com">3</a><a href="ftp://c.example/">4</a>'
    )
    assert 'href="http://a.example/"' in out
    assert 'href="https://b.example/"' in out
    assert 'href="mailto:me@example.com"' in out
    assert "ftp:" not in out


def test_sanitize_resolves_relative_urls_against_base() -> None:
    out = sanitize_html(
        '<a href="../about">a</a><img src="img/x.png"><a href="/root">r</a>'
        '<a href="//cdn.example/x">c</a><a href="https://abs.example/">abs</a>',
        base_url="https://example.org/blog/post/",
    )
    assert 'href="https://example.org/blog/about"' in out
    assert 'src="https://example.org/blog/post/img/x.png"' in out
    assert 'href="https://example.org/root"' in out
    assert 'href="https://cdn.example/x"' in out
    assert 'href="https://abs.example/"' in out


def test_sanitize_leaves_relative_urls_without_base() -> None:
    assert 'href="../about"' in sanitize_html('<a href="../about">a</a>')


@pytest.mark.parametrize("base", ["not a url", "http://[broken", ""])
def test_sanitize_survives_unusable_base(base: str) -> None:
    out = sanitize_html('<a href="x.html">x</a><script>1</script>', base_url=base)
    assert "x.html" in out and "script" not in out


def test_sanitize_strips_xml_illegal_characters() -> None:
    out = sanitize_html("<p>a\x00b\x08c\x1fd\ufffee</p>")
    assert out == "<p>abcde</p>"


def test_sanitize_keeps_chinese_as_characters() -> None:
    out = sanitize_html("<p>中文“引号”&amp;《书名》&#20013;</p>")
    assert out == "<p>中文“引号”&amp;《书名》中</p>"


def test_sanitize_is_deterministic() -> None:
    html = '<p title="t" lang="en" dir="ltr">x<img alt="a" src="https://e.example/i.png"></p>'
    assert sanitize_html(html) == sanitize_html(html) == sanitize_html(sanitize_html(html))


def test_sanitize_empty() -> None:
    assert sanitize_html("") == ""


# --- html_to_text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("Report on <b>Slack</b> Market", "Report on Slack Market"),  # Google Alerts titles
        ("<b>Sl</b>ack", "Slack"),  # inline tags add no space
        ("<p>one</p><p>two</p>", "one two"),  # block tags do
        ("a<br>b", "a b"),
        ("<ul><li>x</li><li>y</li></ul>", "x y"),
        ("AT&amp;T &lt;3 &quot;q&quot; &#8211; &eacute;", 'AT&T <3 "q" – é'),
        ("&amp;lt;", "&lt;"),  # decoded exactly once
        ("a&nbsp;&nbsp;b", "a b"),
        ("  lots \n\t of   space  ", "lots of space"),
        ("x<script>alert(1)</script>y", "xy"),
        ("x<style>p{}</style>y", "xy"),
        ("x<!-- c -->y", "xy"),
        ("AT&T", "AT&T"),
        ("a < b", "a < b"),
        ("中文　全角空格", "中文 全角空格"),  # U+3000 is whitespace too
        ("a\x00b", "ab"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


# --- truncate_text -------------------------------------------------------------------


def test_truncate_short_text_unchanged() -> None:
    assert truncate_text("short", 10) == "short"
    assert truncate_text("exactly10!", 10) == "exactly10!"


def test_truncate_at_word_boundary() -> None:
    assert (
        truncate_text("The quick brown fox jumps over the lazy dog", 20) == "The quick brown fox…"
    )


def test_truncate_prefers_sentence_end() -> None:
    text = "First sentence here. Second sentence goes on and on."
    assert truncate_text(text, 30) == "First sentence here.…"


def test_truncate_chinese_sentence() -> None:
    text = "第一句话说完了。第二句话还没有说完就被截断了"
    assert truncate_text(text, 12) == "第一句话说完了。…"


def test_truncate_chinese_without_boundary_cuts_mid_text() -> None:
    assert truncate_text("一二三四五六七八九十", 5) == "一二三四…"


def test_truncate_long_word_is_cut() -> None:
    assert truncate_text("a " + "x" * 50, 10) == "a xxxxxxx…"


def test_truncate_when_next_char_is_space_keeps_full_window() -> None:
    assert truncate_text("abcd efgh ijkl", 10) == "abcd efgh…"


def test_truncate_rejects_nonpositive_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        truncate_text("abc", 0)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=400))
def test_truncate_properties(text: str, limit: int) -> None:
    out = truncate_text(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    else:
        assert out.endswith("…")
        assert text.startswith(out[:-1])


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_sanitize_and_text_never_fail(html: str) -> None:
    out = sanitize_html(html)
    assert "<script" not in out.lower()
    text = html_to_text(html)
    assert "\x00" not in text and text == text.strip()


# --- the fast paths give what the plain definitions give -------------------------------

# Pieces of hostile and broken HTML, including every way a character XML forbids can
# arrive: literally, as a numeric reference (decimal, hex, in an attribute), next to
# the markup it could join up once removed.
PIECES = [
    "<p>", "</p>", "<a href='/x?a=1&b=2' title='t>u'>", "</a>", "<table>", "<td>", "</tr>",
    "<br/>", "<img alt='<b>' src='i.png'>", "<scr", "ipt>", "<script>", "</script>", "<!--",
    "-->", "<pre>\n", "<xmp>", "<noscript>", "<li>", "<b>", "</b>", "&amp;", "&nbsp;", "&lt;",
    "&", "<", ">", "\"", "'", "&#1;", "&#x1F;", "&#xFFFE;", "&#65535;", "&#0;", "&#xD800;",
    "&#x85;", "&#9;", "&Tab;", "<a title='&#2;'>", "\x00", "\x01", "\x0b", "\x0c", "\x1f",
    "\ufffe", "\uffff", "\ud800", "\x85", "\xa0", "\u3000", " ", "\t", "\r\n", "x", "中文",
    "<title>", "<textarea>", "<svg><p>", "</svg>", "<![CDATA[x]]>", "<?pi?>", "<wbr>",
]  # fmt: skip


def reference_sanitize(html: str, base_url: str | None) -> str:
    """sanitize_html as first defined: clean, ammonia, clean again."""
    from feedloom.sanitize import _cleaner
    from feedloom.textutil import clean_text

    if not html:
        return ""
    return clean_text(_cleaner(base_url or None).clean(clean_text(html))).strip()


def reference_text(html: str) -> str:
    """html_to_text as first defined, with textutil's regex-based helpers."""
    import html as html_module

    from feedloom.sanitize import _TAG, _TEXT_CLEANER
    from feedloom.textutil import clean_text, collapse_ws

    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return collapse_ws(clean_text(html))
    text = _TAG.sub(" ", _TEXT_CLEANER.clean(html))
    return collapse_ws(clean_text(html_module.unescape(text)))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=40))
def test_sanitize_and_text_match_their_plain_definitions(pieces: list[str]) -> None:
    html = "".join(pieces)
    for base in (None, "https://base.example/dir/"):
        ours = outcome(lambda h, b: sanitize_html(h, base_url=b), html, base)
        assert ours == outcome(reference_sanitize, html, base)
    assert outcome(html_to_text, html) == outcome(reference_text, html)


def outcome(fn: Any, *args: Any) -> object:
    """The result, or the type of the error (nh3 refuses surrogates, whoever calls it)."""
    try:
        return fn(*args)
    except UnicodeError as exc:
        return type(exc)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="ab .!?。！？；;…\n\t\u3000中", max_size=40),
    st.integers(min_value=1, max_value=30),
)
def test_truncate_cuts_after_the_last_sentence_end_as_first_defined(text: str, limit: int) -> None:
    import re

    from feedloom.textutil import collapse_ws

    # truncate_text as first written, every sentence end found with finditer.
    def reference(text: str, limit: int) -> str:
        if len(text) <= limit:
            return text
        window, floor = text[: limit - 1], (limit - 1) // 2
        pattern = re.compile(r"[.!?。！？；;…](?=\s|$)|[。！？；…]")
        ends = [m.end() for m in pattern.finditer(window)]
        if ends and ends[-1] >= floor:
            cut = ends[-1]
        elif text[limit - 1].isspace() or window.rfind(" ") < floor:
            cut = limit - 1
        else:
            cut = window.rfind(" ")
        return window[:cut].rstrip() + "…"

    for value in (text, collapse_ws(text)):
        assert truncate_text(value, limit) == reference(value, limit)


# Markup that the sanitiser keeps and the text cleaner drops, or that only one of them
# would treat as a block: every allowed tag, with attributes holding '<', '>' and
# quotes, SVG/MathML names outside their elements, and raw-text elements.
BOTH_PIECES = [
    *PIECES,
    *(f"<{tag}>" for tag in ("a", "abbr", "span", "em", "img", "wbr", "sub", "q", "ins", "del")),
    *(f"</{tag}>" for tag in ("a", "span", "em", "q", "ins", "del")),
    *(f"<{tag} title='x'>" for tag in ("p", "div", "li", "td", "pre", "blockquote", "h2")),
    *(f"</{tag}>" for tag in ("div", "li", "td", "pre", "blockquote", "h2", "table", "ul")),
    "<p title='a>b<c'>", "<img alt='x\">y' src='/i.png'>", "<a href='/p?q=<b>'>", "<br>",
    "<hr>", "<ol start='3'>", "<time datetime='2024'>", "<circle>", "<mi>", "<image>",
    "<font>", "<style>x</style>", "<iframe>f</iframe>", "<noembed>n</noembed>", "<plaintext>",
    "<listing>\n", "<textarea>t</textarea>", "<select><option>o</option></select>",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(BOTH_PIECES) | st.text(max_size=4), max_size=40))
def test_sanitize_and_text_match_two_parses(pieces: list[str]) -> None:
    from feedloom.sanitize import sanitize_and_text

    html = "".join(pieces)
    for base in (None, "https://base.example/dir/"):
        expected = outcome(lambda h, b: (sanitize_html(h, base_url=b), html_to_text(h)), html, base)
        assert outcome(lambda h, b: sanitize_and_text(h, base_url=b), html, base) == expected
