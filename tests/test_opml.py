"""`feedloom import-opml`: a reader's subscription list becomes a feed file that builds."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from tests.conftest import CORPUS, CliRunner, requires_corpus

from feedloom.build import prepare
from feedloom.config import load_feed_config
from feedloom.errors import InputError
from feedloom.opml import _toml_string, read_opml

# What readers export: folders nested two deep, a feed outside any folder, attribute
# names in other cases, a feed listed twice, a feed: URL, a link outline and a note.
SUBSCRIPTIONS = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>我的订阅</title></head>
  <body>
    <outline text="科技" title="科技">
      <outline type="rss" text="Heise" title="heise online"
               xmlUrl="https://www.heise.de/rss/heise-atom.xml" htmlUrl="https://www.heise.de/"/>
      <outline text="中文">
        <outline type="rss" text="少数派" xmlUrl="https://sspai.com/feed"/>
      </outline>
      <outline type="rss" text="again" xmlUrl="https://sspai.com/feed"/>
    </outline>
    <outline type="rss" text='Say "hi" \\ 	tab' XMLURL="http://example.org/rss"/>
    <outline type="rss" text="bad" xmlUrl="feed://example.org/x"/>
    <outline type="link" text="just a link" url="https://x.org/"/>
    <outline text="a note without children"/>
  </body>
</opml>
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_writes_a_feed_file_that_the_loader_accepts(project: Path, cli: CliRunner) -> None:
    opml = write(project, "subs.opml", SUBSCRIPTIONS)
    proc = cli("import-opml", str(opml), "--site-url", "https://me.example.org/", check=True)
    assert proc.stderr.splitlines() == [
        f"feedloom: warning: {opml}: line 11: 'again' skipped: "
        "https://sspai.com/feed is listed already",
        f"feedloom: warning: {opml}: line 14: 'bad' skipped: "
        "xmlUrl 'feed://example.org/x' is not http(s)",
        f"feeds/subs.toml: 3 sources from {opml}",
    ]
    target = project / "feeds" / "subs.toml"
    data = tomllib.loads(target.read_text(encoding="utf-8"))
    assert data["title"] == "我的订阅"  # the OPML's own title
    assert data["sources"] == [
        {"type": "feed", "url": "https://www.heise.de/rss/heise-atom.xml", "name": "heise online"},
        {"type": "feed", "url": "https://sspai.com/feed", "name": "少数派"},
        # whitespace collapsed, as every reader shows a title
        {"type": "feed", "url": "http://example.org/rss", "name": 'Say "hi" \\ tab'},
    ]
    text = target.read_text(encoding="utf-8")
    assert "# 科技 / 中文\n" in text and "&#" not in text  # folders kept; Chinese as characters
    (prepared,) = prepare([load_feed_config(target)])
    assert [a.url for a in prepared.adapters] == [s["url"] for s in data["sources"]]


def test_existing_feed_file_is_kept_unless_forced(project: Path, cli: CliRunner) -> None:
    opml = write(project, "subs.opml", SUBSCRIPTIONS)
    target = project / "feeds" / "news.toml"
    before = target.read_bytes()
    proc = cli("import-opml", str(opml), "--name", "news", "--site-url", "https://me.example.org/")
    assert proc.returncode == 2
    assert "feeds/news.toml: the feed file exists already (use --force" in proc.stderr
    assert target.read_bytes() == before
    forced = cli(
        "import-opml", str(opml), "--name", "news", "--title", "Mine",
        "--site-url", "https://me.example.org/", "--force", check=True,
    )  # fmt: skip
    assert "feeds/news.toml: 3 sources" in forced.stderr
    assert tomllib.loads(target.read_text(encoding="utf-8"))["title"] == "Mine"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an OPML file, got XML that is not well-formed"),
        ("<opml><body><outline", "expected an OPML file, got XML that is not well-formed"),
        ("<rss version='2.0'><channel/></rss>", "expected an OPML file (<opml>), got <rss>"),
        ("<opml><body><outline text='x'/></body></opml>", "lists no http(s) feed"),
        (
            "<opml><body><outline xmlUrl='file:///etc/passwd'/></body></opml>",
            "the OPML file lists no http(s) feed (no outline with xmlUrl) (1 skipped: line 1: "
            "'file:///etc/passwd' skipped: xmlUrl 'file:///etc/passwd' is not http(s))",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
            "<opml><body><outline text='&b;' xmlUrl='https://x.org/f'/></body></opml>",
            "refused: the document declares XML entities",
        ),
    ],
)
def test_bad_opml_is_refused_and_nothing_is_written(
    project: Path, cli: CliRunner, text: str, message: str
) -> None:
    opml = write(project, "bad.opml", text)
    proc = cli("import-opml", str(opml), "--site-url", "https://me.example.org/")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith(f"feedloom: error: {opml}: ")
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert not (project / "feeds" / "bad.toml").exists()


def test_an_unreadable_opml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.opml: cannot read the OPML file"):
        read_opml(tmp_path / "missing.opml")


def test_a_path_as_text_or_path_and_the_bytes_read_alike(tmp_path: Path) -> None:
    path = write(tmp_path, "subs.opml", SUBSCRIPTIONS)
    by_path, by_text = read_opml(path), read_opml(str(path))
    by_bytes = read_opml(path.read_bytes())
    assert by_path == by_text == by_bytes
    assert [s.category for s in by_path.subscriptions] == [("科技",), ("科技", "中文"), ()]


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "TOP SECRET")
    doc = (
        f'<!DOCTYPE opml SYSTEM "{secret.as_uri()}">'
        "<opml><body><outline text='a&ext;b' xmlUrl='https://x.org/f'/></body></opml>"
    )
    # The external DTD is never loaded, so the reference stays unresolved and is dropped.
    (sub,) = read_opml(doc.encode()).subscriptions
    assert (sub.title, sub.url) == ("ab", "https://x.org/f")


@requires_corpus
def test_imported_list_builds_into_a_merged_feed(
    project: Path, cli: CliRunner, httpserver: HTTPServer
) -> None:
    for name, kind in (("rssparser__guardian.rss", "rss"), ("rssparser__heise.atom", "atom")):
        httpserver.expect_request(f"/{name}").respond_with_data(
            (CORPUS / name).read_bytes(), content_type=f"application/{kind}+xml"
        )
    opml = write(
        project,
        "two.opml",
        "<opml version='1.0'><head><title>Two</title></head><body>"
        f"<outline text='Guardian' xmlUrl='{httpserver.url_for('/rssparser__guardian.rss')}'/>"
        f"<outline text='Heise' xmlUrl='{httpserver.url_for('/rssparser__heise.atom')}'/>"
        "</body></opml>",
    )
    cli("import-opml", str(opml), "--site-url", "https://me.example.org/", check=True)
    proc = cli("build", "two", "--now", "2025-01-02T08:00:00Z", check=True)
    assert "two: 70 entries, 70 new, written" in proc.stderr  # 55 + 15, as the corpus has
    rss = (project / "output" / "two.xml").read_text(encoding="utf-8")
    assert rss.count("<item>") == 70
    assert ">Guardian</source>" in rss and ">Heise</source>" in rss


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"k = {_toml_string(value)}")["k"] == value


@pytest.mark.parametrize("name", ["../escaped", ".hidden", "a/b", "My Subscriptions"])
def test_a_feed_name_that_is_no_plain_file_name_is_refused(
    project: Path, cli: CliRunner, name: str
) -> None:
    opml = write(project, "subs.opml", SUBSCRIPTIONS)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    proc = cli("import-opml", str(opml), "--name", name, "--site-url", "https://me.example.org/")
    assert proc.returncode == 2
    assert "key '--name': expected a plain file name" in proc.stderr and repr(name) in proc.stderr
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


@requires_corpus
def test_merge_takes_an_opml_list(
    project: Path, cli: CliRunner, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/g.rss").respond_with_data(
        (CORPUS / "rssparser__guardian.rss").read_bytes(), content_type="application/rss+xml"
    )
    local = CORPUS / "rssparser__heise.atom"
    opml = write(
        project,
        "mix.opml",
        "<opml version='2.0'><body>"
        f"<outline text='G' xmlUrl='{httpserver.url_for('/g.rss')}'/>"
        "<outline text='local files are not subscriptions' xmlUrl='file:///etc/hosts'/>"
        "</body></opml>",
    )
    out = tmp_path / "merged.json"
    proc = cli("merge", str(local), "--opml", str(opml), "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "file:///etc/hosts" in proc.stderr and "is not http(s)" in proc.stderr
    items = json.loads(out.read_bytes())["items"]
    assert len(items) == 70  # 15 from the file argument + 55 from the list
    nothing = cli("merge")
    assert nothing.returncode == 2 and "give feeds to merge" in nothing.stderr
