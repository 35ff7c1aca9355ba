"""Source adapters: the pluggable first stage of a build.

A feed's ``[[sources]]`` table picks an adapter with ``type = "..."``. Adding a new
kind of input (an HTML page, a JSON API) means writing one :class:`Adapter`
subclass and naming it in :data:`REGISTRY`; the build never changes.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from feedloom.errors import SourceError
from feedloom.model import Entry, SourceRef

if TYPE_CHECKING:
    from feedloom.config import FeedConfig, Table
    from feedloom.fetch import Fetcher
    from feedloom.store import Store

__all__ = ["REGISTRY", "Adapter", "CollectContext", "SourceResult", "adapter_class", "known_types"]

# type name -> "module:Class", imported lazily so `feedloom check` never pays for requests.
REGISTRY: dict[str, str] = {
    "newspage": "feedloom.sources.newspage:NewsPageSource",
    "feed": "feedloom.sources.remote:FeedSource",
}


def known_types() -> tuple[str, ...]:
    """The ``type`` names a ``[[sources]]`` table may use."""
    return tuple(REGISTRY)


def adapter_class(kind: str) -> type[Adapter]:
    """The adapter class registered under ``kind``."""
    module, _, name = REGISTRY[kind].partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Adapter)
    return cls


@dataclass(frozen=True, slots=True)
class CollectContext:
    """What an adapter may use while collecting.

    Attributes:
        feed: the feed being built.
        now: the build's clock (UTC); adapters never call ``datetime.now()``.
        store: the state store (read-only use; the build writes).
        fetcher: returns the shared HTTP fetcher (created on first use).
        force: ignore backoff and freshness hints.
        respect_freshness: skip external feeds whose own hints (Cache-Control, Expires,
            ``<ttl>``, ``sy:updatePeriod``) say they are still fresh (``feedloom run``).
    """

    feed: FeedConfig
    now: datetime
    store: Store
    fetcher: Callable[[], Fetcher]
    force: bool = False
    respect_freshness: bool = False


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source produced in one build.

    Attributes:
        key: stable identifier of the source in the state store.
        kind: the adapter type name.
        location: the path or URL, for messages.
        entries: the entries read now (empty when ``error`` is set or nothing changed).
        unchanged: True when the origin said nothing changed (HTTP 304): use the history.
        error: why the source failed, if it did; the build goes on with the others.
        meta: feed-level facts the source offers (``title``, ``rights``, ``contact``, ...).
        warnings: problems that did not stop the source.
        http_status: last HTTP status, for ``feedloom status``.
        next_fetch: earliest time the origin wants to be asked again.
        http_state: adapter-private caching state to persist, keyed by URL.
    """

    key: str
    kind: str
    location: str
    entries: tuple[Entry, ...] = ()
    unchanged: bool = False
    error: SourceError | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    ref: SourceRef | None = None
    http_status: int | None = None
    next_fetch: datetime | None = None
    http_state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class Adapter(ABC):
    """Base class of every source adapter.

    Class attributes:
        type: the name used in ``type = "..."``.
        keeps_history: True when entries that drop off the origin stay (until
            retention) — right for feeds; a page snapshot replaces its entries.
    """

    type: ClassVar[str]
    keeps_history: ClassVar[bool] = False

    limit: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    @abstractmethod
    def from_config(cls, table: Table, feed: FeedConfig) -> Adapter:
        """Validate the adapter's keys of ``table`` (call ``table.done()``) and build it."""

    @property
    @abstractmethod
    def key(self) -> str:
        """Stable identifier of this source in the state store."""

    @property
    def location(self) -> str:
        """The path or URL this source reads, for people (messages, ``status``)."""
        return self.key

    @abstractmethod
    def collect(self, ctx: CollectContext) -> SourceResult:
        """Read the source. Must not raise SourceError: return it in the result."""

    @classmethod
    def collect_all(cls, adapters: Sequence[Adapter], ctx: CollectContext) -> list[SourceResult]:
        """Collect several sources of this type; adapters override to parallelise."""
        return [a.collect(ctx) for a in adapters]
