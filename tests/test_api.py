"""The library API: merge_feeds / parse_feed, the README's example, and `feedloom merge`."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from pytest_httpserver import HTTPServer
from tests.conftest import CORPUS, ROOT, CliRunner, requires_corpus

import feedloom
from feedloom import Feed, ParseError, merge_feeds, parse_feed

NOW = datetime(2025, 1, 2, tzinfo=UTC)


def test_readme_library_example_runs(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Library API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "the README's Library API section has a python example"
    cwd = Path.cwd()
    os.chdir(project)
    try:
        exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102 - our own README
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "出行快报" in out and "城市文化周刊" in out
    assert "广告" not in out


@requires_corpus
def test_merge_feeds_dedupes_and_attributes_across_formats() -> None:
    sources = [CORPUS / "rsparser__DaringFireball.atom", CORPUS / "rsparser__DaringFireball.json"]
    # The same 48 posts as Atom and as JSON Feed. Ids differ by format; links agree only
    # for the site's own articles: a "linked" post's Atom link is the external page,
    # its JSON url the permalink. So links fold some, titles fold all.
    by_link = merge_feeds(sources, now=NOW)
    assert 48 < len(by_link.entries) < 96
    feed = merge_feeds(sources, now=NOW, dedupe_titles=True)
    assert len(feed.entries) == 48
    # All but one carry the other format as also_from: the Atom "Mnml" post links to
    # http://mnml.af/ like the Atom "[Sponsor] MNML" post, so the link rule folds it
    # into that (earlier) sponsor post, and the JSON "Mnml" is left with no twin.
    lonely = [e.title for e in feed.entries if not e.also_from]
    assert lonely == ["Mnml – A Mac Client for Medium"]
    assert len({e.id for e in feed.entries}) == 48
    dates = [e.date for e in feed.entries]
    assert dates == sorted(dates, reverse=True)
    rss = feedparser.parse(feed.to_rss())
    assert len(rss.entries) == 48 and not rss.bozo
    data = json.loads(feed.to_json())
    assert data["version"] == "https://jsonfeed.org/version/1.1"


@requires_corpus
def test_merge_feeds_limit_filters_and_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.xml"
    feed = merge_feeds(
        [CORPUS / "rssparser__guardian.rss", CORPUS / "rssparser__heise.atom", missing],
        limit=10,
        per_source_limit=7,
        now=NOW,
    )
    assert len(feed.entries) == 10
    titles = {e.source.title for e in feed.entries if e.source}
    assert len(titles) == 2
    assert len(feed.errors) == 1 and "missing.xml" in str(feed.errors[0])
    only = merge_feeds([CORPUS / "rssparser__heise.atom"], include=["re:java"], now=NOW)
    assert only.entries and all(
        "java" in (e.title + (e.summary or "")).lower() for e in only.entries
    )


@requires_corpus
def test_merge_feeds_over_http(httpserver: HTTPServer) -> None:
    body = (CORPUS / "rssparser__heise.atom").read_bytes()
    httpserver.expect_request("/heise.atom").respond_with_data(
        body, content_type="application/atom+xml"
    )
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    feed = merge_feeds([httpserver.url_for("/heise.atom"), httpserver.url_for("/gone")], now=NOW)
    assert len(feed.entries) == 15
    assert len(feed.errors) == 1 and "410" in str(feed.errors[0])
    agent = httpserver.log[0][0].headers["User-Agent"]
    assert agent.startswith(f"feedloom/{feedloom.__version__}")


@requires_corpus
def test_parse_feed_from_bytes_path_and_error() -> None:
    data = (CORPUS / "rsparser__kc0011.rss").read_bytes()
    from_bytes = parse_feed(data, url="https://kc0011.net/rss.xml", timezone="Asia/Shanghai")
    from_path = parse_feed(CORPUS / "rsparser__kc0011.rss", timezone="Asia/Shanghai")
    assert isinstance(from_bytes, Feed)
    assert len(from_bytes.entries) == len(from_path.entries) == 20
    assert [e.title for e in from_bytes.entries] == [e.title for e in from_path.entries]
    with pytest.raises(ParseError):
        parse_feed(b"<html><body>not a feed</body></html>")


@requires_corpus
def test_cli_merge_writes_a_valid_deduplicated_feed(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/transit.atom").respond_with_data(
        (project / "sources" / "external" / "transit.atom").read_bytes(),
        content_type="application/atom+xml",
    )
    out = project / "merged.atom"
    proc = cli(
        "merge",
        str(CORPUS / "rssparser__heise.atom"),
        str(project / "sources" / "external" / "transit.atom"),
        httpserver.url_for("/transit.atom"),
        "--format",
        "atom",
        "--title",
        "合并",
        "-o",
        str(out),
        "--now",
        "2025-01-02T00:00:00Z",
        check=True,
    )
    assert proc.stdout == ""
    parsed = feedparser.parse(out.read_bytes())
    assert not parsed.bozo and parsed.feed.title == "合并"
    # heise 15 + transit 3; the loopback copy of transit is the same 3 entries again.
    assert len(parsed.entries) == 18
    ids = [e.id for e in parsed.entries]
    assert len(ids) == len(set(ids))
    assert all("source" in e for e in parsed.entries)
    stdout = cli("merge", str(CORPUS / "rssparser__heise.atom"), "--format", "json", "--limit", "3")
    assert len(json.loads(stdout.stdout)["items"]) == 3


def test_cli_merge_all_sources_failing_exits_3(cli: CliRunner, tmp_path: Path) -> None:
    proc = cli("merge", str(tmp_path / "nope.xml"))
    assert proc.returncode == 3
    assert "nope.xml" in proc.stderr


@requires_corpus
def test_the_whole_corpus_merges_into_one_valid_feed() -> None:
    from feedloom.merge import canonical_link

    files = sorted(p for p in CORPUS.iterdir() if p.name != "MANIFEST.tsv")
    assert len(files) >= 50
    feed = merge_feeds(files, now=NOW, dedupe_titles=True)
    # Only the documents that yield no entry at all fail (see tests/test_parse.py's
    # allow-list): truncated or invalid ones.
    failed = sorted(Path(e.path or e.url or "").name for e in feed.errors)
    assert failed == sorted(
        [
            "feedparser__illformed_rss_incomplete_cdata.xml",
            "feedparser__illformed_undeclared_namespace.xml",
            "feedrs__rss_2.0_invalid_1.xml",
            "rsparser__allthis-partial.json",
        ]
    ), failed
    ids = [e.id for e in feed.entries]
    links = [canonical_link(e.link) for e in feed.entries if e.link]
    assert len(ids) == len(set(ids)) and len(links) == len(set(links))
    assert len(feed.entries) > 500
    rss = feedparser.parse(feed.to_rss())
    assert not rss.bozo and len(rss.entries) == len(feed.entries)
    assert len(json.loads(feed.to_json())["items"]) == len(feed.entries)
    atom = feed.to_atom()
    assert feedparser.parse(atom).entries[0].id == feed.entries[0].id
    # Real feeds carry junk in every field (an author e-mail of
    # "atom_0.3.feed.entry[1].author.email" once broke this): the schema must still pass.
    rng = Path(__file__).parent / "data" / "writers" / "atom.rng"
    schema = etree.RelaxNG(etree.parse(str(rng)))
    doc = etree.fromstring(atom, etree.XMLParser(resolve_entities=False, no_network=True))
    assert schema.validate(doc), schema.error_log
