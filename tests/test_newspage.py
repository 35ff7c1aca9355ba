"""The news-page adapter: decoding, parsing, summaries, ids and entries."""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedloom.errors import InputError
from feedloom.sources.newspage import (
    NAMESPACE,
    Headline,
    NewsPage,
    decode_page,
    entry_id,
    page_entries,
    parse_page,
    read_page,
    summarise,
    validate_link_template,
)
from feedloom.textutil import normalise_title

ROOT = Path(__file__).parents[1]
NEWS = ROOT / "sources" / "news.txt"
DATA = Path(__file__).parent / "data" / "newspage"
SITE = "https://news.example.com/"


def fixture(name: str) -> NewsPage:
    path = DATA / name
    return parse_page(read_page(path), path=str(path))


def all_entry_text(entries) -> str:
    return "\n".join(f"{e.title}\n{e.summary or ''}\n{e.content or ''}" for e in entries)


# --- the real page ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_page() -> NewsPage:
    return parse_page(read_page(NEWS), path="news.txt")


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    # Read independently of the module under test.
    return NEWS.read_text(encoding="utf-8").splitlines()


def test_real_page_has_forty_entries_matching_the_headlines(real_page, real_lines):
    headlines = [re.fullmatch(r"- (\d+)\.(.+)", line) for line in real_lines]
    expected = [(int(m[1]), m[2].strip()) for m in headlines if m]
    assert len(expected) == 40
    entries = page_entries(real_page, feed_id="news", site_url=SITE)
    assert [(e.rank, e.title) for e in entries] == expected
    assert [e.rank for e in entries] == list(range(1, 41))
    # A few checked by eye against the page.
    assert entries[0].title == "意大利原版音乐剧《卡萨诺瓦——威尼斯的情人》将在上海文化广场连演10场"
    assert entries[2].title == "学生务工人员购票 “静音车厢” 特色旅游列车"
    assert entries[39].title == "通过综合整治“内卷式”竞争 不断激发广大经营主体内生动力"
    assert real_page.warnings == ()


def test_real_page_article_is_rank_two_with_all_paragraphs(real_page, real_lines):
    entries = page_entries(real_page, feed_id="news", site_url=SITE)
    article = [e for e in entries if e.content is not None]
    assert len(article) == 1
    (entry,) = article
    assert entry.rank == 2
    assert entry.title == real_lines[0] == "全国各级工会筹集款物41亿元 走访慰问各类职工1127.7万人次"
    assert entry.content.count("<p>") == 5
    for paragraph in real_lines[1:6]:
        assert f"<p>{paragraph}</p>" in entry.content  # no & < > in them: escaping is a no-op
    assert real_page.paragraphs == tuple(real_lines[1:6])
    assert all(e.summary is None and e.content is None for e in entries if e.rank != 2)
    assert all(e.published is None and e.updated is None for e in entries)


def test_real_page_disclaimer_is_feed_level_only(real_page, real_lines):
    assert real_page.contact == "284598818@qq.com"
    assert real_page.disclaimer == real_lines[6]
    assert real_page.disclaimer.startswith("声明:本网站所提供的信息")
    text = all_entry_text(page_entries(real_page, feed_id="news", site_url=SITE))
    for fragment in ("声明", "284598818", "本网站所提供的信息", "联系方式"):
        assert fragment not in text


def test_real_page_summary_ends_at_a_sentence(real_page):
    (entry,) = [
        e for e in page_entries(real_page, feed_id="news", site_url=SITE) if e.summary is not None
    ]
    # The first paragraph's third sentence ends at character 122, past the limit of 120;
    # the second ends at character 96, past the floor of 60.
    assert entry.summary == (
        "中华全国总工会的神圣使命在于代表广大职工的权益,依照法律法规,全力保障职工的合法权益"
        "不受侵害。近期,全国总工会召开了一次重要部署会议,正式拉开了2025年元旦春节期间"
        "“工会送温暖行动”的序幕。…"
    )
    assert len(entry.summary) <= 121


def test_real_page_ids_and_links_are_unique_and_stable(real_page):
    entries = page_entries(real_page, feed_id="news", site_url=SITE)
    assert len({e.id for e in entries}) == 40
    assert len({e.link for e in entries}) == 40
    assert all(e.link.startswith("https://news.example.com/?item=") for e in entries)
    again = page_entries(parse_page(read_page(NEWS), path="x"), feed_id="news", site_url=SITE)
    assert [e.id for e in again] == [e.id for e in entries]
    assert entries[1].id == entry_id("news", entries[1].title)


# --- decoding ---------------------------------------------------------------------------


def test_bom_and_crlf_are_normalised(tmp_path):
    text = NEWS.read_text(encoding="utf-8")
    path = tmp_path / "bom_crlf.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert read_page(path) == text
    assert read_page(path, encoding="UTF-8") == text
    assert decode_page(b"a\rb\r\nc\n", path="p") == "a\nb\nc\n"
    assert parse_page(read_page(path), path=str(path)) == parse_page(text, path=str(path))


@pytest.mark.parametrize("configured", [None, "gb18030", "GBK", "gb2312", "cp936"])
def test_gb18030_page_decodes_with_and_without_configured_encoding(tmp_path, configured):
    text = NEWS.read_text(encoding="utf-8")
    path = tmp_path / "gb.txt"
    path.write_bytes(text.encode("gb18030"))
    assert read_page(path, encoding=configured) == text


def test_gb_outside_gbk_reads_even_when_labelled_gb2312():
    # 𠀀 (CJK extension B) exists only in GB18030's four-byte area.
    text = "𠀀字标题\n正文。\n"
    assert decode_page(text.encode("gb18030"), path="p", encoding="gb2312") == text


@pytest.mark.parametrize("text", ["- 1.上海", "全国各级工会筹集款物41亿元", "标题\n正文"])
def test_short_gb_text_is_detected(text):
    # charset-normalizer ranks UTF-16 and Korean first for these; GB must win.
    assert decode_page(text.encode("gbk"), path="p") == text


def test_big5_is_left_to_detection():
    text = "臺灣新聞標題\n內容一段。"
    assert decode_page(text.encode("big5"), path="p") == text


def test_utf16_needs_configuring():
    data = "标题\n正文。\n".encode("utf-16")
    assert decode_page(data, path="p", encoding="utf-16") == "标题\n正文。\n"
    with pytest.raises(InputError, match="NUL"):
        decode_page(data, path="p")
    with pytest.raises(InputError, match="NUL"):
        decode_page("a\x00b\n".encode("utf-16"), path="p", encoding="utf-16")


def test_wrong_configured_encoding_names_it_and_the_file():
    data = "全国各级工会".encode("gb18030")
    with pytest.raises(InputError) as info:
        decode_page(data, path="feeds/news.txt", encoding="utf-8")
    assert "feeds/news.txt" in str(info.value)
    assert "utf-8" in str(info.value)


@pytest.mark.parametrize("encoding", ["klingon", "base64"])
def test_unknown_configured_encoding_is_an_input_error(encoding):
    with pytest.raises(InputError) as info:
        decode_page(b"title\nbody\n", path="feeds/news.txt", encoding=encoding)
    assert "feeds/news.txt" in str(info.value)
    assert repr(encoding) in str(info.value)


@pytest.mark.parametrize("name", ["empty.txt", "blank.txt"])
def test_empty_files_are_rejected(name):
    path = DATA / name
    with pytest.raises(InputError, match=r"empty|blank") as info:
        read_page(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf", "　\n\u3000".encode(), b"\r\n\r\n"])
def test_blank_after_decoding_is_rejected(data):
    with pytest.raises(InputError, match=r"blank|empty") as info:
        decode_page(data, path="x/news.txt")
    assert "x/news.txt" in str(info.value)


def test_png_is_binary():
    path = DATA / "pixel.png"
    with pytest.raises(InputError, match="binary") as info:
        read_page(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_binary(seed):
    data = random.Random(seed).randbytes(2000)
    for sample in (data, data.replace(b"\x00", b"\x01")):
        with pytest.raises(InputError, match="binary") as info:
            decode_page(sample, path="rand.bin")
        assert "rand.bin" in str(info.value)


def test_mostly_control_characters_are_binary():
    with pytest.raises(InputError, match="controls"):
        decode_page(bytes(range(1, 32)) * 5, path="p")
    # A stray control or two in real text is not binary (parse_page strips them).
    text = "标题\x07\n中华全国总工会的神圣使命在于代表广大职工的权益。\n"
    assert decode_page(text.encode(), path="p") == text


def test_unreadable_file_is_an_input_error(tmp_path):
    for path in (tmp_path / "missing.txt", tmp_path):
        with pytest.raises(InputError) as info:
            read_page(path)
        assert str(path) in str(info.value)
        assert isinstance(info.value.__cause__, OSError)


# --- parsing ----------------------------------------------------------------------------


def test_numbering_variants():
    page = fixture("numbering.txt")
    assert [(h.rank, h.title) for h in page.headlines] == [
        (1, "第一条新闻"),
        (2, "第二条新闻"),
        (3, "第三条新闻"),
        (4, "第四条新闻"),
        (5, "第五条新闻"),
        (6, "第六条新闻"),  # no marker, but inside the headline block
        (7, "第七条新闻"),
        (8, "第八条新闻"),
        (9, "1.5亿人次出行"),
        (10, "2025年1月5日起实行"),
    ]
    assert [h.line for h in page.headlines] == list(range(2, 12))
    assert page.warnings == ()
    # A title line without paragraphs is a page heading, not an entry.
    assert page.title == "今日要闻"
    assert page.paragraphs == ()
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert [e.rank for e in entries] == list(range(1, 11))


def test_headlines_only():
    page = fixture("headlines_only.txt")
    assert page.title is None and page.paragraphs == () and page.disclaimer is None
    assert page.headlines == (
        Headline(1, "上海全市公园达到973座 即将实现“千园之城”", 2),
        Headline(2, "黄河壶口瀑布出现今冬首次流凌 流凌密度约为10%", 4),
        Headline(3, "江桥镇金虹社区17幢高层住宅已完成房屋主体施工", 5),
    )
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert [(e.rank, e.summary, e.content) for e in entries] == [
        (1, None, None),
        (2, None, None),
        (3, None, None),
    ]


def test_no_disclaimer_and_loose_title_match():
    page = fixture("no_disclaimer.txt")
    assert page.disclaimer is None and page.contact is None
    # "声明" without a colon is ordinary text.
    assert page.paragraphs == ("全国总工会近日部署“送温暖”行动。", "声明称，活动将持续到2月。")
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert len(entries) == 2
    other, article = entries
    assert other.content is None
    # Matched despite different quotes, spaces and colon width; the headline's title wins.
    assert article.rank == 2
    assert article.title == '全国工会 "送温暖" 行动启动:为期三个月'
    assert article.content == (
        "<p>全国总工会近日部署“送温暖”行动。</p>\n<p>声明称，活动将持续到2月。</p>"
    )
    assert article.summary == "全国总工会近日部署“送温暖”行动。声明称，活动将持续到2月。"


def test_gaps_repeats_and_stray_lines_warn_with_line_numbers():
    path = str(DATA / "gaps.txt")
    page = fixture("gaps.txt")
    assert page.warnings == (
        f"{path}:3: rank 4 follows a gap (rank 3 missing)",
        f"{path}:4: rank 4 repeated (first on line 3)",
        f"{path}:5: rank 8 follows a gap (rank 5-7 missing)",
        f"{path}:6: rank 6 out of order (expected 9)",
        f"{path}:7: headline 9 has no title; skipped",
        f"{path}:8: not a numbered headline; ignored",
        f"{path}:9: headline repeats the title of rank 2 (line 2); only rank 2 is kept",
    )
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert [(e.rank, e.title) for e in entries] == [
        (1, "第一条"),
        (2, "第二条"),
        (4, "第四条"),
        (4, "又一个第四条"),
        (6, "第六条"),
        (8, "第八条"),
    ]
    assert len({e.id for e in entries}) == len({e.link for e in entries}) == 6


def test_repeated_title_keeps_the_best_rank_even_when_it_comes_later():
    page = parse_page("- 3.同一条\n- 1.同一条\n- 2.别的\n", path="p.txt")
    assert page.warnings[-1] == (
        "p.txt:1: headline repeats the title of rank 1 (line 2); only rank 1 is kept"
    )
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert [(e.rank, e.title) for e in entries] == [(1, "同一条"), (2, "别的")]


def test_article_not_among_headlines_comes_first():
    page = fixture("orphan_article.txt")
    assert page.title == "上海地铁新线开通 市民出行更便捷"
    # Numbered lines inside the article stay paragraphs.
    assert page.paragraphs == (
        "今天上午，地铁新线正式开通。票价<2元 & 免费换乘",
        "1、新线全长20公里。",
        "2.5万人次首日乘坐。",
    )
    # 免责声明 with a full-width colon, continued on the next line; full-width ＠.
    assert (
        page.disclaimer
        == "免责声明：本文仅供参考。联系邮箱：news＠example.com\n联系电话：021-12345678"
    )
    assert page.contact == "news@example.com"
    assert [(h.rank, h.title) for h in page.headlines] == [(1, "别的新闻"), (2, "另一条新闻")]
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert [(e.rank, e.title) for e in entries] == [
        (None, "上海地铁新线开通 市民出行更便捷"),
        (1, "别的新闻"),
        (2, "另一条新闻"),
    ]
    assert entries[0].content.startswith(
        "<p>今天上午，地铁新线正式开通。票价&lt;2元 &amp; 免费换乘</p>"
    )
    assert "021-12345678" not in all_entry_text(entries)


def test_unmarked_or_unspaced_numbers_in_the_article_are_text():
    page = parse_page("标题\n-1.5℃的低温持续。\n1.5亿人次出行。\n- 1.新闻\n-2.第二条\n", path="p")
    assert page.paragraphs == ("-1.5℃的低温持续。", "1.5亿人次出行。")
    assert [(h.rank, h.title) for h in page.headlines] == [(1, "新闻"), (2, "第二条")]


def test_control_characters_are_stripped():
    page = parse_page("标\x0b题\n正\x07文\x1f。\n- 1.新\x00闻\n", path="p")
    assert (page.title, page.paragraphs, page.headlines[0].title) == ("标题", ("正文。",), "新闻")


@pytest.mark.parametrize(
    "text",
    [
        (DATA / "no_content.txt").read_text(encoding="utf-8"),
        "只有标题一行",
        "\n\n只有标题\n\n",
        "- 1.\n- 2.  \n",
    ],
)
def test_no_recognisable_content_names_the_file(text):
    with pytest.raises(InputError, match="no recognisable content") as info:
        parse_page(text, path="feeds/no_content.txt")
    assert "feeds/no_content.txt" in str(info.value)


# --- summaries (lengths counted by hand) --------------------------------------------------


@pytest.mark.parametrize(
    ("paragraphs", "limit", "expected"),
    [
        # Fits: returned whole, no ellipsis.
        (["短文。"], 120, "短文。"),
        (["一二三四"], 4, "一二三四"),
        # 。 at index 5 -> cut after 6 characters (floor 8 // 2 = 4).
        (["一二三四五。六七八九十。十一"], 8, "一二三四五。…"),
        # No sentence end in 8; ， at index 6 -> 6 characters, mark dropped.
        (["一二三四五六，七八九十"], 8, "一二三四五六…"),
        # 。 at index 1 is under the floor of 4; no clause mark: hard cut at 8.
        (["一。二三四五六七八九十"], 8, "一。二三四五六七…"),
        # Closing quote kept with its sentence: 他说：“好。” is 7 characters.
        (["他说：“好。”然后走了很远很远"], 8, "他说：“好。”…"),
        # 1127.7 is not a sentence end, nor is 1,127 a clause mark: falls to the hard cut,
        # moved back to the start of "1127".
        (["总计共有人数1127.7万次"], 10, "总计共有人数…"),
        (["总计共有人数1,127万人"], 10, "总计共有人数…"),
        # Latin words are not split: "alpha beta g|amma" -> back to "alpha beta".
        (["alpha beta gamma delta"], 12, "alpha beta…"),
        # A word longer than half the limit is split after all; a word start exactly at
        # the floor (4) is used.
        (["abcdefghijklmnopqrst"], 8, "abcdefgh…"),
        (["abc efghijklmn"], 8, "abc…"),
        # "." followed by a space is a sentence end.
        (["Short one. Then a longer sentence"], 16, "Short one.…"),
        # Paragraphs join without a space after CJK, with one after Latin text.
        (["一二三。", "四五六。"], 120, "一二三。四五六。"),
        (["abc", "def"], 120, "abc def"),
        # A kept ellipsis is not doubled.
        (["一二三四五……六七八九十"], 8, "一二三四五……"),
        ([], 120, ""),
    ],
)
def test_summarise(paragraphs, limit, expected):
    assert summarise(paragraphs, limit) == expected
    assert len(summarise(paragraphs, limit)) <= limit + 1


# --- ids and links -------------------------------------------------------------------------


def test_summary_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        summarise(["x"], 0)


def test_namespace_is_the_documented_constant():
    expected = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/feedloom/feedloom#newspage")
    assert expected == NAMESPACE


def test_entry_id_is_uuid5_of_feed_and_normalised_title():
    expected = uuid.uuid5(uuid.UUID("50d4b599-a1c3-512d-ad9c-024fca03a8b6"), "news\nhello world")
    assert entry_id("news", "Hello   World") == f"urn:uuid:{expected}"
    assert entry_id("news", "Ｈｅｌｌｏ\u3000world") == entry_id("news", "hello world")
    assert entry_id("other", "hello world") != entry_id("news", "hello world")
    assert uuid.UUID(entry_id("news", "x")[9:]).version == 5


def test_default_links_use_the_site_url_and_a_title_hash():
    page = parse_page("- 1.第一条\n- 2.第二条\n", path="p")
    digest = hashlib.sha256("第一条".encode()).hexdigest()[:16]
    for site, link in [
        ("https://example.com", f"https://example.com/?item={digest}"),
        ("https://example.com/news/", f"https://example.com/news/?item={digest}"),
        ("https://example.com/a.html#top", f"https://example.com/a.html?item={digest}"),
        ("https://example.com/?lang=zh", f"https://example.com/?lang=zh&item={digest}"),
    ]:
        assert page_entries(page, feed_id="f", site_url=site)[0].link == link


def test_link_template_placeholders():
    page = parse_page("- 1.上海/北京 A&B\n", path="p")
    template = "https://example.com/n/{hash}/{id}?t={title}"
    (entry,) = page_entries(page, feed_id="f", site_url=SITE, link_template=template)
    digest = hashlib.sha256(normalise_title("上海/北京 A&B").encode()).hexdigest()[:16]
    assert entry.link == (
        f"https://example.com/n/{digest}/{uuid.UUID(entry.id[9:]).hex}?t="
        + quote("上海/北京 A&B", safe="")
    )
    assert "%2F" in entry.link and "%26" in entry.link


@pytest.mark.parametrize(
    "template",
    [
        "https://example.com/{foo}",
        "https://example.com/{hash",
        "https://example.com/}",
        "https://example.com/static",
        "/news/{hash}.html",
        "https://example.com/{title!r}",
        "https://example.com/{hash.upper}",
        "https://example.com/{0}",
        "https://example.com/{}",
        "https://example.com/{hash:{id}}",
        "https://example.com/{hash:d}",
    ],
)
def test_bad_link_templates_raise_value_error(template):
    with pytest.raises(ValueError, match="expected an absolute URL") as info:
        validate_link_template(template)
    assert repr(template) in str(info.value)
    with pytest.raises(ValueError):
        page_entries(
            parse_page("- 1.x\n", path="p"), feed_id="f", site_url=SITE, link_template=template
        )


def test_good_link_template_with_format_spec():
    validate_link_template("https://example.com/{hash:.8}.html")
    (entry,) = page_entries(
        parse_page("- 1.x\n", path="p"),
        feed_id="f",
        site_url=SITE,
        link_template="http://example.com/{hash:.8}.html",
    )
    assert re.fullmatch(r"http://example\.com/[0-9a-f]{8}\.html", entry.link)


# --- robustness -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_raises_only_input_error(text):
    try:
        page = parse_page(text, path="rand.txt")
    except InputError as exc:
        assert "rand.txt" in str(exc)
        return
    entries = page_entries(page, feed_id="f", site_url=SITE)
    assert len({e.id for e in entries}) == len(entries) == len({e.link for e in entries})
    assert all(w.startswith("rand.txt:") for w in page.warnings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "gb18030", "latin-1"]))
def test_random_bytes_raise_only_input_error(data, encoding):
    try:
        text = decode_page(data, path="rand.bin", encoding=encoding)
    except InputError as exc:
        assert "rand.bin" in str(exc)
        return
    assert "\r" not in text and text.strip()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(st.sampled_from("一二三。，、：.,!? abc1\n"), max_size=60), max_size=4),
    st.integers(min_value=1, max_value=80),
)
def test_summary_is_bounded(paragraphs, limit):
    summary = summarise(paragraphs, limit)
    assert len(summary) <= limit + 1
    assert not summary.startswith(" ")
