"""End-to-end builds through the real CLI (subprocesses, real files, real SQLite)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import feedparser
import pytest
from tests.conftest import NEWS_PAGE, CliRunner, snapshot

from feedloom.opml import read_opml

NOW = "2025-01-02T08:00:00+08:00"
LATER = "2025-01-03T08:00:00+08:00"


def headlines() -> list[str]:
    """The 40 headlines, read independently of feedloom's parser."""
    text = NEWS_PAGE.read_text(encoding="utf-8")
    return [m.group(1).strip() for m in re.finditer(r"^- \d+\.(.+)$", text, re.MULTILINE)]


def test_news_feed_has_the_40_headlines_in_every_format(project: Path, cli: CliRunner) -> None:
    proc = cli("build", "--now", NOW, check=True)
    assert "news: 40 entries, 40 new, written rss,atom,json,html" in proc.stderr
    out = project / "output"
    expected = headlines()
    assert len(expected) == 40
    rss = feedparser.parse((out / "news.xml").read_bytes())
    atom = feedparser.parse((out / "news.atom").read_bytes())
    jsf = json.loads((out / "news.json").read_bytes())
    assert not rss.bozo and not atom.bozo
    assert [e.title for e in rss.entries] == expected
    assert [e.title for e in atom.entries] == expected
    assert [i["title"] for i in jsf["items"]] == expected
    ids = [e.id for e in rss.entries]
    assert ids == [e.id for e in atom.entries] == [i["id"] for i in jsf["items"]]
    assert len(set(ids)) == 40
    links = [e.link for e in rss.entries]
    assert links == [e.link for e in atom.entries] == [i["url"] for i in jsf["items"]]
    # Rank order survives in readers that sort by date: rank 1 is the newest.
    stamps = [e.published_parsed for e in rss.entries]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == 40
    assert [i["_feedloom"]["rank"] for i in jsf["items"]] == list(range(1, 41))
    # The article is rank 2, with the whole text and without the disclaimer.
    article = jsf["items"][1]
    assert article["content_html"].count("<p>") == 5
    assert "声明" not in (out / "news.json").read_text(encoding="utf-8").split('"items"')[1]
    assert rss.feed.rights.startswith("声明")
    assert "284598818@qq.com" in rss.feed.get("publisher", "") + rss.feed.get("author", "")


def test_rebuild_changes_no_byte_and_no_mtime(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, check=True)
    before = snapshot(project / "output")
    proc = cli("build", "--now", LATER, check=True)
    assert "news: 40 entries, 0 new, unchanged" in proc.stderr
    assert snapshot(project / "output") == before


def test_dates_are_kept_and_a_new_headline_is_newer(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, "news", check=True)
    first = json.loads((project / "output" / "news.json").read_bytes())
    page = project / "sources" / "news.txt"
    page.write_text(
        page.read_text(encoding="utf-8") + "\n- 41.新增的一条头条新闻\n", encoding="utf-8"
    )
    proc = cli("build", "--now", LATER, "news", check=True)
    assert "news: 41 entries, 1 new" in proc.stderr
    second = json.loads((project / "output" / "news.json").read_bytes())
    old = {i["id"]: i["date_published"] for i in first["items"]}
    new = {i["id"]: i["date_published"] for i in second["items"]}
    assert {k: new[k] for k in old} == old
    (added,) = set(new) - set(old)
    assert second["items"][0]["id"] == added
    # Rank 41 first seen at LATER (00:00Z) is dated 40 s earlier, below rank 1..40 of its batch.
    assert new[added] == "2025-01-02T23:59:20+00:00"


def test_source_date_epoch_makes_builds_reproducible(project: Path, cli: CliRunner) -> None:
    env = {"SOURCE_DATE_EPOCH": "1735776000"}
    cli("build", env=env, check=True)
    first = {k: v[0] for k, v in snapshot(project / "output").items()}
    for f in (project / ".feedloom").iterdir():
        f.unlink()
    for f in (project / "output").iterdir():
        f.unlink()
    cli("build", env=env, check=True)
    assert {k: v[0] for k, v in snapshot(project / "output").items()} == first
    assert b"2025-01-02" in first["news.atom"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ],
)
def test_bad_page_fails_clearly_and_changes_nothing(
    project: Path, cli: CliRunner, content: bytes, expected: str
) -> None:
    cli("build", "--now", NOW, "news", check=True)
    before = snapshot(project / "output")
    state = project / ".feedloom" / "state.sqlite"
    rows_before = _dump(state)
    (project / "sources" / "news.txt").write_bytes(content)
    proc = cli("build", "--now", LATER, "news")
    assert proc.returncode == 3
    assert "news.txt" in proc.stderr and expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(project / "output") == before
    assert _dump(state, skip_status=True) == _dump_rows(rows_before, skip_status=True)


def _dump(path: Path, *, skip_status: bool = False) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: sorted(db.execute(f"SELECT * FROM {t}")) for t in tables}  # noqa: S608
    db.close()
    return _dump_rows(rows, skip_status=skip_status)


def _dump_rows(
    rows: dict[str, list[tuple[object, ...]]], *, skip_status: bool
) -> dict[str, list[tuple[object, ...]]]:
    return {t: r for t, r in rows.items() if not (skip_status and t == "source_status")}


def test_bad_config_fails_before_anything_is_written(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, check=True)
    before = snapshot(project / "output")
    toml = project / "feeds" / "news.toml"
    toml.write_text('tittle = "typo"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    proc = cli("build", "--now", LATER)
    assert proc.returncode == 2
    assert "news.toml" in proc.stderr and "'tittle'" in proc.stderr and "unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(project / "output") == before
    debug = cli("--debug", "build", "--now", LATER)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_merged_feed_dedupes_filters_and_attributes(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, "merged", check=True)
    data = json.loads((project / "output" / "merged.json").read_bytes())
    titles = [i["title"] for i in data["items"]]
    assert len(titles) == len(set(titles))
    c919 = [i for i in data["items"] if "C919" in i["title"]]
    assert len(c919) == 1
    assert c919[0]["_feedloom"]["also_from"][0]["title"] == "新闻热榜"
    assert not any(t.startswith("广告") for t in titles)
    # The GB18030 source is decoded: its Chinese titles are intact.
    assert "老城区周末市集恢复开放 新增手作与非遗展位" in titles
    # Hostile markup from the external feeds never reaches the output.
    raw = (project / "output" / "merged.xml").read_text(encoding="utf-8")
    assert "<script" not in raw.lower() and "onerror" not in raw and "javascript:" not in raw
    culture = next(i for i in data["items"] if "江边美术馆" in i["title"])
    assert culture["_feedloom"]["source"]["title"] == "城市文化周刊"
    # A naive date is read in the feed's timezone (Asia/Shanghai): 09:00 +08:00.
    assert culture["date_published"] == "2024-12-02T01:00:00+00:00"


def test_failing_source_is_reported_and_history_is_kept(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, "merged", check=True)
    (project / "sources" / "external" / "transit.atom").write_text(
        "<html>gone</html>", encoding="utf-8"
    )
    proc = cli("build", "--now", LATER, "merged")
    assert proc.returncode == 0
    assert "1 of 3 sources failed" in proc.stderr and "transit.atom" in proc.stderr
    data = json.loads((project / "output" / "merged.json").read_bytes())
    assert any("城际线夜间加开班次" in i["title"] for i in data["items"])
    status = cli("status", check=True)
    assert "transit.atom" in status.stdout and "error=" in status.stdout


def test_feeds_opml_lists_every_published_feed(project: Path, cli: CliRunner) -> None:
    """Readers import OPML to subscribe to many feeds at once; Planet-style sites publish
    one. Read back with feedloom's own OPML reader, and checked against the feed files."""
    cli("build", "--now", NOW, check=True)
    opml = read_opml(project / "output" / "feeds.opml")
    assert opml.title == "订阅源"
    assert [(s.title, s.url, s.html_url) for s in opml.subscriptions] == [
        (
            "新闻热榜 · 综合",
            "https://news.example.com/feeds/merged.xml",
            "https://news.example.com/",
        ),
        ("新闻热榜", "https://news.example.com/feeds/news.xml", "https://news.example.com/"),
    ]
    # Each URL is the feed's own self link, as written in the RSS file it names.
    for sub in opml.subscriptions:
        name = sub.url.rsplit("/", 1)[1]
        rss = (project / "output" / name).read_text(encoding="utf-8")
        assert f'href="{sub.url}" rel="self"' in rss
    index = (project / "output" / "index.html").read_text(encoding="utf-8")
    assert '<a href="feeds.opml" type="text/x-opml">' in index


def test_status_for_scripts_and_monitors(project: Path, cli: CliRunner) -> None:
    """``--json`` for scripts; ``--fail-after`` exits 3 when a configured source has not
    succeeded for that long, so a monitor catches a dead cron job or a dead origin."""
    fresh = cli("status", "--fail-after", "1h", "--now", NOW)
    assert fresh.returncode == 3  # nothing built yet: a cron job that never ran
    assert "feedloom: stale: news: " in fresh.stderr and ": never built" in fresh.stderr
    cli("build", "--now", NOW, check=True)
    transit = project / "sources" / "external" / "transit.atom"
    transit.write_text("<html>gone</html>", encoding="utf-8")
    cli("build", "--now", LATER, check=True)  # one source fails; the feed is still written

    records = json.loads(cli("status", "--json", check=True).stdout)
    assert [(r["feed"], r["type"], Path(r["location"]).name) for r in records] == [
        ("merged", "feed", "culture.xml"),
        ("merged", "feed", "transit.atom"),
        ("merged", "newspage", "news.txt"),
        ("news", "newspage", "news.txt"),
    ]
    broken = records[1]
    assert broken["configured"] is True
    # NOW and LATER are 08:00 in +08:00, a day apart.
    assert broken["last_success"] == "2025-01-02T00:00:00Z"
    assert broken["last_attempt"] == "2025-01-03T00:00:00Z"
    assert "transit.atom" in broken["last_error"]
    assert records[0]["last_success"] == "2025-01-03T00:00:00Z"

    # With two days to spare everything is fresh (and a check says nothing)...
    ok = cli("status", "--fail-after", "2d", "--now", LATER)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    # ... with twelve hours only the failing source is stale, and it says since when and why.
    stale = cli("status", "--fail-after", "12h", "--now", LATER)
    assert stale.returncode == 3 and stale.stdout == ""
    (line,) = stale.stderr.splitlines()
    assert line.startswith(
        f"feedloom: stale: merged: {transit}: no success since 2025-01-02 00:00:00Z (last error: "
    ), line

    # A source removed from the config is marked, and no longer counts for monitors.
    toml = project / "feeds" / "merged.toml"
    text = toml.read_text(encoding="utf-8")
    cut = text.index('[[sources]]\ntype = "feed"\nurl = "../sources/external/transit.atom"')
    toml.write_text(text[:cut], encoding="utf-8")
    assert cli("status", "--fail-after", "12h", "--now", LATER).returncode == 0
    listing = cli("status", check=True).stdout.splitlines()
    assert [ln.endswith("\t(no longer configured)") for ln in listing] == [
        False, True, False, False
    ]  # fmt: skip
    bad = cli("status", "--fail-after", "soon")
    assert bad.returncode == 2 and "--fail-after" in bad.stderr


def test_fail_on_source_error_sets_the_exit_status(project: Path, cli: CliRunner) -> None:
    toml = project / "feeds" / "merged.toml"
    toml.write_text(
        "fail_on_source_error = true\n" + toml.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (project / "sources" / "external" / "transit.atom").unlink()
    proc = cli("build", "--now", NOW, "merged")
    assert proc.returncode == 3
    assert (project / "output" / "merged.xml").exists()


def test_check_reports_on_outputs_and_on_garbage(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, "news", check=True)
    ok = cli("check", "output/news.xml", "output/news.atom", "output/news.json", check=True)
    assert ok.stdout.count(": OK:") == 3 and "40 entries" in ok.stdout
    bad = project / "bad.xml"
    bad.write_text("not a feed", encoding="utf-8")
    proc = cli("check", "bad.xml")
    assert proc.returncode == 3 and "bad.xml: FAIL" in proc.stdout


def test_unknown_feed_name_is_a_usage_error(cli: CliRunner) -> None:
    proc = cli("build", "nosuchfeed")
    assert proc.returncode == 2 and "nosuchfeed" in proc.stderr


def test_lock_held_gives_exit_75(project: Path, cli: CliRunner) -> None:
    from feedloom.lock import StateLock

    with StateLock(project / ".feedloom" / "state.sqlite", wait=0):
        proc = cli("build", "--wait", "0.3")
    assert proc.returncode == 75
    assert "lock" in proc.stderr


def test_python_dash_m_and_version(cli: CliRunner) -> None:
    proc = cli("--version", check=True)
    assert re.search(r"feedloom, version \d+\.\d+", proc.stdout)


def test_editor_lock_files_in_feeds_are_ignored(project: Path, cli: CliRunner) -> None:
    (project / "feeds" / ".#news.toml").symlink_to("root@host.1234:1700000000")
    (project / "feeds" / ".news.toml.swp").write_bytes(b"\x00binary")
    proc = cli("build", "--now", NOW, check=True)
    assert "news: 40 entries" in proc.stderr


def test_a_killed_builds_temporary_file_is_cleaned_up(project: Path, cli: CliRunner) -> None:
    cli("build", "--now", NOW, check=True)
    stale = project / "output" / ".news.xml.abc123.tmp"
    stale.write_bytes(b"<rss")
    (project / "sources" / "news.txt").write_text(
        NEWS_PAGE.read_text(encoding="utf-8") + "\n- 41.又一条新闻\n", encoding="utf-8"
    )
    cli("build", "--now", LATER, check=True)
    assert not stale.exists()


def test_first_seen_dates_of_gone_entries_are_forgotten_after_a_year(
    project: Path, cli: CliRunner
) -> None:
    """A date is kept while the entry is on the page and for a year after it was first
    seen; a headline back within that year keeps its date, after it, it is news again."""
    page = project / "sources" / "news.txt"
    full = page.read_text(encoding="utf-8")
    last = "通过综合整治“内卷式”竞争 不断激发广大经营主体内生动力"
    lines = full.splitlines(keepends=True)
    without = "".join(line for line in lines if not line.startswith(f"- 40.{last}"))
    assert len(without) < len(full)
    state = project / ".feedloom" / "state.sqlite"

    def build(when: str) -> dict[str, str]:
        cli("build", "news", "--now", when, check=True)
        items = json.loads((project / "output" / "news.json").read_bytes())["items"]
        return {i["title"]: i["date_published"] for i in items}

    def seen_rows() -> int:
        db = sqlite3.connect(state)
        try:
            return db.execute("SELECT count(*) FROM seen WHERE feed LIKE 'news|%'").fetchone()[0]
        finally:
            db.close()

    first = build("2025-01-01T00:00:00Z")[last]
    page.write_text(without, encoding="utf-8")
    build("2025-06-01T00:00:00Z")
    assert seen_rows() == 40  # gone for five months: remembered
    page.write_text(full, encoding="utf-8")
    assert build("2025-06-02T00:00:00Z")[last] == first  # back: the same date
    page.write_text(without, encoding="utf-8")
    build("2026-01-02T00:00:00Z")  # a year and a day after it was first seen
    assert seen_rows() == 39  # the 39 still on the page are kept, however old
    page.write_text(full, encoding="utf-8")
    dates = build("2026-01-03T00:00:00Z")
    assert dates[last] > max(d for t, d in dates.items() if t != last)  # new again
