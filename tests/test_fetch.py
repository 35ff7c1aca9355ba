"""Tests of feedloom.fetch against real HTTP servers on 127.0.0.1.

pytest-httpserver covers ordinary responses; a small stdlib ThreadingHTTPServer
(``LoopbackServer`` below) covers what it cannot: trickling, stalling and endless
bodies, and concurrent requests (pytest-httpserver serves one request at a time).
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest
from pytest_httpserver import HTTPServer
from tests.conftest import LoopbackHTTPServer

from feedloom import __version__
from feedloom.errors import ConfigError, FetchError
from feedloom.fetch import (
    GONE_REASON,
    USER_AGENT,
    Fetcher,
    HttpState,
    Limits,
    backoff_delay,
    conditional_fetch,
    parse_max_age,
    parse_retry_after,
    plan,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MiB = 1024 * 1024
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
FAST = Limits(connect_timeout=2, read_timeout=2, deadline=5, max_bytes=MiB)


# --- a loopback server for behaviours pytest-httpserver cannot produce -------------------

Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: every connection closes after its response, so no keep-alive thread lingers.
    protocol_version = "HTTP/1.0"
    server: LoopbackServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class LoopbackServer(LoopbackHTTPServer):
    """A threaded server on 127.0.0.1 whose routes are plain functions of the handler."""

    daemon_threads = False
    block_on_close = True  # server_close() joins handler threads: none outlives its test

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.paths: list[str] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        # The client hanging up on an endless body is the point of those tests.
        if exc is not None and not isinstance(exc, ConnectionError):
            self.errors.append(exc)

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join()


@pytest.fixture
def servers() -> Iterator[Callable[[], LoopbackServer]]:
    started: list[LoopbackServer] = []

    def start() -> LoopbackServer:
        started.append(LoopbackServer())
        return started[-1]

    yield start
    for server in started:
        server.stop()
    assert [e for s in started for e in s.errors] == []


@pytest.fixture
def loopback(servers: Callable[[], LoopbackServer]) -> LoopbackServer:
    return servers()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as f:
        yield f


def _headers(h: BaseHTTPRequestHandler, status: int = 200, **extra: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/rss+xml")
    for name, value in extra.items():
        h.send_header(name.replace("_", "-"), value)
    h.end_headers()


def trickle(h: BaseHTTPRequestHandler) -> None:
    """One byte a second, forever."""
    _headers(h)
    while not h.server.stopping.wait(1.0):  # type: ignore[attr-defined]
        h.wfile.write(b" ")


def stall_before_headers(h: BaseHTTPRequestHandler) -> None:
    h.server.stopping.wait(60)  # type: ignore[attr-defined]


def stall_after_headers(h: BaseHTTPRequestHandler) -> None:
    _headers(h)
    h.server.stopping.wait(60)  # type: ignore[attr-defined]


def progress_then_stall(h: BaseHTTPRequestHandler) -> None:
    _headers(h)
    h.wfile.write(b"<")
    if not h.server.stopping.wait(1.0):  # type: ignore[attr-defined]
        h.wfile.write(b"r")
        h.server.stopping.wait(60)  # type: ignore[attr-defined]


def endless(h: BaseHTTPRequestHandler) -> None:
    _headers(h)
    block = b"x" * 65536
    while not h.server.stopping.is_set():  # type: ignore[attr-defined]
        h.wfile.write(block)


def exactly(size: int) -> Route:
    """A body of ``size`` bytes without Content-Length (ends when the connection closes)."""

    def route(h: BaseHTTPRequestHandler) -> None:
        _headers(h)
        h.wfile.write(b"x" * size)

    return route


def slow_counting(seconds: float, body: bytes, counter: dict[str, int]) -> Route:
    """Sleep, recording how many requests are in the handler at once (counter['peak'])."""
    lock = threading.Lock()

    def route(h: BaseHTTPRequestHandler) -> None:
        with lock:
            counter["active"] = counter.get("active", 0) + 1
            counter["peak"] = max(counter.get("peak", 0), counter["active"])
        time.sleep(seconds)
        with lock:
            counter["active"] -= 1
        _headers(h, Content_Length=str(len(body)))
        h.wfile.write(body)

    return route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- plain fetches ----------------------------------------------------------------------


def test_200_returns_body_validators_and_identifies_itself(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        RSS,
        content_type="application/rss+xml; charset=utf-8",
        headers={"ETag": 'W/"v1"', "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"},
    )
    url = httpserver.url_for("/feed.xml")
    result = fetcher.fetch(url)
    assert (result.status, result.body, result.url, result.final_url) == (200, RSS, url, url)
    assert result.etag == 'W/"v1"'
    assert result.last_modified == "Wed, 01 May 2024 10:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert result.headers["content-location"] == url
    assert result.permanent_redirect is None and result.max_age is None
    assert 0 < result.elapsed < 5
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"feedloom/{__version__} (+https://")
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert request.headers["Accept"].startswith("application/atom+xml,application/rss+xml")
    assert "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers


def test_conditional_get_echoes_validators_exactly_and_304_is_not_modified(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    etag, modified = 'W/"a b;c"', "Wed, 01 May 2024 10:00:00 GMT"
    url = httpserver.url_for("/feed")
    httpserver.expect_oneshot_request("/feed").respond_with_data(
        RSS, headers={"ETag": etag, "Last-Modified": modified}
    )
    first = conditional_fetch(fetcher, url, None, now=NOW)
    assert first.kind == "fetched" and first.result is not None and first.result.body == RSS
    assert (first.state.etag, first.state.last_modified) == (etag, modified)
    assert (first.state.last_status, first.state.last_fetch) == (200, NOW)

    httpserver.expect_oneshot_request("/feed").respond_with_data("", status=304)
    second = conditional_fetch(fetcher, url, first.state, now=NOW + timedelta(hours=1))
    request = httpserver.log[1][0]
    assert request.headers["If-None-Match"] == etag
    assert request.headers["If-Modified-Since"] == modified
    assert second.kind == "not_modified" and second.result is not None
    assert second.result.status == 304 and second.result.body is None
    # The 304 carried no validators: the stored ones are kept for next time.
    assert (second.state.etag, second.state.last_modified) == (etag, modified)
    assert second.state.last_fetch == NOW + timedelta(hours=1)


def test_304_to_an_unconditional_request_is_an_error(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=304)
    with pytest.raises(FetchError, match="without validators"):
        fetcher.fetch(httpserver.url_for("/feed"))


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_compressed_body_is_decoded_once(
    httpserver: HTTPServer, fetcher: Fetcher, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    body = RSS * 100
    httpserver.expect_request("/feed").respond_with_data(
        compress(body), headers={"Content-Encoding": coding}
    )
    result = fetcher.fetch(httpserver.url_for("/feed"))
    assert result.body == body
    # feedparser would try to decompress again if these were left in place.
    assert "content-encoding" not in result.headers
    assert "content-length" not in result.headers


def test_unrequested_content_encoding_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS, headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding br"):
        fetcher.fetch(httpserver.url_for("/feed"))


@pytest.mark.parametrize(
    ("status", "text"), [(404, "HTTP 404 NOT FOUND"), (500, "HTTP 500 INTERNAL SERVER ERROR")]
)
def test_http_error_keeps_status_and_names_url(
    httpserver: HTTPServer, fetcher: Fetcher, status: int, text: str
) -> None:
    httpserver.expect_request("/feed").respond_with_data("nope", status=status)
    url = httpserver.url_for("/feed")
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.status == status and caught.value.retry_after is None
    assert caught.value.url == url
    assert str(caught.value) == f"{url}: {text}"


def test_connection_refused(fetcher: Fetcher) -> None:
    url = f"http://127.0.0.1:{free_port()}/feed"
    with pytest.raises(FetchError, match="request failed") as caught:
        fetcher.fetch(url)
    assert caught.value.status is None
    assert str(caught.value).startswith(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/feed",
        "file:///etc/passwd",
        "feed.xml",
        "http://",
        "data:,x",
        "http://[::1/feed",
        "http://127.0.0.1:99999/feed",
        "http://127.0.0.1:port/feed",
    ],
)
def test_only_http_urls_are_fetched(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchError, match=r"not a valid http\(s\) URL"):
        fetcher.fetch(url)


# --- redirects ----------------------------------------------------------------------------


def _redirect(server: HTTPServer, path: str, status: int, to: str) -> None:
    server.expect_request(path).respond_with_data("", status=status, headers={"Location": to})


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_adopted_after_two_consecutive_fetches(
    httpserver: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    old, new = httpserver.url_for("/old"), httpserver.url_for("/new")
    _redirect(httpserver, "/old", status, new)
    httpserver.expect_request("/new").respond_with_data(RSS, headers={"ETag": '"n1"'})

    first = conditional_fetch(fetcher, old, None, now=NOW)
    assert first.result is not None and first.result.final_url == new
    assert first.result.permanent_redirect == new
    assert first.result.headers["content-location"] == new
    assert (first.state.effective_url, first.state.redirect_candidate) == (None, new)
    assert first.state.redirect_seen == 1

    second = conditional_fetch(fetcher, old, first.state, now=NOW + timedelta(hours=1))
    assert second.state.effective_url == new
    assert (second.state.redirect_candidate, second.state.redirect_seen) == (None, 0)
    assert second.state.url == old and second.state.etag == '"n1"'

    httpserver.clear_log()
    third = conditional_fetch(fetcher, old, second.state, now=NOW + timedelta(hours=2))
    assert third.kind == "fetched"
    assert [request.path for request, _ in httpserver.log] == ["/new"]
    assert httpserver.log[0][0].headers["If-None-Match"] == '"n1"'


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_never_changes_the_url(
    httpserver: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    old, new = httpserver.url_for("/old"), httpserver.url_for("/new")
    _redirect(httpserver, "/old", status, "/new")  # relative Location
    httpserver.expect_request("/new").respond_with_data(RSS)
    state = None
    for hour in range(3):
        outcome = conditional_fetch(fetcher, old, state, now=NOW + timedelta(hours=hour))
        assert outcome.result is not None and outcome.result.final_url == new
        assert outcome.result.permanent_redirect is None
        state = outcome.state
        assert (state.effective_url, state.redirect_candidate, state.redirect_seen) == (
            None,
        ) * 2 + (0,)
    assert [request.path for request, _ in httpserver.log] == ["/old", "/new"] * 3


def test_redirect_candidate_resets_when_the_redirect_stops(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    old, new = httpserver.url_for("/old"), httpserver.url_for("/new")
    _redirect(httpserver, "/old", 301, new)
    httpserver.expect_request("/new").respond_with_data(RSS)
    first = conditional_fetch(fetcher, old, None, now=NOW)
    assert first.state.redirect_candidate == new

    httpserver.clear_all_handlers()
    httpserver.expect_request("/old").respond_with_data(RSS)
    second = conditional_fetch(fetcher, old, first.state, now=NOW + timedelta(hours=1))
    assert (second.state.redirect_candidate, second.state.redirect_seen) == (None, 0)

    httpserver.clear_all_handlers()
    _redirect(httpserver, "/old", 301, new)
    httpserver.expect_request("/new").respond_with_data(RSS)
    third = conditional_fetch(fetcher, old, second.state, now=NOW + timedelta(hours=2))
    # Not consecutive: counting starts again, the URL is not adopted yet.
    assert third.state.effective_url is None
    assert (third.state.redirect_candidate, third.state.redirect_seen) == (new, 1)


def test_utf8_location_is_followed(loopback: LoopbackServer, fetcher: Fetcher) -> None:
    def moved(h: BaseHTTPRequestHandler) -> None:
        # Raw bytes: servers send UTF-8 in Location although HTTP says ASCII.
        h.wfile.write("HTTP/1.0 301 Moved\r\nLocation: /新闻\r\n\r\n".encode())

    loopback.routes["/feed"] = moved
    loopback.routes["/%E6%96%B0%E9%97%BB"] = slow_counting(0, RSS, {})
    result = fetcher.fetch(loopback.url("/feed"))
    assert result.body == RSS
    assert result.final_url == result.permanent_redirect == loopback.url("/新闻")


def test_chain_is_permanent_only_if_every_hop_is(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    _redirect(httpserver, "/a", 301, "/b")
    _redirect(httpserver, "/b", 308, "/c")
    _redirect(httpserver, "/x", 301, "/y")
    _redirect(httpserver, "/y", 302, "/c")
    httpserver.expect_request("/c").respond_with_data(RSS)
    final = httpserver.url_for("/c")
    assert fetcher.fetch(httpserver.url_for("/a")).permanent_redirect == final
    mixed = fetcher.fetch(httpserver.url_for("/x"))
    assert mixed.final_url == final and mixed.permanent_redirect is None


def test_redirect_loop_is_an_error(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    _redirect(httpserver, "/a", 301, "/b")
    _redirect(httpserver, "/b", 302, "/a")
    with pytest.raises(FetchError, match="redirect loop") as caught:
        fetcher.fetch(httpserver.url_for("/a"))
    assert caught.value.status == 302
    assert [request.path for request, _ in httpserver.log] == ["/a", "/b"]


def test_too_many_redirects(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    for i in range(6):
        _redirect(httpserver, f"/hop{i}", 302, f"/hop{i + 1}")
    httpserver.expect_request("/hop6").respond_with_data(RSS)
    assert FAST.max_redirects == 5
    assert fetcher.fetch(httpserver.url_for("/hop1")).body == RSS  # exactly 5 hops
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        fetcher.fetch(httpserver.url_for("/hop0"))  # 6 hops


@pytest.mark.parametrize(
    "target", ["ftp://127.0.0.1/feed", "file:///etc/passwd", "http://[::1/feed"]
)
def test_redirect_to_another_scheme_or_a_broken_url_is_refused(
    loopback: LoopbackServer, fetcher: Fetcher, target: str
) -> None:
    # The stdlib server, because werkzeug refuses to send a broken Location.
    loopback.routes["/feed"] = lambda h: _headers(h, 301, Location=target)
    with pytest.raises(FetchError, match=r"redirect to an invalid or non-http\(s\) URL") as caught:
        fetcher.fetch(loopback.url("/feed"))
    assert target in str(caught.value) and caught.value.status == 301


# --- error policy -------------------------------------------------------------------------


def test_gone_is_skipped_until_the_configured_url_changes(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=410)
    url = httpserver.url_for("/feed")
    gone = conditional_fetch(fetcher, url, None, now=NOW)
    assert gone.kind == "failed" and gone.error is not None and gone.error.status == 410
    assert gone.state.gone and gone.state.next_fetch is None

    later = NOW + timedelta(days=30)
    for force in (False, True):  # force does not override an explicit 410
        skipped = conditional_fetch(fetcher, url, gone.state, now=later, force=force)
        assert (skipped.kind, skipped.reason, skipped.state) == ("skipped", GONE_REASON, gone.state)
    assert "410" in GONE_REASON and "change the URL" in GONE_REASON
    assert len(httpserver.log) == 1

    httpserver.expect_request("/moved").respond_with_data(RSS)
    moved = httpserver.url_for("/moved")
    fresh = conditional_fetch(fetcher, moved, gone.state, now=later)
    assert fresh.kind == "fetched"
    assert (fresh.state.url, fresh.state.gone, fresh.state.failures) == (moved, False, 0)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_sets_next_fetch(
    httpserver: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=status, headers={"Retry-After": "120"}
    )
    url = httpserver.url_for("/feed")
    out = conditional_fetch(fetcher, url, None, now=NOW)
    assert out.kind == "failed" and out.error is not None
    assert (out.error.status, out.error.retry_after) == (status, 120.0)
    assert str(out.error).endswith("(the server asks to retry after 120 s)")
    assert out.state.next_fetch == NOW + timedelta(seconds=120)
    assert out.state.failures == 1

    waiting = conditional_fetch(fetcher, url, out.state, now=NOW + timedelta(seconds=119))
    assert waiting.kind == "skipped" and waiting.reason is not None
    assert waiting.reason.startswith("backing off until 2024-05-01 12:02:00 UTC")
    assert len(httpserver.log) == 1
    assert plan(url, out.state, now=NOW + timedelta(seconds=120))[1] is None
    forced = conditional_fetch(fetcher, url, out.state, now=NOW + timedelta(seconds=1), force=True)
    assert forced.kind == "failed" and len(httpserver.log) == 2


def test_retry_after_http_date(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    when = datetime.now(UTC) + timedelta(seconds=300)
    httpserver.expect_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    out = conditional_fetch(fetcher, httpserver.url_for("/feed"), None, now=NOW)
    assert out.error is not None and out.error.retry_after is not None
    # HTTP dates have one-second resolution, and the server's Date header is the base.
    assert 297 <= out.error.retry_after <= 301
    assert out.state.next_fetch is not None
    assert abs((out.state.next_fetch - NOW).total_seconds() - 300) <= 3


def test_retry_after_is_capped_and_missing_retry_after_is_a_plain_failure(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/slow").respond_with_data(
        "", status=429, headers={"Retry-After": str(10 * 86400)}
    )
    httpserver.expect_request("/down").respond_with_data("", status=503)
    capped = conditional_fetch(fetcher, httpserver.url_for("/slow"), None, now=NOW)
    assert capped.state.next_fetch == NOW + timedelta(hours=24)
    plain = conditional_fetch(fetcher, httpserver.url_for("/down"), None, now=NOW)
    assert plain.error is not None and plain.error.retry_after is None
    assert plain.state.next_fetch == NOW + timedelta(seconds=60)


def test_failures_back_off_exponentially_and_success_resets(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/feed").respond_with_data("oops", status=500)
    url = httpserver.url_for("/feed")
    state, now, waits = None, NOW, []
    for _ in range(4):
        out = conditional_fetch(fetcher, url, state, now=now)
        assert out.kind == "failed"
        state = out.state
        assert state.next_fetch is not None
        waits.append(state.next_fetch - now)
        early = conditional_fetch(fetcher, url, state, now=state.next_fetch - timedelta(seconds=1))
        assert early.kind == "skipped" and early.reason is not None
        assert "consecutive failure" in early.reason and "HTTP 500" in early.reason
        now = state.next_fetch
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480)]
    assert state is not None and state.failures == 4 and state.last_status == 500
    assert len(httpserver.log) == 4  # skipped attempts never reached the server

    httpserver.clear_all_handlers()
    httpserver.expect_request("/feed").respond_with_data(RSS)
    ok = conditional_fetch(fetcher, url, state, now=now)
    assert ok.kind == "fetched"
    assert (ok.state.failures, ok.state.last_error, ok.state.next_fetch) == (0, None, None)
    assert ok.state.last_status == 200


def test_backoff_delay_doubles_up_to_six_hours() -> None:
    assert backoff_delay(0) == timedelta(0)
    expected = [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]
    assert [backoff_delay(n).total_seconds() for n in range(1, 12)] == expected
    assert backoff_delay(10_000) == timedelta(hours=6)


def test_freshness_blocks_only_when_respected(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        RSS, headers={"Cache-Control": "public, s-maxage=5, max-age=600"}
    )
    httpserver.expect_request("/forever").respond_with_data(
        RSS, headers={"Cache-Control": "max-age=31536000"}
    )
    url = httpserver.url_for("/feed")
    out = conditional_fetch(fetcher, url, None, now=NOW)
    assert out.result is not None and out.result.max_age == 600
    assert out.state.fresh_until == NOW + timedelta(seconds=600)
    soon = NOW + timedelta(seconds=599)
    _, reason = plan(url, out.state, now=soon, respect_freshness=True)
    assert reason == "fresh until 2024-05-01 12:10:00 UTC (the server's Cache-Control/Expires)"
    assert plan(url, out.state, now=soon)[1] is None
    assert plan(url, out.state, now=soon, respect_freshness=True, force=True)[1] is None
    assert plan(url, out.state, now=soon + timedelta(seconds=1), respect_freshness=True)[1] is None

    forever = conditional_fetch(fetcher, httpserver.url_for("/forever"), None, now=NOW)
    assert forever.state.fresh_until == NOW + timedelta(hours=24)


# --- time and size limits -------------------------------------------------------------------


def _timed_failure(fetcher: Fetcher, url: str, match: str) -> float:
    started = time.monotonic()
    with pytest.raises(FetchError, match=match):
        fetcher.fetch(url)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("route", "bound"),
    # Upper bounds leave room for a loaded machine; the alternative is read_timeout (30 s).
    [(trickle, 6.0), (stall_before_headers, 6.0), (progress_then_stall, 6.0)],
)
def test_total_deadline_bounds_slow_servers(
    loopback: LoopbackServer, route: Route, bound: float
) -> None:
    loopback.routes["/feed"] = route
    # A generous read timeout: only the total deadline can stop these servers in time.
    with Fetcher(Limits(read_timeout=30, deadline=1.5)) as fetcher:
        elapsed = _timed_failure(fetcher, loopback.url("/feed"), r"gave up after 1\.5 s")
    assert 1.4 <= elapsed < bound


def test_read_timeout_when_the_body_stalls(loopback: LoopbackServer) -> None:
    loopback.routes["/feed"] = stall_after_headers
    with Fetcher(Limits(read_timeout=0.5, deadline=10)) as fetcher:
        elapsed = _timed_failure(fetcher, loopback.url("/feed"), r"no data for 0\.5 s")
    assert elapsed < 5  # not the 10 s deadline


def test_declared_body_over_the_cap_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"x" * (2 * MiB))
    with pytest.raises(FetchError, match=r"body of 2097152 bytes is over the 1048576-byte limit"):
        fetcher.fetch(httpserver.url_for("/feed"))


def test_endless_body_is_cut_at_the_cap(loopback: LoopbackServer, fetcher: Fetcher) -> None:
    loopback.routes["/feed"] = endless
    elapsed = _timed_failure(fetcher, loopback.url("/feed"), "over the 1048576-byte limit")
    assert elapsed < 3


@pytest.mark.parametrize(("size", "ok"), [(MiB, True), (MiB + 1, False)])
def test_undeclared_body_is_counted(
    loopback: LoopbackServer, fetcher: Fetcher, size: int, ok: bool
) -> None:
    loopback.routes["/feed"] = exactly(size)
    if ok:
        assert fetcher.fetch(loopback.url("/feed")).body == b"x" * size
    else:
        with pytest.raises(FetchError, match="counted after decompression"):
            fetcher.fetch(loopback.url("/feed"))


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MiB of zeros, gzip-compressed (about 50 KiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(50)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gzip_bomb_is_stopped_without_inflating_it(
    loopback: LoopbackServer, fetcher: Fetcher, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 100 * 1024

    def bomb(h: BaseHTTPRequestHandler) -> None:
        _headers(h, Content_Encoding="gzip", Content_Length=str(len(gzip_bomb)))
        h.wfile.write(gzip_bomb)

    # The stdlib server, not pytest-httpserver: tracemalloc counts every thread, and
    # werkzeug's request handling alone peaks at about 10 MiB.
    loopback.routes["/feed"] = bomb
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="over the 1048576-byte limit"):
            fetcher.fetch(loopback.url("/feed"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MiB


# --- fetch_many -------------------------------------------------------------------------------


def test_fetch_many_runs_in_parallel(servers: Callable[[], LoopbackServer]) -> None:
    counter: dict[str, int] = {}
    hosts = [servers() for _ in range(4)]
    for host in hosts:
        host.routes["/slow"] = slow_counting(0.3, RSS, counter)
    jobs = [(host.url(f"/slow?{i}"), None) for host in hosts for i in range(2)]
    with Fetcher(FAST) as fetcher:
        started = time.monotonic()
        outcomes = fetcher.fetch_many(jobs, now=NOW)
        elapsed = time.monotonic() - started
    assert [o.kind for o in outcomes] == ["fetched"] * 8
    assert elapsed < 2.0  # one after the other would take 8 x 0.3 = 2.4 s
    assert counter["peak"] >= 4


def test_fetch_many_never_exceeds_per_host_limit(loopback: LoopbackServer) -> None:
    counter: dict[str, int] = {}
    loopback.routes["/slow"] = slow_counting(0.2, RSS, counter)
    jobs = [(loopback.url(f"/slow?{i}"), None) for i in range(6)]
    with Fetcher(FAST) as fetcher:
        outcomes = fetcher.fetch_many(jobs, now=NOW)
    assert [o.kind for o in outcomes] == ["fetched"] * 6
    assert counter["peak"] == 2  # both parallel and limited


def test_waiting_for_a_host_slot_does_not_count_against_the_deadline(
    loopback: LoopbackServer,
) -> None:
    loopback.routes["/slow"] = slow_counting(1.0, RSS, {})
    jobs = [(loopback.url(f"/slow?{i}"), None) for i in range(2)]
    # The second request queues 1 s behind the first, then takes 1 s itself: 2 s in all,
    # over the deadline, while each request alone is well inside it (room for a slow CI).
    with Fetcher(Limits(per_host=1, deadline=1.7)) as fetcher:
        outcomes = fetcher.fetch_many(jobs, now=NOW)
    assert [o.kind for o in outcomes] == ["fetched", "fetched"]


def test_fetch_many_keeps_input_order_and_isolates_failures(loopback: LoopbackServer) -> None:
    loopback.routes["/a"] = slow_counting(0.3, b"A", {})
    loopback.routes["/b"] = slow_counting(0.0, b"B", {})
    gone = HttpState(url=loopback.url("/gone"), gone=True, last_status=410)
    jobs = [
        (loopback.url("/a"), None),
        (loopback.url("/missing"), None),
        (f"http://127.0.0.1:{free_port()}/refused", None),
        (gone.url, gone),
        (loopback.url("/b"), None),
    ]
    with Fetcher(FAST) as fetcher:
        outcomes = fetcher.fetch_many(jobs, now=NOW)
    assert [o.kind for o in outcomes] == ["fetched", "failed", "failed", "skipped", "fetched"]
    assert [o.state.url for o in outcomes] == [url for url, _ in jobs]
    assert outcomes[0].result is not None and outcomes[0].result.body == b"A"
    assert outcomes[4].result is not None and outcomes[4].result.body == b"B"
    assert outcomes[1].error is not None and outcomes[1].error.status == 404
    assert outcomes[2].error is not None and outcomes[2].error.status is None
    assert "/gone" not in loopback.paths


def test_fetch_many_with_no_jobs(fetcher: Fetcher) -> None:
    assert fetcher.fetch_many([], now=NOW) == []


# --- pure parts -------------------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    state = HttpState(
        url="https://example.org/feed",
        effective_url="https://example.org/new",
        etag='W/"中文"',
        last_modified="Wed, 01 May 2024 10:00:00 GMT",
        last_status=503,
        last_fetch=NOW,
        last_error="boom",
        failures=3,
        next_fetch=NOW + timedelta(minutes=4),
        fresh_until=NOW + timedelta(minutes=10),
        gone=False,
        redirect_candidate="https://example.org/newer",
        redirect_seen=1,
    )
    text = json.dumps(state.to_dict(), ensure_ascii=False)
    assert '"last_fetch": "2024-05-01T12:00:00+00:00"' in text and "中文" in text
    assert HttpState.from_dict(json.loads(text)) == state


def test_state_from_dict_is_tolerant_of_versions_but_not_of_bad_values() -> None:
    state = HttpState.from_dict({"url": "https://e.org/f", "added_in_v9": 1})
    assert state == HttpState(url="https://e.org/f")
    with pytest.raises(ValueError, match="url"):
        HttpState.from_dict({"etag": "x"})
    with pytest.raises(ValueError, match="next_fetch"):
        HttpState.from_dict({"url": "u", "next_fetch": "tomorrow"})
    with pytest.raises(ValueError, match="naive"):
        HttpState.from_dict({"url": "u", "last_fetch": "2024-05-01T12:00:00"})
    with pytest.raises(ValueError, match="failures"):
        HttpState.from_dict({"url": "u", "failures": "3"})


def test_plan_starts_fresh_for_a_new_url_and_rejects_naive_now() -> None:
    old = HttpState(url="https://e.org/old", failures=5, next_fetch=NOW + timedelta(hours=1))
    state, reason = plan("https://e.org/new", old, now=NOW)
    assert (state, reason) == (HttpState(url="https://e.org/new"), None)
    with pytest.raises(ValueError, match="naive"):
        plan("https://e.org/new", None, now=datetime(2024, 5, 1))


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", now=NOW) == 120.0
    assert parse_retry_after(" 7 ", now=NOW) == 7.0
    assert parse_retry_after("Wed, 01 May 2024 12:02:00 GMT", now=NOW) == 120.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=NOW) == 0.0
    for bad in (None, "", "soon", "-5", "1.5"):
        assert parse_retry_after(bad, now=NOW) is None


def test_parse_max_age() -> None:
    date = "Wed, 01 May 2024 12:00:00 GMT"
    assert parse_max_age({"cache-control": "public, s-maxage=10, max-age=300"}, now=NOW) == 300
    assert parse_max_age({"cache-control": 'max-age="60"'}, now=NOW) == 60
    assert parse_max_age({"cache-control": "no-cache"}, now=NOW) == 0
    assert parse_max_age({"cache-control": "s-maxage=10"}, now=NOW) is None
    expires = {"expires": "Wed, 01 May 2024 13:00:00 GMT"}
    assert parse_max_age({**expires, "date": "Wed, 01 May 2024 12:30:00 GMT"}, now=NOW) == 1800
    assert parse_max_age(expires, now=NOW) == 3600  # no Date: relative to now
    assert parse_max_age({"expires": "0", "date": date}, now=NOW) == 0
    assert parse_max_age({**expires, "cache-control": "max-age=5"}, now=NOW) == 5
    assert parse_max_age({}, now=NOW) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("deadline", 0), ("read_timeout", -1), ("workers", 2.5), ("per_host", 0), ("max_bytes", True)],
)
def test_limits_are_validated(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match="expected") as caught:
        Limits(**{field: value})  # type: ignore[arg-type]
    assert caught.value.key == field
    assert Limits(max_redirects=0).max_redirects == 0
