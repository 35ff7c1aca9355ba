"""The library API: parse one feed, or merge several, in one call.

    >>> from feedloom import merge_feeds
    >>> feed = merge_feeds(["https://example.org/a.xml", "b.xml"], limit=50)
    >>> feed.to_rss()  # bytes; also to_atom(), to_json(), feed.entries

Nothing here touches a state store: undated entries are dated by the call's clock
(``now``), and there is no conditional-GET memory between calls. ``feedloom build``
is the stateful path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from feedloom.errors import FetchError, ParseError, SourceError
from feedloom.model import Entry, Feed, FeedMeta

__all__ = ["MergedFeed", "merge_feeds", "parse_feed"]

FeedSourceArg = str | os.PathLike[str] | bytes | Feed


@dataclass(frozen=True, slots=True)
class MergedFeed(Feed):
    """A merged feed plus the sources that could not be read.

    Attributes:
        errors: one :class:`~feedloom.SourceError` per failed source (the merge went on without it).
    """

    errors: tuple[SourceError, ...] = ()


def _is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def _tz(timezone: str | tzinfo) -> tzinfo:
    return ZoneInfo(timezone) if isinstance(timezone, str) else timezone


def parse_feed(
    source: str | os.PathLike[str] | bytes,
    *,
    url: str | None = None,
    encoding: str | None = None,
    timezone: str | tzinfo = "UTC",
    now: datetime | None = None,
) -> Feed:
    """Parse one RSS, Atom or JSON feed from bytes, a file path or an http(s) URL.

    Args:
        source: the feed's bytes, a path, or a URL (fetched with feedloom's polite fetcher).
        url: the feed's address when ``source`` is bytes (to resolve relative links).
        encoding: force this encoding instead of the declared one.
        timezone: the zone of dates written without an offset.
        now: the clock for future-date clamping (default: the real time).

    Raises:
        FetchError: the URL could not be fetched.
        ParseError: the data is not a feed.
    """
    from feedloom.parse import parse_bytes

    tz = _tz(timezone)
    if isinstance(source, bytes):
        parsed = parse_bytes(
            source, url=url or "about:blank", encoding=encoding, timezone=tz, now=now
        )
    elif isinstance(source, str) and _is_url(source):
        from feedloom.fetch import Fetcher

        with Fetcher() as fetcher:
            result = fetcher.fetch(source)
        assert result.body is not None
        parsed = parse_bytes(
            result.body,
            url=result.final_url,
            headers=dict(result.headers),
            encoding=encoding,
            timezone=tz,
            now=now,
        )
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ParseError(f"cannot read the feed file ({exc.strerror})", path=str(path)) from exc
        parsed = parse_bytes(
            data, url=url or path.resolve().as_uri(), encoding=encoding, timezone=tz, now=now
        )
    return Feed(parsed.meta, parsed.entries)


def merge_feeds(
    sources: Iterable[FeedSourceArg],
    *,
    limit: int | None = None,
    title: str = "Merged feed",
    link: str | None = None,
    feed_id: str | None = None,
    description: str | None = None,
    language: str | None = None,
    per_source_limit: int | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_age: timedelta | None = None,
    dedupe_titles: bool = False,
    timezone: str | tzinfo = "UTC",
    now: datetime | None = None,
) -> MergedFeed:
    """Merge feeds into one: deduplicated, newest first, filtered, each entry attributed.

    Args:
        sources: URLs, file paths, raw bytes, or already parsed :class:`Feed` objects.
        limit: keep at most this many entries overall.
        title, link, feed_id, description, language: metadata of the merged feed
            (``language`` defaults to the first source's).
        per_source_limit: keep at most this many (newest) entries of each source.
        include, exclude: keywords, or ``re:<regex>``, matched case-insensitively
            against title, summary and categories.
        max_age: drop entries older than this.
        dedupe_titles: also merge entries whose titles are near-identical.
        timezone: the zone of dates written without an offset.
        now: the clock (default: the real time); undated entries are dated with it.

    Returns:
        A :class:`MergedFeed`; ``errors`` lists sources that failed (they are skipped).

    Raises:
        ValueError: for an invalid include/exclude regular expression.
    """
    from feedloom.merge import Filters, MergeOptions, merge
    from feedloom.parse import parse_bytes

    clock = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    tz = _tz(timezone)
    items = list(sources)
    feeds: list[Feed | None] = [None] * len(items)
    errors: list[SourceError] = []
    urls = [(i, s) for i, s in enumerate(items) if isinstance(s, str) and _is_url(s)]
    if urls:
        from feedloom.fetch import Fetcher

        with Fetcher() as fetcher:
            outcomes = fetcher.fetch_many([(u, None) for _, u in urls], now=clock, force=True)
        for (i, u), outcome in zip(urls, outcomes, strict=True):
            if outcome.kind != "fetched" or outcome.result is None or outcome.result.body is None:
                errors.append(outcome.error or FetchError(outcome.reason or "not fetched", url=u))
                continue
            try:
                parsed = parse_bytes(
                    outcome.result.body,
                    url=outcome.result.final_url,
                    headers=dict(outcome.result.headers),
                    timezone=tz,
                    now=clock,
                )
            except SourceError as exc:
                errors.append(exc)
                continue
            feeds[i] = Feed(parsed.meta, parsed.entries)
    for i, s in enumerate(items):
        if feeds[i] is not None or (isinstance(s, str) and _is_url(s)):
            continue
        if isinstance(s, Feed):
            feeds[i] = s
            continue
        try:
            feeds[i] = parse_feed(s, timezone=tz, now=clock)
        except SourceError as exc:
            errors.append(exc)
    good = [f for f in feeds if f is not None]
    groups: list[list[Entry]] = [
        [e if e.date else e.evolve(published=clock) for e in f.entries] for f in good
    ]
    options = MergeOptions(
        limit=limit,
        max_age=max_age,
        filters=Filters(include=tuple(include), exclude=tuple(exclude)),
        dedupe_titles=dedupe_titles,
    )
    entries = merge(
        groups, now=clock, options=options, per_source_limits=[per_source_limit] * len(groups)
    )
    dates = [d for e in entries for d in (e.updated, e.published) if d is not None]
    first = good[0].meta if good else None
    home = link or (first.link if first else None) or "about:blank"
    meta = FeedMeta(
        id=feed_id or home,
        title=title,
        link=home,
        description=description or title,
        language=language or (first.language if first and first.language else "en"),
        updated=max(dates) if dates else clock,
        name="merged",
    )
    return MergedFeed(meta, entries, errors=tuple(errors))
