"""Tests of the pure merge core: canonical links, title matching, dedupe, filters, limits."""

from __future__ import annotations

import itertools
import random
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedloom.merge import (
    TRACKING_PARAMS,
    Filters,
    MergeOptions,
    canonical_link,
    dedupe,
    merge,
    sort_entries,
    title_fingerprint,
    title_similarity,
)
from feedloom.model import Entry, SourceRef

NEWS = Path(__file__).resolve().parent.parent / "sources" / "news.txt"
T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 1, 10, tzinfo=UTC)
SRC_A = SourceRef(id="a", title="A", url="https://a.example/feed")
SRC_B = SourceRef(id="b", title="B", url="https://b.example/feed")
SRC_C = SourceRef(id="c", title="C", url="https://c.example/feed")

UNION = "全国各级工会筹集款物41亿元 走访慰问各类职工1127.7万人次"
# The same headline with full-width digits and an ideographic space (U+3000).
UNION_WIDE = "全国各级工会筹集款物４１亿元　走访慰问各类职工1127.7万人次"


def make(
    id: str,
    title: str = "标题",
    *,
    link: str | None = None,
    date: datetime | None = None,
    source: SourceRef | None = None,
    rank: int | None = None,
    summary: str | None = None,
    categories: tuple[str, ...] = (),
    also_from: tuple[SourceRef, ...] = (),
) -> Entry:
    return Entry(
        id=id,
        title=title,
        link=link,
        published=date,
        source=source,
        rank=rank,
        summary=summary,
        categories=categories,
        also_from=also_from,
    )


def headlines() -> list[str]:
    """The 40 numbered headlines ("- N.title") at the end of the sample news page."""
    lines = NEWS.read_text(encoding="utf-8").splitlines()
    return [re.sub(r"^- \d+\.", "", line) for line in lines if re.match(r"^- \d+\.", line)]


# ---------------------------------------------------------------------------
# canonical_link

# Each expectation below was written by hand from RFC 3986 and the rules in the
# canonical_link docstring, not copied from the function's output.
CANONICAL_CASES = [
    # scheme and host case, http/https unified
    ("http://Example.COM/a/b", "https://example.com/a/b"),
    ("HTTPS://EXAMPLE.com/a/b", "https://example.com/a/b"),
    ("//example.com/a", "https://example.com/a"),
    # path case is significant and kept
    ("https://example.com/A/B", "https://example.com/A/B"),
    # default ports dropped, others kept
    ("http://example.com:80/a", "https://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
    # fragment removed
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?x=1#", "https://example.com/a?x=1"),
    # trailing slash folded; the root path becomes empty
    ("https://example.com/a/", "https://example.com/a"),
    ("https://example.com/", "https://example.com"),
    ("https://example.com", "https://example.com"),
    ("https://example.com/?id=3", "https://example.com?id=3"),
    # tracking parameters removed, others kept in their original order
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7", "https://example.com/a?id=7"),
    ("https://example.com/a?b=2&fbclid=IwAR0x&a=1&gclid=Cj0K", "https://example.com/a?b=2&a=1"),
    ("https://item.taobao.com/item.htm?spm=a21bo.1&id=5", "https://item.taobao.com/item.htm?id=5"),
    ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
    ("https://example.com/a?z=1&y=2&x=3", "https://example.com/a?z=1&y=2&x=3"),
    ("https://example.com/s?q=a+b&ref_src=twsrc", "https://example.com/s?q=a+b"),
    ("https://example.com/a?a=1&&b=2&", "https://example.com/a?a=1&b=2"),
    # percent-encoding: unreserved decoded, hex upper-cased, reserved kept encoded
    ("https://example.com/%7euser/%e6%96%b0", "https://example.com/~user/%E6%96%B0"),
    ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("https://example.com/s?q=%e4%b8%ad", "https://example.com/s?q=%E4%B8%AD"),
    # raw non-ASCII path: 新 = U+65B0 = E6 96 B0, 闻 = U+95FB = E9 97 BB in UTF-8
    ("https://example.com/新闻/1", "https://example.com/%E6%96%B0%E9%97%BB/1"),
    # dot segments resolved
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    # IDN: Unicode and punycode spellings agree (RFC 3492 examples)
    ("https://Bücher.example/", "https://xn--bcher-kva.example"),
    ("https://WWW.中国.CN/a", "https://www.xn--fiqs8s.cn/a"),
    ("https://www.XN--FIQS8S.cn/a", "https://www.xn--fiqs8s.cn/a"),
    # surrounding whitespace, trailing dot of the host
    ("  https://example.com./a \n", "https://example.com/a"),
    # not a web URL: only the fragment goes
    ("urn:uuid:1234#x", "urn:uuid:1234"),
    ("", ""),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_link(url: str, expected: str) -> None:
    assert canonical_link(url) == expected


def test_canonical_link_is_idempotent_on_table() -> None:
    for _, expected in CANONICAL_CASES:
        assert canonical_link(expected) == expected


def test_tracking_params_cover_the_named_ones() -> None:
    for name in ("fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "spm", "yclid"):
        assert name in TRACKING_PARAMS
    for name in ("igshid", "_hsenc", "_hsmi", "ref_src"):
        assert name in TRACKING_PARAMS


def test_canonical_link_never_raises_on_garbage() -> None:
    for junk in ("https://[::1", "http://", "::::", "https://exa mple.com/a b", "%zz", "\ud800"):
        assert isinstance(canonical_link(junk), str)


# ---------------------------------------------------------------------------
# title fingerprints


def test_title_fingerprint_folds_width_case_and_punctuation() -> None:
    # NFKC: "Ａ" -> "a" after casefold, "，" -> ",", "！" -> "!"; those and the space go.
    assert title_fingerprint("Ａ，b c！") == frozenset({"ab", "bc"})
    assert title_fingerprint("新闻") == frozenset({"新闻"})
    assert title_fingerprint("新") == frozenset({"新"})
    assert title_fingerprint("“”！") == frozenset()


def test_title_similarity_is_jaccard() -> None:
    assert title_similarity(frozenset({"ab", "bc"}), frozenset({"ab", "cd"})) == 1 / 3
    assert title_similarity(frozenset({"ab"}), frozenset({"ab"})) == 1.0
    assert title_similarity(frozenset(), frozenset()) == 0.0


def test_chinese_full_width_variant_is_a_duplicate() -> None:
    assert title_similarity(title_fingerprint(UNION), title_fingerprint(UNION_WIDE)) == 1.0
    first = make("1", UNION, link="https://a.example/1", date=T0, source=SRC_A)
    second = make("2", UNION_WIDE, link="https://b.example/9", date=T0 + timedelta(1), source=SRC_B)
    assert dedupe([first, second]) == [first, second]  # titles off: two entries
    kept = dedupe([second, first], dedupe_titles=True)
    assert [e.id for e in kept] == ["1"]
    assert kept[0].also_from == (SRC_B,)


def test_the_forty_headlines_are_pairwise_distinct() -> None:
    titles = headlines()
    assert len(titles) == 40
    prints = [title_fingerprint(t) for t in titles]
    for (i, a), (j, b) in itertools.combinations(enumerate(prints), 2):
        assert title_similarity(a, b) < 0.85, (titles[i], titles[j])
    entries = [make(str(i), t, date=T0 + timedelta(minutes=i)) for i, t in enumerate(titles)]
    assert len(dedupe(entries, dedupe_titles=True)) == 40


def test_titles_with_different_numbers_never_merge() -> None:
    a = "2025年1月5日零时起 全国铁路将实行新的列车运行图"
    b = a.replace("5日", "6日")
    # 26 characters, 25 distinct bigrams; "月5", "5日" become "月6", "6日": 23 / 27.
    assert title_similarity(title_fingerprint(a), title_fingerprint(b)) == 23 / 27
    assert 23 / 27 > 0.85
    kept = dedupe([make("1", a, date=T0), make("2", b, date=T0)], dedupe_titles=True)
    assert len(kept) == 2


def test_title_match_at_exact_threshold_when_one_title_contains_the_other() -> None:
    # 28 characters with 27 distinct bigrams; the short title is its first 24 characters,
    # 23 bigrams, all shared: Jaccard 23 / 27 = 0.852. The 4 bigrams only the long title
    # has are the rarest of the batch, so the candidate index must look past them.
    long = "中东部大部地区将以偏冷状态开启数九又将有新一股冷空气造访"
    short = long[:24]
    assert len(title_fingerprint(long)) == 27
    assert title_fingerprint(short) < title_fingerprint(long)
    assert title_similarity(title_fingerprint(long), title_fingerprint(short)) == 23 / 27
    for first, second in ((long, short), (short, long)):
        pair = [make("1", first, date=T0), make("2", second, date=T0 + timedelta(hours=1))]
        assert [e.id for e in dedupe(pair, dedupe_titles=True)] == ["1"]


def test_a_feeds_own_recurring_titles_stay_apart() -> None:
    """Titles find one story told by several feeds, never two items of one feed: a
    weekly thread has the same title and a new id and link every week."""
    weekly = "本周开放讨论帖：大家都在聊什么"
    a1 = make("a1", weekly, link="https://a.example/1", date=T0, source=SRC_A)
    a2 = make("a2", weekly, link="https://a.example/2", date=T0 + timedelta(7), source=SRC_A)
    # B reposts both weeks' threads a day later under its own ids and links.
    b1 = make("b1", weekly, link="https://b.example/1", date=T0 + timedelta(1), source=SRC_B)
    b2 = make("b2", weekly, link="https://b.example/2", date=T0 + timedelta(8), source=SRC_B)
    kept = dedupe([b2, a2, b1, a1], dedupe_titles=True)
    # b1 joins a1's group; b2 cannot (B is in it already) and joins a2's.
    assert [(e.id, e.also_from) for e in kept] == [("a2", (SRC_B,)), ("a1", (SRC_B,))]
    # Without sources nothing says the entries are distinct: all four are one story.
    bare = [e.evolve(source=None) for e in (a1, a2, b1, b2)]
    assert [e.id for e in dedupe(bare, dedupe_titles=True)] == ["a1"]


def test_a_group_joined_by_link_counts_that_source() -> None:
    title = "上海全市公园达到973座 即将实现千园之城"
    a1 = make("a1", title, link="https://a.example/1", date=T0, source=SRC_A)
    b1 = make("b1", "另一个标题", link="https://a.example/1", date=T0 + timedelta(1), source=SRC_B)
    b2 = make("b2", title, link="https://b.example/2", date=T0 + timedelta(2), source=SRC_B)
    # b1 is a1 by its link, so B already told this story: b2 is another item of B's.
    assert [e.id for e in dedupe([a1, b1, b2], dedupe_titles=True)] == ["a1", "b2"]


def test_short_titles_never_merge_by_title() -> None:
    kept = dedupe(
        [make("1", "视频", source=SRC_A), make("2", "视频", source=SRC_B)], dedupe_titles=True
    )
    assert len(kept) == 2


def test_near_identical_title_below_and_above_threshold() -> None:
    a = "上海全市公园达到973座 即将实现千园之城"
    b = "上海全市公园达到973座 即将实现千园之城啦"  # one extra character: 19 of 20 bigrams shared
    similarity = title_similarity(title_fingerprint(a), title_fingerprint(b))
    assert similarity == 19 / 20
    pair = [make("1", a, date=T0), make("2", b, date=T0 + timedelta(hours=1))]
    assert [e.id for e in dedupe(pair, dedupe_titles=True)] == ["1"]
    assert len(dedupe(pair, dedupe_titles=True, title_threshold=0.96)) == 2


# ---------------------------------------------------------------------------
# dedupe: who wins, also_from, ties


def test_earliest_wins_and_records_other_sources() -> None:
    late = make("x", "late copy", date=T0 + timedelta(hours=2), source=SRC_A)
    early = make("x", "early copy", date=T0, source=SRC_B)
    undated = make("x", "undated copy", source=SRC_C)
    kept = dedupe([late, undated, early])
    assert len(kept) == 1
    assert kept[0].title == "early copy"
    # Visiting order is earliest first, undated last: A (08:00+2h) then C.
    assert kept[0].also_from == (SRC_A, SRC_C)


def test_also_from_skips_own_source_and_repeats_and_carries_losers_also_from() -> None:
    winner = make("x", date=T0, source=SRC_A)
    same_source = make("x", date=T0 + timedelta(1), source=SRC_A)
    other = make("x", date=T0 + timedelta(2), source=SRC_B, also_from=(SRC_C, SRC_A))
    again = make("x", date=T0 + timedelta(3), source=SRC_B)
    kept = dedupe([again, other, same_source, winner])
    assert kept[0].source == SRC_A
    assert kept[0].also_from == (SRC_B, SRC_C)


def test_dedupe_by_canonical_link() -> None:
    a = make("a", link="https://example.com/news/1", date=T0, source=SRC_A)
    b = make("b", link="http://EXAMPLE.com/news/1/?utm_source=rss#top", date=T0, source=SRC_B)
    c = make("c", link="https://example.com/news/1?page=2", date=T0, source=SRC_C)
    kept = dedupe([b, c, a])
    # a and b tie on date; a wins because its source URL sorts first. c is another page.
    assert sorted(e.id for e in kept) == ["a", "c"]
    assert next(e for e in kept if e.id == "a").also_from == (SRC_B,)


def test_merged_entry_keys_keep_pointing_at_the_winner() -> None:
    a = make("1", link="https://example.com/x", date=T0)
    b = make("2", link="https://example.com/x", date=T0 + timedelta(1))  # joins a by link
    c = make("2", link="https://example.com/y", date=T0 + timedelta(2))  # joins via b's id
    assert [e.id for e in dedupe([c, b, a])] == ["1"]


def test_ties_are_broken_by_source_url_then_id_whatever_the_input_order() -> None:
    a = make("z", "from a", link="https://example.com/x", date=T0, source=SRC_A)
    b = make("y", "from b", link="https://example.com/x", date=T0, source=SRC_B)
    for order in ([a, b], [b, a]):
        assert [e.title for e in dedupe(order)] == ["from a"]
    # Same source: the smaller id wins.
    c = make("m", "id m", link="https://example.com/x", date=T0, source=SRC_A)
    d = make("k", "id k", link="https://example.com/x", date=T0, source=SRC_A)
    for order in ([c, d], [d, c]):
        assert [e.title for e in dedupe(order)] == ["id k"]
    # Undated entries lose to dated ones even if they come first.
    e = make("u", "undated", link="https://example.com/x", source=SRC_A)
    assert [x.title for x in dedupe([e, b])] == ["from b"]


def test_dedupe_returns_kept_entries_in_input_order() -> None:
    entries = [make("3", date=T0), make("1", date=T0 + timedelta(1)), make("2")]
    assert [e.id for e in dedupe(entries)] == ["3", "1", "2"]


# ---------------------------------------------------------------------------
# sort_entries


def test_sort_newest_first_undated_last_then_rank_then_id() -> None:
    entries = [
        make("u2"),
        make("old", date=T0),
        make("b", date=T0 + timedelta(1), rank=2),
        make("u1", rank=5),
        make("a", date=T0 + timedelta(1)),
        make("c", date=T0 + timedelta(1), rank=1),
        make("new", date=T0 + timedelta(2)),
    ]
    assert [e.id for e in sort_entries(entries)] == ["new", "c", "b", "a", "old", "u1", "u2"]


# ---------------------------------------------------------------------------
# filters


def test_filters_keyword_is_case_and_width_insensitive() -> None:
    f = Filters(include=("python",))
    assert f.matches(make("1", "Learning PYTHON"))
    assert f.matches(make("2", "ＰＹＴＨＯＮ 入门"))
    assert not f.matches(make("3", "Learning Rust"))


def test_filters_regex_case_insensitive() -> None:
    f = Filters(include=(r"re:^c9\d\d",))
    assert f.matches(make("1", "c919累计承运旅客突破100万人次"))
    assert f.matches(make("2", "C929 立项"))
    assert not f.matches(make("3", "国产大飞机C919"))  # ^ anchors at the title start


def test_filters_match_summary_and_each_category() -> None:
    f = Filters(include=("re:^体育$",))
    assert f.matches(make("1", "无关标题", categories=("新闻", "体育")))
    assert not f.matches(make("2", "无关标题", categories=("体育新闻",)))
    g = Filters(include=("冷空气",))
    assert g.matches(make("3", "天气", summary="又将有新一股冷空气造访"))
    assert not g.matches(make("4", "天气"))


def test_filters_exclude_wins_over_include() -> None:
    f = Filters(include=("上海",), exclude=("re:迪士尼|乐园",))
    assert f.matches(make("1", "上海全市公园达到973座"))
    assert not f.matches(make("2", "上海迪士尼主题园区开幕一周年"))
    assert not f.matches(make("3", "上海乐高乐园第二场专场面试会"))
    assert not f.matches(make("4", "哈尔滨冰雪旅游"))  # not included


def test_filters_empty_means_everything_and_exclude_alone() -> None:
    assert Filters().matches(make("1", "anything"))
    f = Filters(exclude=("广告",))
    assert f.matches(make("1", "新闻"))
    assert not f.matches(make("2", "新闻", categories=("广告",)))


def test_filters_bad_regex_names_the_pattern() -> None:
    with pytest.raises(ValueError, match=re.escape("re:(unclosed")):
        Filters(include=("re:(unclosed",))
    with pytest.raises(ValueError, match=re.escape("re:[a-")):
        Filters(exclude=("ok", "re:[a-"))
    with pytest.raises(ValueError, match="empty"):
        Filters(include=("",))
    with pytest.raises(ValueError, match="list of patterns"):
        Filters(include="python")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a string"):
        Filters(exclude=(["nested"],))  # type: ignore[arg-type]


def test_filters_accept_lists_and_compile() -> None:
    f = Filters(include=["a"])  # type: ignore[arg-type]
    assert f.include == ("a",)
    assert f == Filters(include=("a",))
    assert f.compile().matches(make("1", "abc"))


# ---------------------------------------------------------------------------
# merge: max_age, limits, validation


def test_max_age_drops_old_keeps_undated_and_boundary() -> None:
    entries = [
        make("fresh", date=NOW - timedelta(days=1)),
        make("edge", date=NOW - timedelta(days=2)),
        make("old", date=NOW - timedelta(days=2, seconds=1)),
        make("undated"),
    ]
    out = merge([entries], now=NOW, options=MergeOptions(max_age=timedelta(days=2)))
    assert [e.id for e in out] == ["fresh", "edge", "undated"]


def test_per_source_limit_keeps_newest_of_each_group() -> None:
    group_a = [make(f"a{i}", date=T0 + timedelta(hours=i), source=SRC_A) for i in range(5)]
    group_b = [
        make(f"b{i}", date=T0 + timedelta(hours=i, minutes=30), source=SRC_B) for i in (0, 1)
    ]
    out = merge([group_a, group_b], now=NOW, per_source_limits=[2, None])
    assert [e.id for e in out] == ["a4", "a3", "b1", "b0"]


def test_global_limit_after_sort() -> None:
    entries = [make(str(i), date=T0 + timedelta(hours=i)) for i in range(6)]
    out = merge([entries[:3], entries[3:]], now=NOW, options=MergeOptions(limit=3))
    assert [e.id for e in out] == ["5", "4", "3"]
    assert merge([entries], now=NOW, options=MergeOptions(limit=0)) == []


def test_per_source_limit_applies_before_filters() -> None:
    group = [
        make("keep-old", "python old", date=T0),
        make("drop-new", "rust new", date=T0 + timedelta(1)),
    ]
    options = MergeOptions(filters=Filters(include=("python",)))
    assert merge([group], now=NOW, options=options, per_source_limits=[1]) == []


def test_merge_validates_arguments() -> None:
    with pytest.raises(ValueError, match="timezone"):
        merge([], now=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="2 source groups"):
        merge([[], []], now=NOW, per_source_limits=[1])
    with pytest.raises(ValueError, match=r"per_source_limits\[0\]"):
        merge([[]], now=NOW, per_source_limits=[-1])
    with pytest.raises(ValueError, match="limit"):
        MergeOptions(limit=-1)
    with pytest.raises(ValueError, match="max_age"):
        MergeOptions(max_age=timedelta(days=-1))
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            MergeOptions(title_threshold=bad)
        with pytest.raises(ValueError, match="threshold"):
            dedupe([], title_threshold=bad)


def test_merge_does_not_consume_clock_or_mutate_input() -> None:
    group = [make("1", date=T0, source=SRC_A), make("1", date=T0 + timedelta(1), source=SRC_B)]
    before = list(group)
    out = merge([group], now=NOW)
    assert group == before
    assert out[0].also_from == (SRC_B,)
    assert group[0].also_from == ()


# ---------------------------------------------------------------------------
# properties

SOURCES = [SourceRef(id=f"s{i}", url=f"https://s{i}.example/feed") for i in range(4)]
LINKS = [
    "http://x.example/1",
    "https://X.example/1/",
    "https://x.example/1?utm_source=rss",
    "https://x.example/2",
    "https://x.example/2#top",
    "https://y.example/3?a=1&b=2",
    "https://y.example/3?b=2&a=1",
]
TITLES = [
    UNION,
    UNION_WIDE,
    "上海全市公园达到973座 即将实现千园之城",
    "上海全市公园达到973座 即将实现千园之城啦",
    "2025年1月5日零时起 全国铁路将实行新的列车运行图",
    "2025年1月6日零时起 全国铁路将实行新的列车运行图",
    "视频",
    "Python 3.14 released",
]

entry_parts = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),
    st.sampled_from(TITLES),
    st.one_of(st.none(), st.sampled_from(LINKS)),
    st.one_of(st.none(), st.integers(0, 4).map(lambda h: T0 + timedelta(hours=h))),
    st.one_of(st.none(), st.integers(1, 3)),
)


@st.composite
def merge_inputs(draw: st.DrawFn) -> tuple[list[list[Entry]], list[int | None], MergeOptions]:
    n_groups = draw(st.integers(1, 4))
    groups = []
    for g in range(n_groups):
        parts = draw(st.lists(entry_parts, max_size=8))
        groups.append(
            [
                Entry(id=i, title=t, link=lk, published=d, rank=r, source=SOURCES[g])
                for i, t, lk, d, r in parts
            ]
        )
    limit = st.one_of(st.none(), st.integers(0, 5))
    limits = draw(st.lists(limit, min_size=n_groups, max_size=n_groups))
    options = MergeOptions(
        limit=draw(st.one_of(st.none(), st.integers(0, 10))),
        max_age=draw(st.one_of(st.none(), st.just(timedelta(days=8, hours=14)))),
        filters=draw(st.sampled_from([Filters(), Filters(exclude=("视频",))])),
        dedupe_titles=draw(st.booleans()),
    )
    return groups, limits, options


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None)


def output_key(entry: Entry) -> tuple[object, ...]:
    date = entry.date
    newest_first = -date.timestamp() if date else 0.0
    return (date is None, newest_first, entry.rank is None, entry.rank or 0, entry.id)


@PROPERTY_SETTINGS
@given(merge_inputs())
def test_merge_is_idempotent(
    case: tuple[list[list[Entry]], list[int | None], MergeOptions],
) -> None:
    groups, limits, options = case
    once = merge(groups, now=NOW, options=options, per_source_limits=limits)
    twice = merge([once], now=NOW, options=options)
    assert twice == once


@PROPERTY_SETTINGS
@given(merge_inputs(), st.randoms(use_true_random=False))
def test_group_order_does_not_change_result(
    case: tuple[list[list[Entry]], list[int | None], MergeOptions], rnd: random.Random
) -> None:
    groups, limits, options = case
    order = list(range(len(groups)))
    rnd.shuffle(order)
    first = merge(groups, now=NOW, options=options, per_source_limits=limits)
    shuffled = merge(
        [groups[i] for i in order],
        now=NOW,
        options=options,
        per_source_limits=[limits[i] for i in order],
    )
    assert [e.id for e in shuffled] == [e.id for e in first]


@PROPERTY_SETTINGS
@given(merge_inputs())
def test_merge_invariants(case: tuple[list[list[Entry]], list[int | None], MergeOptions]) -> None:
    groups, limits, options = case
    out = merge(groups, now=NOW, options=options, per_source_limits=limits)
    if options.limit is not None:
        assert len(out) <= options.limit
    for source, limit in zip(SOURCES, limits, strict=False):
        if limit is not None:
            assert sum(e.source == source for e in out) <= limit
    ids = [e.id for e in out]
    assert len(set(ids)) == len(ids)
    links = [canonical_link(e.link) for e in out if e.link]
    assert len(set(links)) == len(links)
    assert [output_key(e) for e in out] == sorted(output_key(e) for e in out)
    for e in out:
        assert options.filters.matches(e)
        if options.max_age is not None and e.date is not None:
            assert e.date >= NOW - options.max_age
        assert e.source not in e.also_from
        assert len(set(e.also_from)) == len(e.also_from)
    inputs = {id(e) for g in groups for e in g}
    # Every output entry is an input entry, or one with only also_from added.
    for e in out:
        assert id(e) in inputs or e.also_from


def naive_title_dedupe(entries: list[Entry], threshold: float) -> list[str]:
    """The O(n²) definition the indexed version must agree with (ids only, no links).

    Each entry joins the kept title most similar to its own (earliest on ties) among
    those with the same numbers whose group has no entry of its source.
    """
    kept: list[tuple[frozenset[str], tuple[str, ...], set[str]]] = []
    kept_ids = []
    order = sorted(entries, key=lambda e: (e.date is None, e.date or T0, e.source is not None,
                                           e.source.url if e.source else "", e.id))  # fmt: skip
    for e in order:
        folded = unicodedata.normalize("NFKC", e.title).casefold()
        compact = "".join(c for c in folded if unicodedata.category(c)[0] not in "PZC")
        grams = frozenset(compact[i : i + 2] for i in range(len(compact) - 1))
        numbers = tuple(re.findall(r"\d+", folded))
        source = e.source.url if e.source else None
        best, best_score = None, 0.0
        if len(compact) >= 5:
            for g, n, sources in kept:
                if n != numbers or (source is not None and source in sources):
                    continue
                score = title_similarity(grams, g)
                if score >= threshold and score > best_score:
                    best, best_score = sources, score
        if best is not None:
            if source is not None:
                best.add(source)
            continue
        numbers_key = numbers if len(compact) >= 5 else ("never",)
        kept.append((grams, numbers_key, {source} if source else set()))
        kept_ids.append(e.id)
    return sorted(kept_ids)


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(headlines()[:6]),
            st.lists(st.tuples(st.integers(0, 40), st.sampled_from("的了是在新闻X")), max_size=3),
            st.integers(0, 3),
            st.sampled_from([None, SRC_A, SRC_B, SRC_C]),
        ),
        max_size=40,
    ),
    st.sampled_from([0.6, 0.75, 0.85, 0.95]),
)
def test_indexed_title_dedupe_matches_quadratic_definition(
    specs: list[tuple[str, list[tuple[int, str]], int, SourceRef | None]], threshold: float
) -> None:
    entries = []
    for n, (base, edits, hours, source) in enumerate(specs):
        title = base
        for where, char in edits:  # small edits: replace one character
            where %= len(title)
            title = title[:where] + char + title[where + 1 :]
        entries.append(make(f"{n:03}", title, date=T0 + timedelta(hours=hours), source=source))
    got = sorted(e.id for e in dedupe(entries, dedupe_titles=True, title_threshold=threshold))
    assert got == naive_title_dedupe(entries, threshold)


# ---------------------------------------------------------------------------
# size


def test_twenty_thousand_entries_merge() -> None:
    """Not a benchmark (see bench/): just that a realistic batch goes through."""
    rng = random.Random(2025)
    article = re.sub(r"\s+", "", NEWS.read_text(encoding="utf-8"))
    sources = [SourceRef(id=f"s{i}", url=f"https://s{i}.example/feed") for i in range(20)]
    entries = []
    for i in range(18_000):
        start = rng.randrange(len(article) - 30)
        phrase = article[start : start + rng.randint(10, 24)]
        entries.append(
            Entry(
                id=f"urn:e:{i}",
                # The issue number makes every base title distinct by construction.
                title=f"{phrase} 第{i}期",
                link=f"https://s{i % 20}.example/news/{i}.html",
                published=T0 + timedelta(minutes=i),
                source=sources[i % 20],
            )
        )
    # 1,500 copies reachable only by link; 300 by a title equal after NFKC (full-width
    # digits and space); 200 by a near-identical title (a "（图）" tag: one more bigram).
    wide = str.maketrans("0123456789 ", "０１２３４５６７８９　")
    for i in range(2000):
        e = entries[i]
        if i < 1500:
            link, title = f"http://S{i % 20}.example/news/{i}.html/?utm_source=rss", e.title
        else:
            link = f"https://mirror.example/{i}"
            title = e.title.translate(wide) if i < 1800 else e.title + "（图）"
        entries.append(
            e.evolve(
                id=f"urn:copy:{i}",
                title=title,
                link=link,
                published=T0 + timedelta(days=30, minutes=i),
                source=sources[(i + 1) % 20],
            )
        )
    rng.shuffle(entries)
    out = merge([entries], now=NOW, options=MergeOptions(dedupe_titles=True))
    assert len(out) == 18_000
    first = next(e for e in out if e.id == "urn:e:0")
    assert first.also_from == (sources[1],)
    wide_copy = next(e for e in out if e.id == "urn:e:1500")
    assert wide_copy.also_from == (sources[1],)
    tagged_copy = next(e for e in out if e.id == "urn:e:1999")
    assert tagged_copy.also_from == (sources[0],)
