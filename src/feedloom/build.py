"""The imperative shell of a build: config → sources → entries → merge → writers → output.

Everything with side effects happens here, in this order, so that a failure at any
step leaves the previous outputs and state as they were:

1. collect every source (a failing source becomes an error in its result);
2. assemble entries, first-seen dates and metadata, and render every format in memory;
3. commit the state in one transaction;
4. publish each file atomically, only if its bytes changed.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from feedloom.config import FeedConfig
from feedloom.errors import SourceError
from feedloom.model import Author, Entry, Feed, FeedMeta
from feedloom.output import publish
from feedloom.sources import Adapter, CollectContext, SourceResult, adapter_class
from feedloom.store import SourceStatus, Store

if TYPE_CHECKING:
    from feedloom.fetch import Fetcher

__all__ = ["BuildReport", "FeedReport", "build_feeds", "ping_hub", "prepare"]

log = logging.getLogger("feedloom.build")

#: How long an entry's first-seen time outlives the entry: once no source has had it
#: for this long after it was first seen, it is forgotten (and counts as new if it
#: comes back). A page that changes hourly would otherwise grow the state by tens of
#: thousands of rows a year, forever; a headline returning after a year is news again.
FORGET_SEEN_AFTER = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class FeedReport:
    """The outcome of building one feed."""

    name: str
    entries: int = 0
    new: int = 0
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed_sources: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    sources: int = 0
    duration: float = 0.0
    error: str | None = None
    exit_code: int = 0
    hub: str | None = None
    hub_topics: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when any output file was (re)written."""
        return bool(self.written)


@dataclass(frozen=True, slots=True)
class BuildReport:
    """The outcome of a whole build."""

    feeds: tuple[FeedReport, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """The first non-zero feed exit code, else 0."""
        return next((f.exit_code for f in self.feeds if f.exit_code), 0)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A feed config with its adapters built (all config errors surface before any build)."""

    config: FeedConfig
    adapters: tuple[Adapter, ...]


def prepare(configs: Sequence[FeedConfig]) -> list[Prepared]:
    """Validate every source table into an adapter.

    Raises:
        ConfigError: for the first invalid source table.
    """
    prepared = []
    for config in configs:
        adapters = []
        for sc in config.sources:
            adapter = adapter_class(sc.type).from_config(sc.table, config)
            sc.table.done()
            adapters.append(adapter)
        prepared.append(Prepared(config, tuple(adapters)))
    return prepared


class _LazyFetcher:
    """Creates HTTP fetchers on first use (page-only builds never import requests),
    one per distinct set of ``[fetch]`` limits."""

    def __init__(self) -> None:
        self._fetchers: dict[tuple[tuple[str, float], ...], Fetcher] = {}

    def for_feed(self, config: FeedConfig) -> Callable[[], Fetcher]:
        """The fetcher factory for ``config``'s limits."""
        key = tuple(sorted(config.fetch.items()))

        def get() -> Fetcher:
            if key not in self._fetchers:
                from feedloom.fetch import Fetcher, Limits

                self._fetchers[key] = Fetcher(Limits(**dict(key)))  # type: ignore[arg-type]
            return self._fetchers[key]

        return get

    def close(self) -> None:
        for fetcher in self._fetchers.values():
            fetcher.close()


def build_feeds(
    configs: Sequence[FeedConfig],
    *,
    output_dir: Path,
    store: Store,
    now: datetime | None = None,
    force: bool = False,
    only: Sequence[str] | None = None,
    respect_freshness: bool = False,
) -> BuildReport:
    """Build every feed in ``configs`` (or those named in ``only``) into ``output_dir``.

    Raises:
        ConfigError: before anything is read or written, for any invalid config.
        WriteError, StoreError: when output or state cannot be written.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    prepared = prepare(configs)
    if only:
        prepared = [p for p in prepared if p.config.name in only]
    fetcher = _LazyFetcher()
    reports = []
    try:
        for p in prepared:
            reports.append(
                _build_one(
                    p,
                    output_dir=output_dir,
                    store=store,
                    now=now,
                    force=force,
                    respect_freshness=respect_freshness,
                    fetcher=fetcher,
                )
            )
    finally:
        fetcher.close()
    _write_index(configs, output_dir)
    return BuildReport(tuple(reports))


def _build_one(
    p: Prepared,
    *,
    output_dir: Path,
    store: Store,
    now: datetime,
    force: bool,
    respect_freshness: bool,
    fetcher: _LazyFetcher,
) -> FeedReport:
    started = time.monotonic()
    config = p.config
    ctx = CollectContext(
        feed=config,
        now=now,
        store=store,
        fetcher=fetcher.for_feed(config),
        force=force,
        respect_freshness=respect_freshness,
    )
    results = _collect(p.adapters, ctx)
    failed = tuple((r.location, str(r.error)) for r in results if r.error is not None)
    warnings = tuple(w for r in results for w in r.warnings)
    if failed and len(failed) == len(results):
        # Nothing succeeded: keep the previous outputs rather than publish stale history as news.
        with store.transaction():
            _record_status(store, config, results, now, {})
        return FeedReport(
            name=config.name,
            failed_sources=failed,
            warnings=warnings,
            sources=len(results),
            duration=time.monotonic() - started,
            error="every source failed; outputs left unchanged",
            exit_code=SourceError.exit_code,
        )
    groups, new_seen, counts = _assemble(config.name, p.adapters, results, store, now)
    feed = _make_feed(config, results, groups, now)
    fresh_ids = {eid for times in new_seen.values() for eid in times}
    rendered = {fmt: feed.render(fmt) for fmt in config.formats}
    with store.transaction():
        for adapter, result, group in zip(p.adapters, results, groups, strict=True):
            if result.error is None and not result.unchanged:
                store.put_history(result.key, group, now)
                if not adapter.keeps_history:
                    _drop_missing_history(store, result.key, group)
                else:
                    cutoff = now - config.retention.max_age if config.retention.max_age else None
                    store.prune_history(
                        result.key, keep=config.retention.max_entries, older_than=cutoff
                    )
            for url, state in result.http_state.items():
                store.put_http_state(url, state)
        for key, times in new_seen.items():
            store.record_seen(key, times)
        for result, group in zip(results, groups, strict=True):
            if result.error is None and not result.unchanged:
                store.forget_seen(
                    _seen_scope(config.name, result.key),
                    keep=(e.id for e in group),
                    older_than=now - FORGET_SEEN_AFTER,
                )
        _record_status(store, config, results, now, counts)
    written: list[str] = []
    unchanged: list[str] = []
    from feedloom.writers import FORMATS

    for fmt, data in rendered.items():
        target = output_dir / f"{config.name}{FORMATS[fmt]}"
        (written if publish(target, data) else unchanged).append(fmt)
    # The hub is pinged by the caller once the state lock is released: a slow hub
    # must never hold up other builds.
    topics = tuple(config.self_urls()[f] for f in written if f != "html") if config.hub else ()
    exit_code = SourceError.exit_code if failed and config.fail_on_source_error else 0
    return FeedReport(
        name=config.name,
        entries=len(feed.entries),
        # "new" counts what readers will see: after dedupe, filters and limits.
        new=sum(1 for e in feed.entries if e.id in fresh_ids),
        written=tuple(written),
        unchanged=tuple(unchanged),
        failed_sources=failed,
        warnings=warnings,
        sources=len(results),
        duration=time.monotonic() - started,
        exit_code=exit_code,
        hub=config.hub,
        hub_topics=topics,
    )


def ping_hub(hub: str, topics: Sequence[str]) -> None:
    """Tell a WebSub hub that ``topics`` changed; a failure is logged, never fatal."""
    import requests

    from feedloom.fetch import USER_AGENT

    for topic in topics:
        try:
            response = requests.post(
                hub,
                data={"hub.mode": "publish", "hub.url": topic},
                headers={"User-Agent": USER_AGENT},
                timeout=(3, 5),
                allow_redirects=False,
            )
            response.close()
            if response.status_code >= 300:
                log.warning("hub %s answered HTTP %d for %s", hub, response.status_code, topic)
        except requests.RequestException as exc:
            log.warning("hub %s not reachable for %s: %s", hub, topic, exc)


def _collect(adapters: Sequence[Adapter], ctx: CollectContext) -> list[SourceResult]:
    """Collect every source, one batch per adapter type, keeping config order."""
    by_type: dict[type[Adapter], list[int]] = defaultdict(list)
    for i, a in enumerate(adapters):
        by_type[type(a)].append(i)
    results: list[SourceResult | None] = [None] * len(adapters)
    for cls, indexes in by_type.items():
        batch = cls.collect_all([adapters[i] for i in indexes], ctx)
        for i, r in zip(indexes, batch, strict=True):
            results[i] = r
    return [r for r in results if r is not None]


def _assemble(
    config_name: str,
    adapters: Sequence[Adapter],
    results: Sequence[SourceResult],
    store: Store,
    now: datetime,
) -> tuple[list[list[Entry]], dict[str, dict[str, datetime]], dict[str, int]]:
    """Per source: the entries to merge (current, history, or both) with dates filled in."""
    groups: list[list[Entry]] = []
    new_seen: dict[str, dict[str, datetime]] = {}
    counts: dict[str, int] = {}
    for adapter, result in zip(adapters, results, strict=True):
        if result.error is not None or result.unchanged:
            entries = store.history(result.key)
        elif adapter.keeps_history:
            current = {e.id: e for e in result.entries}
            entries = list(current.values()) + [
                e for e in store.history(result.key) if e.id not in current
            ]
        else:
            entries = list(result.entries)
        entries = _unique_ids(entries)
        if len(results) > 1 and result.ref is not None:
            # In a merged feed every entry says where it came from.
            entries = [e if e.source else e.evolve(source=result.ref) for e in entries]
        scope = _seen_scope(config_name, result.key)
        known = store.first_seen(scope, [e.id for e in entries])
        fresh = _first_seen_times(
            [e for e in entries if e.id not in known], now, store.latest_seen(scope)
        )
        seen = {**known, **fresh}
        groups.append([e if e.date else e.evolve(published=seen[e.id]) for e in entries])
        if fresh:
            new_seen[scope] = fresh
        counts[result.key] = len(entries)
    return groups, new_seen, counts


def _seen_scope(feed: str, source_key: str) -> str:
    # First-seen is per feed: "new" means new to this feed's readers. History and
    # HTTP state are per source, shared by every feed that reads the source.
    return f"{feed}|{source_key}"


def _unique_ids(entries: Sequence[Entry]) -> list[Entry]:
    """Drop later entries that repeat an id (a feed listing one item twice)."""
    seen: set[str] = set()
    unique = []
    for e in entries:
        if e.id not in seen:
            seen.add(e.id)
            unique.append(e)
    return unique


def _first_seen_times(
    fresh: Sequence[Entry], now: datetime, latest: datetime | None
) -> dict[str, datetime]:
    """Dates for entries seen for the first time in this build.

    They share one clock, ``base``; a ranked entry is dated one second earlier per
    rank, so readers that sort by date show the page's order. ``base`` is moved
    past the newest date already given out in this feed, so a headline that appears
    seconds after the last build still sorts above everything before it.
    """
    if not fresh:
        return {}
    depth = max((e.rank for e in fresh if e.rank is not None), default=1)
    base = now if latest is None else max(now, latest + timedelta(seconds=depth))
    return {
        e.id: base - timedelta(seconds=e.rank - 1) if e.rank is not None else base for e in fresh
    }


def _drop_missing_history(store: Store, key: str, current: Sequence[Entry]) -> None:
    store.prune_history(key, keep=max(len(current), 1), older_than=None)


def _make_feed(
    config: FeedConfig,
    results: Sequence[SourceResult],
    groups: Sequence[Sequence[Entry]],
    now: datetime,
) -> Feed:
    from feedloom.merge import Filters, MergeOptions, merge

    adapters_limits = []
    filtered_groups = []
    for result, group in zip(results, groups, strict=True):
        limit = result.meta.get("limit")
        adapters_limits.append(limit if isinstance(limit, int) else None)
        inc, exc = result.meta.get("include", ()), result.meta.get("exclude", ())
        if inc or exc:
            flt = Filters(include=tuple(inc), exclude=tuple(exc))
            group = [e for e in group if flt.matches(e)]
        filtered_groups.append(group)
    options = MergeOptions(
        limit=config.limit,
        max_age=config.max_age,
        filters=Filters(include=config.include, exclude=config.exclude),
        dedupe_titles=config.dedupe_titles,
    )
    entries = merge(filtered_groups, now=now, options=options, per_source_limits=adapters_limits)
    hints: dict[str, object] = {}
    for r in results:  # the first source that offers a fact wins
        for k, v in r.meta.items():
            hints.setdefault(k, v)
    dates = [d for e in entries for d in (e.updated, e.published) if d is not None]
    authors: tuple[Author, ...] = ()
    if config.author_name or config.author_email:
        authors = (Author(name=config.author_name, email=config.author_email),)
    title = config.title or str(hints.get("title") or config.name)
    meta = FeedMeta(
        id=config.feed_id,
        title=title,
        link=config.site_url,
        description=config.description or str(hints.get("description") or title),
        language=config.language,
        rights=_opt_str(hints.get("rights")),
        authors=authors,
        contact=config.author_email or _opt_str(hints.get("contact")),
        ttl=config.ttl,
        updated=max(dates) if dates else None,
        self_urls=config.self_urls(),
        hub=config.hub,
        name=config.name,
        timezone=config.timezone.key,
    )
    return Feed(meta, entries)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _record_status(
    store: Store,
    config: FeedConfig,
    results: Sequence[SourceResult],
    now: datetime,
    counts: dict[str, int],
) -> None:
    for r in results:
        previous = store.status(config.name, r.key)
        store.put_status(
            SourceStatus(
                source=r.key,
                feed=config.name,
                kind=r.kind,
                location=r.location,
                last_attempt=now,
                last_success=now
                if r.error is None
                else (previous.last_success if previous else None),
                http_status=r.http_status,
                entries=counts.get(r.key, previous.entries if previous else None),
                last_error=None if r.error is None else str(r.error),
                next_fetch=r.next_fetch,
            )
        )


def _write_index(configs: Sequence[FeedConfig], output_dir: Path) -> None:
    """Write ``index.html`` and ``feeds.opml`` listing every feed that has been built."""
    from feedloom.opml import OPML_NAME, render_opml
    from feedloom.writers.html import index_title, render_index

    metas = [
        FeedMeta(
            id=c.feed_id,
            title=c.title or c.name,
            link=c.site_url,
            description=c.description or "",
            language=c.language,
            self_urls=c.self_urls(),
            name=c.name,
            timezone=c.timezone.key,
        )
        for c in configs
    ]
    opml = render_opml(metas, title=index_title(metas))
    # Listed on the index page only when it exists (a feed has an absolute URL).
    publish(output_dir / "index.html", render_index(metas, opml=opml is not None))
    if opml is not None:
        publish(output_dir / OPML_NAME, opml)


def describe(report: FeedReport) -> str:
    """The one stderr line per feed."""
    if report.error:
        return f"{report.name}: FAILED: {report.error}"
    state = "written " + ",".join(report.written) if report.written else "unchanged"
    line = (
        f"{report.name}: {report.entries} entries, {report.new} new, {state}"
        f" ({report.duration:.2f}s)"
    )
    if report.failed_sources:
        line += f", {len(report.failed_sources)} of {report.sources} sources failed"
    return line
