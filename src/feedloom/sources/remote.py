"""The ``feed`` source: an external RSS/Atom/JSON feed, from a URL or a local file.

Fetching runs in parallel for all ``feed`` sources of a build (see
:meth:`FeedSource.collect_all`); parsing happens in this thread as results arrive.
A failing source becomes an error in its :class:`SourceResult`, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from feedloom.errors import ParseError, SourceError
from feedloom.model import Entry
from feedloom.sources import Adapter, CollectContext, SourceResult

if TYPE_CHECKING:
    from feedloom.config import FeedConfig, Table
    from feedloom.fetch import HttpState, Outcome
    from feedloom.parse import ParsedFeed

__all__ = ["FeedSource"]


@dataclass(eq=False)
class FeedSource(Adapter):
    """An external feed merged into a published feed."""

    type: ClassVar[str] = "feed"
    keeps_history: ClassVar[bool] = True

    url: str | None
    path: Path | None
    name: str | None
    encoding: str | None
    timezone: ZoneInfo
    limit: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, table: Table, feed: FeedConfig) -> FeedSource:
        """Read ``url`` (http(s) URL or a path relative to the feed file), ``name``,
        ``encoding``, ``timezone``, ``limit``, ``include`` and ``exclude``."""
        raw = table.string("url", required=True)
        scheme = urlsplit(raw).scheme.lower()
        url: str | None = None
        path: Path | None = None
        if scheme in ("http", "https"):
            if not urlsplit(raw).netloc:
                raise table.error(
                    "url", f"expected an absolute http(s) URL or a file path, got {raw!r}"
                )
            url = raw
        elif scheme in ("", "file") or len(scheme) == 1:  # a Windows drive letter is not a scheme
            path = (table.path.parent / raw.removeprefix("file://")).resolve()
        else:
            raise table.error(
                "url", f"expected an http(s) URL or a file path, got scheme {scheme!r}"
            )
        encoding = table.encoding("encoding")
        include, exclude = table.patterns("include"), table.patterns("exclude")
        return cls(
            url=url,
            path=path,
            name=table.string("name"),
            encoding=encoding,
            timezone=table.timezone("timezone", feed.timezone.key),
            limit=table.integer("limit", None, minimum=1),
            include=include,
            exclude=exclude,
        )

    @property
    def location(self) -> str:
        """The URL or file path, for messages."""
        return self.url or str(self.path)

    @property
    def key(self) -> str:
        return f"feed:{self.location}"

    def _meta(self) -> dict[str, Any]:
        return {"limit": self.limit, "include": self.include, "exclude": self.exclude}

    def _parsed(
        self,
        data: bytes,
        ctx: CollectContext,
        *,
        url: str,
        headers: dict[str, str] | None,
        state: HttpState | None = None,
    ) -> SourceResult:
        from feedloom.parse import parse_bytes

        try:
            parsed: ParsedFeed = parse_bytes(
                data,
                url=url,
                headers=headers,
                encoding=self.encoding,
                timezone=self.timezone,
                now=ctx.now,
                source_name=self.name,
            )
        except SourceError as exc:
            return self._result(error=exc, state=state)
        if state is not None:
            state = _with_feed_hints(state, parsed, ctx.now)
        entries = parsed.entries
        if self.path is not None:
            # A local file's URI would leak a server path into <source url>: attribute
            # the entries to the feed's own public address instead.
            public = parsed.meta.self_urls.get("rss") or next(
                iter(parsed.meta.self_urls.values()), None
            )
            entries = tuple(_public_source(e, public) for e in entries)
        return self._result(
            entries=entries,
            warnings=tuple(f"{self.location}: {w}" for w in parsed.warnings),
            state=state,
        )

    def _result(self, *, state: HttpState | None = None, **fields: Any) -> SourceResult:
        if state is not None:
            fields.update(
                http_state={self.url: state.to_dict()},
                http_status=state.last_status,
                next_fetch=state.next_fetch,
            )
        return SourceResult(
            key=self.key, kind=self.type, location=self.location, meta=self._meta(), **fields
        )

    def collect(self, ctx: CollectContext) -> SourceResult:
        return self.collect_all([self], ctx)[0]

    @classmethod
    def collect_all(cls, adapters: Sequence[Adapter], ctx: CollectContext) -> list[SourceResult]:
        """Read local files directly; fetch every URL in parallel, then parse each body."""
        sources = [a for a in adapters if isinstance(a, FeedSource)]
        results: dict[int, SourceResult] = {}
        remote = [(i, s) for i, s in enumerate(sources) if s.url is not None]
        for i, s in enumerate(sources):
            if s.path is not None:
                results[i] = s._collect_file(ctx)
        if remote:
            from feedloom.fetch import HttpState

            jobs = []
            for _, s in remote:
                assert s.url is not None
                stored = ctx.store.http_state(s.url)
                try:
                    state = HttpState.from_dict(stored) if stored else None
                except ValueError:
                    # A damaged row costs one unconditional fetch, never the source.
                    state = None
                jobs.append((s.url, state))
            # Parse each body as soon as it arrives, while slower servers still answer.
            for j, outcome in ctx.fetcher().iter_many(
                jobs, now=ctx.now, force=ctx.force, respect_freshness=ctx.respect_freshness
            ):
                i, source = remote[j]
                results[i] = source._from_outcome(outcome, ctx)
        return [results[i] for i in range(len(sources))]

    def _collect_file(self, ctx: CollectContext) -> SourceResult:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            err = SourceError(f"cannot read the feed file ({exc.strerror})", path=str(self.path))
            return self._result(error=err)
        return self._parsed(data, ctx, url=self.path.as_uri(), headers=None)

    def _from_outcome(self, outcome: Outcome, ctx: CollectContext) -> SourceResult:
        state = outcome.state
        if outcome.kind == "fetched":
            result = outcome.result
            assert result is not None
            if not result.body:
                err = ParseError("the server sent an empty body", url=self.url)
                return self._result(error=err, state=state)
            return self._parsed(
                result.body, ctx, url=result.final_url, headers=dict(result.headers), state=state
            )
        if outcome.kind == "failed":
            return self._result(error=outcome.error, state=state)
        warnings = (f"{self.url}: skipped: {outcome.reason}",) if outcome.kind == "skipped" else ()
        return self._result(unchanged=True, warnings=warnings, state=state)


def _public_source(entry: Entry, public: str | None) -> Entry:
    ref = entry.source
    if ref is None:
        return entry
    ident = ref.id
    if ident is None or ident.startswith("file:"):
        ident = public or ref.link
    return entry.evolve(source=replace(ref, url=public, id=ident))


# Never trust a feed's own hint for longer than a day: a typo'd <ttl> must not
# silence a source for weeks.
_MAX_HINT = timedelta(hours=24)


def _with_feed_hints(state: HttpState, parsed: ParsedFeed, now: datetime) -> HttpState:
    """Extend the state's freshness by the feed's ``<ttl>`` / ``sy:updatePeriod``."""
    hints = []
    if parsed.ttl:
        hints.append(timedelta(minutes=parsed.ttl))
    if parsed.update_period:
        hints.append(timedelta(seconds=parsed.update_period))
    if not hints:
        return state
    until = now + min(max(hints), _MAX_HINT)
    if state.fresh_until is not None and state.fresh_until >= until:
        return state
    return replace(state, fresh_until=until)
