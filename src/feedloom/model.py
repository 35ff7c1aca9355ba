"""The typed data model: what every source produces and every writer consumes.

Plain frozen dataclasses with no I/O. Datetimes are always timezone-aware UTC;
:func:`utc` converts and rejects naive values, so a naive datetime can never
leak into a writer and shift an entry by the machine's offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Author",
    "Enclosure",
    "Entry",
    "Feed",
    "FeedMeta",
    "SourceRef",
    "utc",
]


def utc(value: datetime | None) -> datetime | None:
    """Return ``value`` converted to UTC, or ``None``.

    Raises:
        ValueError: if ``value`` is naive; the caller must decide its timezone.
    """
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value!r}: a timezone is required")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Author:
    """A person or organisation credited for a feed or an entry."""

    name: str | None = None
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A media file attached to an entry (podcast audio, image...)."""

    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where an entry came from: the origin feed, for attribution in merged feeds.

    Attributes:
        id: the origin feed's id (Atom id), or its URL.
        title: the origin feed's title.
        url: the URL (or path) the origin feed was read from.
        link: the origin site's home page.
    """

    id: str | None = None
    title: str | None = None
    url: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed.

    Attributes:
        id: stable unique identifier (an IRI); never a time or a position.
        title: plain text.
        link: absolute URL of the entry's page.
        summary: plain text, short.
        content: sanitised HTML, the full body, if known.
        published: first publication time (UTC); filled from first-seen when absent.
        updated: last modification time (UTC).
        authors: credited authors.
        categories: plain-text category terms.
        rank: position on the source page (1 = top), for ranked sources.
        source: the feed this entry came from (for merged feeds).
        also_from: other feeds that carried the same entry (deduplicated away).
        enclosures: attached media.
    """

    id: str
    title: str
    link: str | None = None
    summary: str | None = None
    content: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[Author, ...] = ()
    categories: tuple[str, ...] = ()
    rank: int | None = None
    source: SourceRef | None = None
    also_from: tuple[SourceRef, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an entry needs a non-empty id")
        for name in ("published", "updated"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"entry {self.id}: {name} is a naive datetime")

    @property
    def date(self) -> datetime | None:
        """The date readers sort by: published, else updated."""
        return self.published or self.updated

    def evolve(self, **changes: Any) -> Entry:
        """Return a copy with ``changes`` applied (the dataclass is frozen)."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """Feed-level metadata, shared by every output format.

    Attributes:
        id: stable feed identifier (an IRI), e.g. the site URL or a ``urn:uuid:``.
        title: feed title.
        link: the site's home page.
        description: one-line description (RSS requires one).
        language: BCP 47 tag, e.g. ``zh-CN``.
        rights: copyright / rights statement.
        authors: feed authors.
        contact: e-mail address of whoever answers for the content.
        ttl: minutes readers may cache the feed.
        updated: newest entry change; derived from entries, never "now".
        self_urls: public URL of each output by format (``rss``, ``atom``, ``json``, ``html``).
        hub: WebSub hub URL, if any.
        icon: small square image URL.
        logo: larger image URL.
        generator: the generator name written to the feed (no version, for stable bytes).
        name: short name of the feed (the TOML file stem), used for file names.
        timezone: IANA zone in which the HTML page shows times (feeds carry UTC).
    """

    id: str
    title: str
    link: str
    description: str = ""
    language: str = "zh-CN"
    rights: str | None = None
    authors: tuple[Author, ...] = ()
    contact: str | None = None
    ttl: int | None = None
    updated: datetime | None = None
    self_urls: Mapping[str, str] = field(default_factory=dict)
    hub: str | None = None
    icon: str | None = None
    logo: str | None = None
    generator: str = "feedloom"
    name: str = "feed"
    timezone: str = "UTC"

    def evolve(self, **changes: Any) -> FeedMeta:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Feed:
    """Feed metadata plus its entries, in output order.

    This is what :func:`feedloom.merge_feeds` returns; ``to_rss``/``to_atom``/``to_json``
    render it to bytes with the same writers ``feedloom build`` uses.
    """

    meta: FeedMeta
    entries: Sequence[Entry] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))

    def __iter__(self) -> Iterable[Entry]:  # type: ignore[override]
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def render(self, fmt: str) -> bytes:
        """Render to ``fmt`` (``rss``, ``atom``, ``json`` or ``html``)."""
        from feedloom.writers import render

        return render(self, fmt)

    def to_rss(self) -> bytes:
        """RSS 2.0 bytes (UTF-8)."""
        return self.render("rss")

    def to_atom(self) -> bytes:
        """Atom 1.0 bytes (UTF-8)."""
        return self.render("atom")

    def to_json(self) -> bytes:
        """JSON Feed 1.1 bytes (UTF-8)."""
        return self.render("json")
