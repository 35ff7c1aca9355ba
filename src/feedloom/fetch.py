"""Polite HTTP fetching of remote feeds, and the pure policy that decides when to fetch.

Two layers:

* :class:`Fetcher` does one GET (following redirects itself) under hard limits:
  connect/read timeouts, a total deadline, a body cap counted *after* decompression,
  a redirect cap, and at most ``per_host`` concurrent requests per host.
* :func:`plan`, :func:`apply_result` and :func:`apply_error` are pure functions over
  :class:`HttpState` (what the store persists per source): conditional GET validators,
  permanent-redirect adoption, 410 Gone, Retry-After and exponential backoff.
  :func:`conditional_fetch` and :meth:`Fetcher.fetch_many` glue the two together.

Policy constants (all overridable only by editing, on purpose: they are politeness):

* consecutive failures wait ``min(60 s * 2**(failures-1), 6 h)``: never disabled forever;
* ``Retry-After`` (429/503) is honoured up to 24 h, and replaces the backoff;
* a 301/308 target becomes the fetched URL after it was seen on 2 consecutive fetches;
* ``force`` ignores backoff, Retry-After and freshness, but not 410 Gone: a 410 is the
  publisher's explicit request to stop, and ``--force`` often runs from scripts. Changing
  the URL in the config (or clearing the source's state) is the way to retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from feedloom import __version__
from feedloom.errors import ConfigError, FetchError
from feedloom.model import utc

__all__ = [
    "USER_AGENT",
    "FetchResult",
    "Fetcher",
    "HttpState",
    "Limits",
    "Outcome",
    "apply_error",
    "apply_result",
    "backoff_delay",
    "conditional_fetch",
    "parse_max_age",
    "parse_retry_after",
    "plan",
]

log = logging.getLogger(__name__)

USER_AGENT = f"feedloom/{__version__} (+https://github.com/feedloom/feedloom)"
ACCEPT = (
    "application/atom+xml,application/rss+xml,application/feed+json,application/rdf+xml;q=0.9,"
    "application/json;q=0.8,application/xml;q=0.8,text/xml;q=0.8,*/*;q=0.1"
)
ACCEPT_ENCODING = "gzip, deflate"
_DECODABLE = frozenset({"gzip", "x-gzip", "deflate", "identity"})
_PERMANENT = frozenset({301, 308})
_CHUNK = 64 * 1024

BACKOFF_BASE = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=6)
MAX_RETRY_AFTER = timedelta(hours=24)
MAX_FRESHNESS = timedelta(hours=24)
REDIRECT_CONFIRMATIONS = 2
GONE_REASON = "gone (HTTP 410) — change the URL in the config to retry"


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits of a :class:`Fetcher`. Times in seconds; ``deadline`` bounds a whole fetch."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2
    workers: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            integral = f.type == "int"  # a string: annotations are postponed
            minimum = 0 if f.name == "max_redirects" else 1 if integral else 0.001
            kind = int if integral else int | float
            if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
                expected = "an integer" if integral else "a number"
                raise ConfigError(f"expected {expected} >= {minimum}, got {value!r}", key=f.name)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful fetch (200, other 2xx, or 304).

    ``headers`` have lower-case keys, no ``content-encoding`` (the body is already
    decoded, so feedparser must not decode it again) and ``content-location`` set to
    ``final_url`` (RFC 9110 no longer makes Content-Location a base URI; the final URL is).
    """

    url: str
    final_url: str
    status: int
    body: bytes | None
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    permanent_redirect: str | None
    max_age: float | None
    elapsed: float


class _Deadline:
    """The total time budget of one fetch. Waiting for a per-host slot does not count."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def extend(self, seconds: float) -> None:
        self._end += seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def expired(self) -> bool:
        # Socket timeouts are set to the remaining time, so they fire at (about) zero.
        return self.remaining() <= 0.05


class _Session(requests.Session):
    """A session that never resolves redirects, since :meth:`Fetcher.fetch` follows them.

    With ``allow_redirects=False`` requests still prepares the next hop for
    ``Response.next``, and raises a bare ValueError (leaking the response) on a
    malformed Location before we could report it.
    """

    def resolve_redirects(
        self, *args: Any, **kwargs: Any
    ) -> Generator[requests.Response, None, None]:
        yield from ()


class Fetcher:
    """Fetches feeds over HTTP(S) with one :class:`requests.Session`. Thread-safe.

    Args:
        limits: timeouts, sizes and concurrency.
        user_agent: sent with every request; identify yourself to publishers.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS, *, user_agent: str = USER_AGENT) -> None:
        self.limits = limits
        self._session = _Session()
        # Retries are policy (backoff across runs), never hidden inside one fetch.
        adapter = HTTPAdapter(pool_maxsize=max(10, limits.workers), max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        )
        self._slots: dict[tuple[str, str, int | None], threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url``; conditional if validators are given (echoed exactly).

        Raises:
            FetchError: non-HTTP(S) URL, connection error, timeout, deadline, body over
                ``max_bytes``, too many redirects or a loop, a redirect to another scheme,
                or an HTTP error status (``status`` and, for 429/503, ``retry_after`` set).
        """
        started = time.monotonic()
        deadline = _Deadline(self.limits.deadline)
        headers = {}
        if etag is not None:
            headers["If-None-Match"] = etag
        if last_modified is not None:
            headers["If-Modified-Since"] = last_modified
        current = _check_http(url, url, "not a valid http(s) URL")
        chain = [current]
        hops: list[int] = []
        while True:
            with self._host_slot(current) as waited:
                deadline.extend(waited)
                response = self._send(url, current, headers, deadline)
                with response:
                    target = self._session.get_redirect_target(response)
                    if target is None:
                        return self._complete(
                            url, current, response, hops, deadline, started, headers
                        )
                    status = response.status_code
            hops.append(status)
            try:
                current = urljoin(current, target)
            except ValueError:  # e.g. "http://[broken"; reported just below
                current = target
            if len(hops) > self.limits.max_redirects:
                raise FetchError(
                    f"too many redirects (more than {self.limits.max_redirects}): "
                    + " → ".join([*chain, current]),
                    url=url,
                    status=status,
                )
            _check_http(
                current, url, f"HTTP {status} redirect to an invalid or non-http(s) URL", status
            )
            if current in chain:
                raise FetchError(
                    "redirect loop: " + " → ".join([*chain, current]), url=url, status=status
                )
            chain.append(current)
            log.debug("%s: HTTP %d redirect to %s", url, status, current)

    def fetch_many(
        self,
        jobs: Sequence[tuple[str, HttpState | None]],
        *,
        now: datetime,
        force: bool = False,
        respect_freshness: bool = False,
    ) -> list[Outcome]:
        """Run :func:`conditional_fetch` for each ``(url, state)`` in parallel.

        Uses ``limits.workers`` threads, at most ``limits.per_host`` requests at a time
        per host, and returns outcomes in input order. One source failing never affects
        the others; only bugs (non-FeedloomError exceptions) propagate.
        """
        outcomes: list[Outcome | None] = [None] * len(jobs)
        for index, outcome in self.iter_many(
            jobs, now=now, force=force, respect_freshness=respect_freshness
        ):
            outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    def iter_many(
        self,
        jobs: Sequence[tuple[str, HttpState | None]],
        *,
        now: datetime,
        force: bool = False,
        respect_freshness: bool = False,
    ) -> Iterator[tuple[int, Outcome]]:
        """Like :meth:`fetch_many`, but yield ``(index, outcome)`` as each fetch completes.

        Callers parse one body while the others are still downloading, so parsing
        overlaps the network instead of starting after the slowest server.
        """
        if not jobs:
            return

        def one(job: tuple[str, HttpState | None]) -> Outcome:
            url, state = job
            return conditional_fetch(
                self, url, state, now=now, force=force, respect_freshness=respect_freshness
            )

        workers = min(self.limits.workers, len(jobs))
        with ThreadPoolExecutor(workers, thread_name_prefix="feedloom-fetch") as pool:
            futures = {pool.submit(one, job): i for i, job in enumerate(jobs)}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            finally:
                for future in futures:
                    future.cancel()

    @contextmanager
    def _host_slot(self, url: str) -> Iterator[float]:
        """Hold one of the host's ``per_host`` slots; yields the seconds spent waiting.

        A slot is held per hop, never two at once, so redirect chains across hosts
        cannot deadlock. Hosts are (scheme, host, port), like connection pools.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        with self._slots_lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self.limits.per_host)
        waiting_since = time.monotonic()
        with slot:
            yield time.monotonic() - waiting_since

    def _send(
        self, url: str, current: str, headers: dict[str, str], deadline: _Deadline
    ) -> requests.Response:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise self._deadline_error(url)
        timeout = (
            min(self.limits.connect_timeout, remaining),
            min(self.limits.read_timeout, remaining),
        )
        where = "" if current == url else f" (at redirect target {current})"
        try:
            return self._session.get(
                current, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except requests.Timeout as exc:
            if deadline.expired():
                raise self._deadline_error(url) from exc
            if isinstance(exc, requests.ConnectTimeout):
                what = f"could not connect within {self.limits.connect_timeout:g} s"
            else:
                what = f"no response within {self.limits.read_timeout:g} s (read timeout)"
            raise FetchError(what + where, url=url) from exc
        except requests.RequestException as exc:
            raise FetchError("request failed" + where, url=url) from exc

    def _complete(
        self,
        url: str,
        final: str,
        response: requests.Response,
        hops: list[int],
        deadline: _Deadline,
        started: float,
        sent: dict[str, str],
    ) -> FetchResult:
        status = response.status_code
        if status == 304 and not sent:
            raise FetchError("HTTP 304 Not Modified to a request without validators", url=url)
        if not (200 <= status < 300 or status == 304):
            raise _status_error(url, response)
        body = None if status == 304 else self._read_body(url, response, deadline)
        headers = {name.lower(): value for name, value in response.headers.items()}
        if headers.pop("content-encoding", None) is not None:
            headers.pop("content-length", None)  # it counted the encoded bytes
        headers["content-location"] = final
        return FetchResult(
            url=url,
            final_url=final,
            status=status,
            body=body,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            permanent_redirect=final if hops and _PERMANENT.issuperset(hops) else None,
            max_age=parse_max_age(headers, now=datetime.now(UTC)),
            elapsed=time.monotonic() - started,
        )

    def _read_body(self, url: str, response: requests.Response, deadline: _Deadline) -> bytes:
        limit = self.limits.max_bytes
        codings = [
            c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")
        ]
        codings = [c for c in codings if c and c != "identity"]
        unknown = sorted(set(codings) - _DECODABLE)
        if unknown:
            raise FetchError(
                f"unsupported Content-Encoding {', '.join(unknown)} (we accept {ACCEPT_ENCODING})",
                url=url,
                status=response.status_code,
            )
        declared = response.headers.get("content-length", "")
        if not codings and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"body of {declared} bytes is over the {limit}-byte limit", url=url)
        raw = response.raw
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise self._deadline_error(url)
                # A trickling server returns a byte per recv and would reset a plain read
                # timeout forever: bound every recv by what is left of the deadline too.
                _set_socket_timeout(raw, min(self.limits.read_timeout, remaining))
                # read1 returns after one recv (unlike read, which waits for a full chunk);
                # urllib3 >= 2.6 bounds decompressed output by amt, so a gzip bomb is
                # never inflated beyond one chunk past the limit.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > limit:
                    raise FetchError(
                        f"body is over the {limit}-byte limit (counted after decompression)",
                        url=url,
                    )
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if deadline.expired():
                raise self._deadline_error(url) from exc
            if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
                msg = f"no data for {self.limits.read_timeout:g} s while reading the body"
            else:
                msg = "the body could not be read"
            raise FetchError(msg, url=url) from exc

    def _deadline_error(self, url: str) -> FetchError:
        return FetchError(f"gave up after {self.limits.deadline:g} s (total deadline)", url=url)


def _check_http(candidate: str, url: str, problem: str, status: int | None = None) -> str:
    try:
        parts = urlsplit(candidate)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  # raises ValueError when out of range or not a number
    except ValueError:
        valid = False
    if not valid:
        raise FetchError(f"{problem}: {candidate!r}", url=url, status=status)
    return candidate


def _set_socket_timeout(raw: Any, seconds: float) -> None:
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:
        # http.client drops conn.sock when the server will close the connection; the
        # response's buffered reader still holds the socket (CPython internals: getattr).
        reader = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _status_error(url: str, response: requests.Response) -> FetchError:
    status = response.status_code
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(
            response.headers.get("retry-after"),
            now=_http_date(response.headers.get("date")) or datetime.now(UTC),
        )
    message = f"HTTP {status} {response.reason or ''}".rstrip()
    if retry_after is not None:
        message += f" (the server asks to retry after {retry_after:g} s)"
    return FetchError(message, url=url, status=status, retry_after=retry_after)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), or None.

    ``now`` is the moment the date form is relative to (the response's Date, ideally).
    A date in the past means 0; an unparseable value means None.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    when = _http_date(value)
    return None if when is None else max(0.0, (when - now).total_seconds())


def parse_max_age(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Freshness in seconds from lower-cased ``headers``, or None if they give none.

    ``Cache-Control: max-age`` wins (``s-maxage`` is for shared caches, not us);
    ``no-cache``/``no-store`` mean 0; else ``Expires`` minus ``Date`` (or ``now``),
    where an invalid Expires means already expired (RFC 9111 §5.3).
    """
    no_cache = False
    for directive in headers.get("cache-control", "").split(","):
        name, _, arg = directive.strip().partition("=")
        name = name.strip().lower()
        arg = arg.strip().strip('"')
        if name == "max-age" and arg.isascii() and arg.isdigit():
            return float(arg)
        no_cache = no_cache or name in ("no-cache", "no-store")
    if no_cache:
        return 0.0
    if "expires" not in headers:
        return None
    expires = _http_date(headers["expires"])
    if expires is None:
        return 0.0
    base = _http_date(headers.get("date")) or now
    return max(0.0, (expires - base).total_seconds())


# ---------------------------------------------------------------------------------------
# Policy: pure functions over the persisted state.

_DATETIMES = ("last_fetch", "next_fetch", "fresh_until")


@dataclass(frozen=True, slots=True)
class HttpState:
    """What is remembered about one remote source between fetches.

    Attributes:
        url: the configured URL; state for another URL is discarded.
        effective_url: where we fetch now, after a confirmed permanent redirect.
        etag, last_modified: validators, exactly as the server sent them.
        last_status, last_fetch, last_error: the latest attempt.
        failures: consecutive failed attempts.
        next_fetch: not before this time (backoff or Retry-After); ``force`` ignores it.
        fresh_until: the server's own freshness (max-age/Expires, capped at 24 h); only
            blocks a fetch with ``respect_freshness`` (the scheduler), never a build.
        gone: a 410 was seen; the source is skipped until its URL changes.
        redirect_candidate, redirect_seen: a 301/308 target and on how many consecutive
            fetches it was seen.
    """

    url: str
    effective_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_fetch: datetime | None = None
    last_error: str | None = None
    failures: int = 0
    next_fetch: datetime | None = None
    fresh_until: datetime | None = None
    gone: bool = False
    redirect_candidate: str | None = None
    redirect_seen: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (datetimes as ISO 8601 strings)."""
        return {
            f.name: (v.isoformat() if isinstance(v := getattr(self, f.name), datetime) else v)
            for f in fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HttpState:
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored, missing ones default.

        Raises:
            ValueError: a value has the wrong type (the store should report it as corrupt).
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("url"), str):
            raise ValueError(f"HttpState: 'url' must be a string, got {values.get('url')!r}")
        for key in _DATETIMES:
            if values.get(key) is not None:
                try:
                    values[key] = utc(datetime.fromisoformat(values[key]))
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"HttpState: bad {key}={values[key]!r}: {exc}") from exc
        for key in ("failures", "redirect_seen"):
            if not isinstance(values.get(key, 0), int):
                raise ValueError(f"HttpState: '{key}' must be an integer, got {values[key]!r}")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one source: the new state to persist, and the result or error."""

    kind: Literal["fetched", "not_modified", "skipped", "failed"]
    state: HttpState
    result: FetchResult | None = None
    error: FetchError | None = None
    reason: str | None = None


def backoff_delay(failures: int) -> timedelta:
    """Wait after ``failures`` consecutive failures: 60 s, 120 s, 240 s … capped at 6 h."""
    if failures <= 0:
        return timedelta(0)
    return min(BACKOFF_BASE * (1 << min(failures - 1, 32)), BACKOFF_CAP)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def plan(
    url: str,
    state: HttpState | None,
    *,
    now: datetime,
    force: bool = False,
    respect_freshness: bool = False,
) -> tuple[HttpState, str | None]:
    """Decide whether to fetch ``url`` now: returns (state to use, skip reason or None).

    State recorded for a different URL is replaced by a fresh one, so editing the URL
    in the config is how a user clears a 410 or a backoff.
    """
    now = utc(now)  # type: ignore[assignment]
    if state is None or state.url != url:
        return HttpState(url=url), None
    if state.gone:
        return state, GONE_REASON
    if force:
        return state, None
    if state.next_fetch is not None and now < state.next_fetch:
        failures = f"{state.failures} consecutive failure{'s' * (state.failures != 1)}"
        return state, f"backing off until {_when(state.next_fetch)} after {failures}: " + (
            state.last_error or "unknown error"
        )
    if respect_freshness and state.fresh_until is not None and now < state.fresh_until:
        return state, f"fresh until {_when(state.fresh_until)} (the server's Cache-Control/Expires)"
    return state, None


def apply_result(state: HttpState, result: FetchResult, now: datetime) -> HttpState:
    """The state after a successful fetch (200 or 304): failures and errors are reset."""
    candidate, seen, effective = state.redirect_candidate, state.redirect_seen, state.effective_url
    target = result.permanent_redirect
    if target is None:
        candidate, seen = None, 0  # the chain changed or stopped: start counting again
    elif target == candidate:
        seen += 1
    else:
        candidate, seen = target, 1
    if candidate is not None and seen >= REDIRECT_CONFIRMATIONS:
        log.info("%s: permanently moved to %s; fetching that from now on", state.url, candidate)
        effective = None if candidate == state.url else candidate
        candidate, seen = None, 0
    if result.status == 304:
        # A 304 may carry updated validators; otherwise the stored ones still hold.
        etag = result.etag or state.etag
        last_modified = result.last_modified or state.last_modified
    else:
        # These came from the final URL, so they stay right when it becomes effective_url.
        etag, last_modified = result.etag, result.last_modified
    fresh = None
    if result.max_age is not None:
        fresh = now + min(timedelta(seconds=result.max_age), MAX_FRESHNESS)
    return replace(
        state,
        effective_url=effective,
        etag=etag,
        last_modified=last_modified,
        last_status=result.status,
        last_fetch=now,
        last_error=None,
        failures=0,
        next_fetch=None,
        fresh_until=fresh,
        redirect_candidate=candidate,
        redirect_seen=seen,
    )


def apply_error(state: HttpState, error: FetchError, now: datetime) -> HttpState:
    """The state after a failed fetch: 410 marks it gone, Retry-After or backoff sets next_fetch.

    A pending redirect candidate is kept: a failure says nothing about the redirect.
    """
    failures = state.failures + 1
    if error.retry_after is not None:
        wait = min(timedelta(seconds=error.retry_after), MAX_RETRY_AFTER)
    else:
        wait = backoff_delay(failures)
    gone = error.status == 410
    return replace(
        state,
        last_status=error.status,
        last_fetch=now,
        last_error=str(error),
        failures=failures,
        next_fetch=None if gone else now + wait,
        gone=gone,
    )


def conditional_fetch(
    fetcher: Fetcher,
    url: str,
    state: HttpState | None,
    *,
    now: datetime,
    force: bool = False,
    respect_freshness: bool = False,
) -> Outcome:
    """Fetch the configured ``url`` if the policy allows, with stored validators.

    Returns ``fetched``, ``not_modified`` (reuse stored entries), ``skipped`` (with a
    reason; state unchanged) or ``failed`` (with the :class:`FetchError`); never raises
    FetchError.
    """
    state, reason = plan(url, state, now=now, force=force, respect_freshness=respect_freshness)
    if reason is not None:
        log.info("%s: skipped: %s", url, reason)
        return Outcome("skipped", state, reason=reason)
    try:
        result = fetcher.fetch(
            state.effective_url or url, etag=state.etag, last_modified=state.last_modified
        )
    except FetchError as exc:
        log.warning("%s", exc)
        return Outcome("failed", apply_error(state, exc, now), error=exc)
    kind: Literal["fetched", "not_modified"] = "not_modified" if result.status == 304 else "fetched"
    return Outcome(kind, apply_result(state, result, now), result=result)
