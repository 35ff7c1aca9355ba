"""Feed configuration: ``feeds/*.toml`` → validated, typed :class:`FeedConfig`.

Every error names the file, the dotted key and what was expected. Unknown keys are
errors, so a typo (``tittle = ...``) never passes silently. Relative paths in a
feed file are resolved against the folder of that file.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedloom.errors import ConfigError

__all__ = [
    "FeedConfig",
    "Retention",
    "SourceConfig",
    "Table",
    "load_feed_config",
    "load_feed_configs",
    "parse_duration",
]

T = TypeVar("T")

# Output names become file names inside output/: no separators, no dot-files,
# so a config can never write outside the output folder.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ALL_FORMATS = ("rss", "atom", "json", "html")


# Units largest first, each at most once: "1h30m", "2d", "45s", "1h 30m", "2w".
# Lower-case only, so nobody can mean "months" by "M". Weeks because the config
# reference promises them for every duration, and `feedloom build` accepts them.
_DURATION_RE = re.compile(
    r"\s*(?:(?P<w>\d+)\s*w)?\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?"
    r"\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?\s*",
    re.ASCII,
)
_BARE_NUMBER_RE = re.compile(r"\s*\d+\s*", re.ASCII)
_DURATION_EXPECTED = (
    "a whole number and a unit (w, d, h, m, s), largest first: '15m', '1h30m', '45s'"
)


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``"15m"``, ``"1h30m"``, ``"45s"``, ``"2d"`` or ``"2w"``.

    A bare number such as ``"90"`` is rejected rather than guessed: cron users read
    it as minutes, others as seconds.

    Raises:
        ConfigError: (a ``ValueError``) naming the text and the expected form, for
            a malformed, unit-less, zero or absurdly long duration.
    """
    if not isinstance(text, str):
        raise ConfigError(f"duration {text!r} must be a string with a unit, e.g. '15m'")
    if _BARE_NUMBER_RE.fullmatch(text):
        n = text.strip()
        raise ConfigError(f"duration {text!r} has no unit: write '{n}s' or '{n}m'")
    match = _DURATION_RE.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        raise ConfigError(f"invalid duration {text!r}: expected {_DURATION_EXPECTED}")
    parts = {unit: int(value or 0) for unit, value in match.groupdict().items()}
    try:
        interval = timedelta(
            weeks=parts["w"],
            days=parts["d"],
            hours=parts["h"],
            minutes=parts["m"],
            seconds=parts["s"],
        )
    except OverflowError as e:
        raise ConfigError(f"duration {text!r} is too long") from e
    if interval <= timedelta(0):
        raise ConfigError(f"duration {text!r} must be longer than zero")
    return interval


class Table:
    """A TOML table being validated: typed getters that record which keys were read.

    Call :meth:`done` at the end: any key not read is reported as unknown.
    """

    def __init__(self, data: dict[str, Any], *, path: Path, prefix: str = "") -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted name of ``name`` for messages."""
        return f"{self.prefix}{name}"

    def error(self, name: str, message: str) -> ConfigError:
        """A ConfigError naming this file and ``name``."""
        return ConfigError(message, path=str(self.path), key=self.key(name))

    def _get(self, name: str, kind: type | tuple[type, ...], expected: str, default: Any) -> Any:
        self._read.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        # bool is an int in Python; an int key must not accept `true`.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(name, f"expected {expected}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(name, f"expected {expected}, got {value!r}")
        return value

    def string(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        """A string value; ``required`` makes absence an error."""
        if required and name not in self.data:
            raise self.error(name, "is required (a string)")
        value = self._get(name, str, "a string", default)
        if isinstance(value, str) and required and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def integer(self, name: str, default: Any = None, *, minimum: int = 0) -> Any:
        """An integer value of at least ``minimum``."""
        value = self._get(name, int, "an integer", default)
        if isinstance(value, int) and value < minimum:
            raise self.error(name, f"expected an integer >= {minimum}, got {value}")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        """A boolean value."""
        return bool(self._get(name, bool, "true or false", default))

    def str_list(self, name: str) -> tuple[str, ...]:
        """A list of strings (a single string is accepted as a one-element list)."""
        value = self._get(name, (list, str), "a list of strings", [])
        items = [value] if isinstance(value, str) else value
        if not all(isinstance(v, str) for v in items):
            raise self.error(name, f"expected a list of strings, got {value!r}")
        return tuple(items)

    def table(self, name: str) -> Table | None:
        """A nested table, or None when absent."""
        value = self._get(name, dict, "a table", None)
        if value is None:
            return None
        return Table(value, path=self.path, prefix=f"{self.key(name)}.")

    def tables(self, name: str) -> list[Table]:
        """An array of tables (``[[name]]``)."""
        value = self._get(name, list, "an array of tables ([[...]])", [])
        if not all(isinstance(v, dict) for v in value):
            raise self.error(name, "expected an array of tables ([[...]])")
        return [
            Table(v, path=self.path, prefix=f"{self.key(name)}[{i}].") for i, v in enumerate(value)
        ]

    def convert(self, name: str, func: Callable[[Any], T], raw: Any) -> T:
        """Apply ``func`` to ``raw``, turning ValueError into a ConfigError on ``name``."""
        try:
            return func(raw)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def duration(self, name: str, default: str | None = None) -> timedelta | None:
        """A duration string like ``"30d"``."""
        raw = self.string(name, default)
        return None if raw is None else self.convert(name, parse_duration, raw)

    def url(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        """An absolute http(s) URL."""
        raw = self.string(name, default, required=required)
        if raw is not None:
            parts = urlsplit(raw)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise self.error(name, f"expected an absolute http(s) URL, got {raw!r}")
        return raw

    def timezone(self, name: str, default: str = "UTC") -> ZoneInfo:
        """An IANA timezone name like ``Asia/Shanghai``."""
        raw = self.string(name, default)
        try:
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error(
                name, f"expected an IANA timezone such as 'Asia/Shanghai', got {raw!r}"
            ) from None

    def encoding(self, name: str) -> str | None:
        """A text encoding Python knows (``gb18030``, ``utf-8``...), or None."""
        raw = self.string(name)
        if raw:
            try:
                codecs.lookup(raw)
            except LookupError:
                raise self.error(name, f"unknown encoding {raw!r}") from None
        return raw

    def patterns(self, name: str) -> tuple[str, ...]:
        """Filter patterns: keywords or ``re:<regex>``; a bad regex is an error here."""
        from feedloom.merge import Filters

        raw = self.str_list(name)
        self.convert(name, lambda p: Filters(include=p).compile(), raw)
        return raw

    def path_value(self, name: str, *, required: bool = False) -> Path | None:
        """A filesystem path, resolved against the config file's folder."""
        raw = self.string(name, required=required)
        return None if raw is None else (self.path.parent / raw).resolve()

    def done(self) -> None:
        """Raise on the first key that no getter read."""
        for name in self.data:
            if name not in self._read:
                raise self.error(
                    name, "unknown key (check its spelling against the README's config reference)"
                )

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One ``[[sources]]`` table: its ``type`` picks the adapter; ``options`` is adapter-specific.

    The adapter validates ``options`` (see :mod:`feedloom.sources`); the raw table stays
    here so that a config error can still name the file and key.
    """

    type: str
    index: int
    table: Table = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long entries of ``feed`` sources stay after they drop off their origin feed."""

    max_entries: int = 500
    max_age: timedelta | None = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """A validated ``feeds/<name>.toml``."""

    path: Path
    name: str
    title: str | None
    description: str | None
    site_url: str
    base_url: str | None
    feed_id: str
    language: str
    ttl: int
    author_name: str | None
    author_email: str | None
    hub: str | None
    formats: tuple[str, ...]
    limit: int | None
    max_age: timedelta | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    dedupe_titles: bool
    schedule: str | None
    every: str | None
    timezone: ZoneInfo
    fail_on_source_error: bool
    retention: Retention
    sources: tuple[SourceConfig, ...]
    fetch: Mapping[str, float] = field(default_factory=dict)

    def self_urls(self) -> dict[str, str]:
        """Public URL of each output file, from ``base_url`` (else relative to the site)."""
        from feedloom.writers import FORMATS

        base = self.base_url or self.site_url
        base = base if base.endswith("/") else base + "/"
        return {fmt: f"{base}{self.name}{FORMATS[fmt]}" for fmt in self.formats}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the feed file ({exc.strerror})", path=str(path)) from exc
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError("expected a UTF-8 TOML file", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None


def _name_problem(name: str) -> str:
    return (
        "expected a plain file name (letters, digits, '-', '_'; "
        f"no '/', '..' or leading dot), got {name!r}"
    )


def check_feed_name(name: str, *, key: str = "name") -> str:
    """``name`` if it can name a feed and its output files, which never leave their folder.

    Raises:
        ConfigError: naming ``key`` and what is allowed.
    """
    if not _NAME_RE.match(name):
        raise ConfigError(_name_problem(name), key=key)
    return name


def load_feed_config(path: Path) -> FeedConfig:
    """Read and validate one feed file.

    Raises:
        ConfigError: naming the file, the key and what was expected.
    """
    from feedloom.sources import known_types

    t = Table(_read_toml(path), path=path)
    name = t.string("name", path.stem)
    if not _NAME_RE.match(name):
        raise t.error("name", _name_problem(name))
    site_url = t.url("site_url", required=True)
    formats = t.str_list("formats") or ALL_FORMATS
    for fmt in formats:
        if fmt not in ALL_FORMATS:
            raise t.error("formats", f"expected some of {', '.join(ALL_FORMATS)}, got {fmt!r}")
    author = t.table("author")
    author_name = author.string("name") if author else None
    author_email = author.string("email") if author else None
    if author:
        author.done()
    schedule, every = t.string("schedule"), t.string("every")
    if schedule and every:
        raise t.error("every", "set either 'schedule' (crontab) or 'every' (interval), not both")
    if every:
        t.convert("every", parse_duration, every)
    if schedule and len(schedule.split()) != 5:
        raise t.error(
            "schedule",
            f"expected a 5-field crontab expression like '*/15 * * * *', got {schedule!r}",
        )
    retention_t = t.table("retention")
    retention = Retention()
    if retention_t:
        retention = Retention(
            max_entries=retention_t.integer("max_entries", retention.max_entries, minimum=1),
            max_age=retention_t.duration("max_age", "90d"),
        )
        retention_t.done()
    include, exclude = t.patterns("include"), t.patterns("exclude")
    fetch = _fetch_limits(t.table("fetch"))
    sources: list[SourceConfig] = []
    types = known_types()
    for index, st in enumerate(t.tables("sources")):
        kind = st.string("type", required=True)
        if kind not in types:
            raise st.error("type", f"expected one of {', '.join(sorted(types))}, got {kind!r}")
        sources.append(SourceConfig(type=kind, index=index, table=st))
    if not sources:
        raise t.error("sources", "expected at least one [[sources]] table")
    config = FeedConfig(
        path=path,
        name=name,
        title=t.string("title"),
        description=t.string("description"),
        site_url=site_url,
        base_url=t.url("base_url"),
        feed_id=t.string("id") or site_url,
        language=t.string("language", "zh-CN"),
        ttl=t.integer("ttl", 60, minimum=1),
        author_name=author_name,
        author_email=author_email,
        hub=t.url("hub"),
        formats=tuple(dict.fromkeys(formats)),
        limit=t.integer("limit", None, minimum=1),
        max_age=t.duration("max_age"),
        include=include,
        exclude=exclude,
        dedupe_titles=t.boolean("dedupe_titles", False),
        schedule=schedule,
        every=every,
        timezone=t.timezone("timezone"),
        fail_on_source_error=t.boolean("fail_on_source_error", False),
        retention=retention,
        sources=tuple(sources),
        fetch=fetch,
    )
    t.done()
    return config


# [fetch] keys: the fields of feedloom.fetch.Limits (kept as plain numbers here so
# that loading a config never imports the HTTP stack).
_FETCH_KEYS = {
    "connect_timeout": float,
    "read_timeout": float,
    "deadline": float,
    "max_bytes": int,
    "max_redirects": int,
    "per_host": int,
    "workers": int,
}


def _fetch_limits(t: Table | None) -> dict[str, float]:
    if t is None:
        return {}
    limits: dict[str, float] = {}
    for name, kind in _FETCH_KEYS.items():
        if name not in t.data:
            continue
        if kind is int:
            limits[name] = t.integer(name, minimum=0 if name == "max_redirects" else 1)
        else:
            value = t._get(name, (int, float), "a number of seconds", None)
            if value <= 0:
                raise t.error(name, f"expected a positive number of seconds, got {value!r}")
            limits[name] = float(value)
    t.done()
    return limits


def load_feed_configs(feeds_dir: Path) -> list[FeedConfig]:
    """Load every ``*.toml`` in ``feeds_dir``, sorted by name; names must be unique.

    Raises:
        ConfigError: for a missing folder, an empty folder or any invalid file.
    """
    if not feeds_dir.is_dir():
        raise ConfigError("expected a folder of feed files (*.toml)", path=str(feeds_dir))
    # Dotfiles are editors' lock and swap files (".#news.toml"), never feeds.
    paths = sorted(p for p in feeds_dir.glob("*.toml") if not p.name.startswith("."))
    if not paths:
        raise ConfigError("no feed files (*.toml) found", path=str(feeds_dir))
    configs = [load_feed_config(p) for p in paths]
    seen: dict[str, Path] = {}
    for c in configs:
        if c.name in seen:
            raise ConfigError(
                f"feed name {c.name!r} is also used by {seen[c.name]}", path=str(c.path), key="name"
            )
        seen[c.name] = c.path
    return configs
