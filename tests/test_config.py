"""Config validation: every error names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedloom.build import prepare
from feedloom.config import load_feed_config, load_feed_configs, parse_duration
from feedloom.errors import ConfigError

GOOD = """
title = "T"
site_url = "https://example.org/"
[[sources]]
type = "newspage"
path = "page.txt"
"""


def write(tmp_path: Path, text: str, name: str = "f.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_feeds_are_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    configs = load_feed_configs(root / "feeds")
    assert [c.name for c in configs] == ["merged", "news"]
    prepared = prepare(configs)
    assert [len(p.adapters) for p in prepared] == [3, 1]
    news = configs[1]
    assert news.self_urls()["rss"] == "https://news.example.com/feeds/news.xml"
    assert news.language == "zh-CN"


def test_defaults(tmp_path: Path) -> None:
    c = load_feed_config(write(tmp_path, GOOD))
    assert c.name == "f"
    assert c.formats == ("rss", "atom", "json", "html")
    assert c.feed_id == "https://example.org/"
    assert c.ttl == 60
    assert c.sources[0].type == "newspage"


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        ('tittle = "x"', "tittle", "unknown key"),
        ('ttl = "30"', "ttl", "expected an integer"),
        ("ttl = true", "ttl", "expected an integer"),
        ("ttl = 0", "ttl", ">= 1"),
        ('formats = ["rss", "pdf"]', "formats", "'pdf'"),
        ('name = "../escape"', "name", "plain file name"),
        ('name = ".hidden"', "name", "plain file name"),
        ('name = "/etc/passwd"', "name", "plain file name"),
        ('every = "soon"', "every", "duration"),
        ('schedule = "* * *"', "schedule", "5-field"),
        ('schedule = "* * * * *"\nevery = "5m"', "every", "not both"),
        ('timezone = "Mars/Olympus"', "timezone", "IANA"),
        ('include = ["re:("]', "include", "("),
        ('hub = "ftp://hub"', "hub", "http(s) URL"),
        ("[fetch]\ndeadline = -1", "fetch.deadline", "positive"),
        ("[fetch]\nworkers = 0", "fetch.workers", ">= 1"),
        ("[fetch]\ntimeout = 5", "fetch.timeout", "unknown key"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, extra: str, key: str, expected: str) -> None:
    # A table header ends the top-level keys, so tables go after GOOD.
    text = GOOD + extra + "\n" if extra.startswith("[") else extra + "\n" + GOOD
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_feed_config(path)
    message = str(info.value)
    assert str(path) in message
    assert f"'{key}'" in message
    assert expected in message
    assert info.value.exit_code == 2


def test_fetch_limits(tmp_path: Path) -> None:
    c = load_feed_config(write(tmp_path, GOOD + "[fetch]\ndeadline = 1.5\nmax_bytes = 1024\n"))
    assert c.fetch == {"deadline": 1.5, "max_bytes": 1024}


def test_site_url_required(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\ntype = "newspage"\npath = "p"\n')
    with pytest.raises(ConfigError, match=r"'site_url'.*required"):
        load_feed_config(path)


def test_unknown_source_type_and_source_keys(tmp_path: Path) -> None:
    path = write(tmp_path, 'site_url = "https://e.org/"\n[[sources]]\ntype = "html"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.type.*newspage"):
        load_feed_config(path)
    path = write(tmp_path, GOOD + 'pth = "x"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.pth.*unknown key"):
        prepare([load_feed_config(path)])


def test_invalid_toml_and_encoding(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_feed_config(write(tmp_path, "title = \n"))
    bad = tmp_path / "g.toml"
    bad.write_bytes('title = "新闻"'.encode("gb18030"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_feed_config(bad)


def test_duplicate_names_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no feed files"):
        load_feed_configs(tmp_path)
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, 'name = "a"\n' + GOOD, "b.toml")
    with pytest.raises(ConfigError, match="also used by"):
        load_feed_configs(tmp_path)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1w", 604800)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "-5m", "0s", "5 parsecs"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
