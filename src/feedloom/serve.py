"""Serve the generated ``output/`` folder to feed readers over HTTP.

The WSGI app (:func:`make_app`) is deliberately small and strict, because it faces the
network while the folder it serves also holds private state:

* Only ``GET`` and ``HEAD``; anything else is ``405`` with ``Allow``.
* Only regular files whose suffix is in :data:`CONTENT_TYPES` (feeds, HTML, plain text);
  anything else is ``404``. ``/`` serves ``index.html``. There are no directory listings.
* A request path is refused (``404``) if it has an empty, ``.`` or ``..`` segment, a
  segment starting with a dot (so ``.feedloom/`` and the state DB in it are never
  reachable), a backslash or a NUL, or if it resolves (symlinks followed) to anything
  outside the output folder or to a dotfile inside it.
* Strong ``ETag`` (a hash of the bytes), ``Last-Modified``, ``304`` for
  ``If-None-Match`` (which takes precedence) and ``If-Modified-Since``, per RFC 9110.
* ``gzip`` when ``Accept-Encoding`` allows it, with its own ``ETag`` and deterministic
  bytes; ``Vary: Accept-Encoding`` on every response. The bytes of each file (and its
  gzip form) are cached in memory per file version, so a poll costs an ``fstat``.
* ``Cache-Control: public, max-age=N``, N from the caller (a feed's ``ttl``).
* One access-log line per request on the ``feedloom.serve`` logger; no tracebacks
  ever reach a client.

:func:`create_server` binds a waitress server and returns a :class:`FeedServer` that can
be stopped from another thread; :func:`serve` runs one until SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import hashlib
import logging
import os
import re
import signal
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path, PurePosixPath
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import waitress.server
from waitress import wasyncore
from waitress.task import ThreadedTaskDispatcher

from feedloom.errors import ConfigError

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_MAX_AGE",
    "FeedServer",
    "create_server",
    "make_app",
    "serve",
]

logger = logging.getLogger("feedloom.serve")

#: Seconds for ``Cache-Control: max-age`` when the caller gives none for a file.
DEFAULT_MAX_AGE = 300

#: The only suffixes served, and their types: what ``feedloom build`` writes, with their
#: registered media types (RFC 4287 for Atom, JSON Feed 1.1), plus ``.txt`` so an
#: operator can add a ``robots.txt``. ``.md`` is left out on purpose: ``output/README.md``
#: is a note for developers, not something to publish.
CONTENT_TYPES: dict[str, str] = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    # No registered type; readers and OPML tools use this one.
    ".opml": "text/x-opml; charset=utf-8",
}

_ALLOW = "GET, HEAD"
_VARY = "Accept-Encoding"
# Files above this size are served but not kept in the memory cache.
_CACHE_FILE_LIMIT = 8 * 1024 * 1024
_CACHE_TOTAL_LIMIT = 64 * 1024 * 1024
_O_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_LOG_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\]')

MaxAgeFor = Callable[[str], int | None]


# --------------------------------------------------------------------------- cache


@dataclass
class _Representation:
    """One version of one file: its bytes, validators and (lazily) its gzip form."""

    body: bytes
    etag: str
    mtime: int
    last_modified: str
    gzip_body: bytes | None = None
    gzip_etag: str = field(init=False)

    def __post_init__(self) -> None:
        # The gzip variant is a different representation, so it needs a different
        # strong validator (RFC 9110 §8.8.3.3); suffixing keeps it derivable.
        self.gzip_etag = self.etag[:-1] + '-gz"'

    def gzipped(self) -> bytes:
        # Racing threads may both compress once; the result is identical (mtime=0).
        if self.gzip_body is None:
            self.gzip_body = _compress(self.body)
        return self.gzip_body


def _compress(body: bytes) -> bytes:
    # mtime=0 makes the output depend on the bytes only, so the gzip ETag is stable.
    return gzip.compress(body, compresslevel=6, mtime=0)


class _Cache:
    """Bounded LRU of file versions, keyed by path; a new version replaces the old one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Path, tuple[tuple[int, ...], _Representation]] = OrderedDict()
        self._size = 0

    def get(self, path: Path, version: tuple[int, ...]) -> _Representation | None:
        with self._lock:
            item = self._items.get(path)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(path)
            return item[1]

    def put(self, path: Path, version: tuple[int, ...], rep: _Representation) -> None:
        # Counting the identity bytes twice leaves room for the gzip form.
        cost = 2 * len(rep.body)
        if cost > 2 * _CACHE_FILE_LIMIT:
            return
        with self._lock:
            old = self._items.pop(path, None)
            if old is not None:
                self._size -= 2 * len(old[1].body)
            self._items[path] = (version, rep)
            self._size += cost
            while self._size > _CACHE_TOTAL_LIMIT and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= 2 * len(dropped.body)


# --------------------------------------------------------------------------- paths


def _request_path(environ: WSGIEnvironment) -> str | None:
    """The decoded request path as text, or None if it is not UTF-8."""
    raw = environ.get("PATH_INFO", "") or "/"
    # PEP 3333: PATH_INFO carries the percent-decoded bytes as latin-1 characters.
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def _safe_parts(parts: Iterable[str]) -> bool:
    return all(p and not p.startswith(".") and "\\" not in p and "\x00" not in p for p in parts)


def _locate(root: Path, path: str) -> tuple[str, Path] | None:
    """Map a request path to (name relative to root, real file path), or None for 404.

    ``root`` must already be resolved. The name is what ``max_age_for`` receives.
    """
    if path == "/":
        path = "/index.html"
    if not path.startswith("/"):
        return None
    parts = path[1:].split("/")
    if not _safe_parts(parts) or _content_type(parts[-1]) is None:
        return None
    real = root.joinpath(*parts).resolve()
    # Containment is checked on the resolved path, so a symlink may point within the
    # folder (latest.xml -> news.xml) but never out of it, nor at a dotfile or an
    # unserved suffix inside it (feed.xml -> .feedloom/state.sqlite).
    if not real.is_relative_to(root):
        return None
    real_parts = real.relative_to(root).parts
    if not real_parts or not _safe_parts(real_parts) or _content_type(real.name) is None:
        return None
    return "/".join(parts), real


def _content_type(name: str) -> str | None:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower())


# --------------------------------------------------------------------------- headers


def _accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding lets us send gzip rather than identity (RFC 9110 §12.5.3)."""
    if not header:
        # No header means "anything", but old clients that send none may not cope.
        return False
    q: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        q[coding] = weight
    gzip_q = q.get("gzip", q.get("x-gzip", q.get("*", 0.0)))
    if gzip_q <= 0:
        return False
    identity_q = q.get("identity", q.get("*"))
    # An unlisted identity is acceptable but not preferred over a listed gzip.
    return identity_q is None or gzip_q >= identity_q


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match with the weak comparison RFC 9110 §13.1.2 asks for."""
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/")
        # Tolerate clients that drop the quotes.
        if tag == opaque or f'"{tag}"' == opaque:
            return True
    return False


def _not_modified_since(header: str, mtime: int) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False  # an invalid date is ignored, RFC 9110 §13.1.3
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return mtime <= since.timestamp()


# --------------------------------------------------------------------------- app


@dataclass(frozen=True)
class _Response:
    status: str
    headers: list[tuple[str, str]]
    body: bytes = b""


def _plain(status: str, extra: list[tuple[str, str]] | None = None) -> _Response:
    body = (status.split(" ", 1)[1] + "\n").encode("ascii")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        # A 404 is heuristically cacheable (RFC 9111 §4.2.2); a feed that is missing
        # before the first build must not stay missing in readers' caches.
        ("Cache-Control", "no-cache"),
        ("Vary", _VARY),
        *(extra or []),
    ]
    return _Response(status, headers, body)


def _read(real: Path, cache: _Cache) -> _Representation | None:
    """The current version of a regular file, from the cache or disk; None for 404."""
    try:
        # O_NONBLOCK so a FIFO cannot hang a worker; O_NOFOLLOW so the last component
        # cannot have become a symlink since it was resolved.
        fd = os.open(real, _O_FLAGS)
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError | NotADirectoryError):
            logger.warning("cannot open %s: %s", real, exc)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        # The inode is part of the version: an atomic os.replace of same-sized bytes
        # within one mtime tick is still a new version.
        version = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        rep = cache.get(real, version)
        if rep is not None:
            return rep
        with os.fdopen(fd, "rb", closefd=False) as f:
            body = f.read()
    except OSError as exc:
        logger.warning("cannot read %s: %s", real, exc)
        return None
    finally:
        os.close(fd)
    mtime = int(st.st_mtime)
    rep = _Representation(
        body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        mtime=mtime,
        last_modified=email.utils.formatdate(mtime, usegmt=True),
    )
    cache.put(real, version, rep)
    return rep


def _handle(
    environ: WSGIEnvironment, root: Path, cache: _Cache, max_age_for: MaxAgeFor | None
) -> _Response:
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "HEAD"):
        return _plain("405 Method Not Allowed", [("Allow", _ALLOW)])
    path = _request_path(environ)
    located = _locate(root.resolve(), path) if path is not None else None
    if located is None:
        return _plain("404 Not Found")
    name, real = located
    rep = _read(real, cache)
    if rep is None:
        return _plain("404 Not Found")

    use_gzip = _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
    etag = rep.gzip_etag if use_gzip else rep.etag
    max_age = max_age_for(name) if max_age_for is not None else None
    max_age = DEFAULT_MAX_AGE if max_age is None else max(0, int(max_age))
    common = [
        ("ETag", etag),
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Vary", _VARY),
    ]

    inm = environ.get("HTTP_IF_NONE_MATCH")
    ims = environ.get("HTTP_IF_MODIFIED_SINCE")
    if inm is not None:
        # If-None-Match takes precedence; If-Modified-Since is then ignored.
        not_modified = _etag_matches(inm, etag)
    else:
        not_modified = ims is not None and _not_modified_since(ims, rep.mtime)
    if not_modified:
        return _Response("304 Not Modified", common)

    body = rep.gzipped() if use_gzip else rep.body
    headers = [
        ("Content-Type", _content_type(name) or "application/octet-stream"),
        ("Content-Length", str(len(body))),
        ("Last-Modified", rep.last_modified),
        *common,
        # Feeds may embed external HTML; never let a browser sniff them into a page.
        ("X-Content-Type-Options", "nosniff"),
    ]
    if use_gzip:
        headers.append(("Content-Encoding", "gzip"))
    return _Response("200 OK", headers, body)


def _log_safe(text: str) -> str:
    return _LOG_UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _access_log(environ: WSGIEnvironment, response: _Response, sent: int, started: float) -> None:
    target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    logger.info(
        '%s "%s %s" %s %d "%s" %.1fms',
        environ.get("REMOTE_ADDR", "-"),
        _log_safe(environ.get("REQUEST_METHOD", "-")),
        _log_safe(target),
        response.status[:3],
        sent,
        _log_safe(environ.get("HTTP_USER_AGENT", "-")),
        (time.perf_counter() - started) * 1000,
    )


def make_app(output_dir: Path, *, max_age_for: MaxAgeFor | None = None) -> WSGIApplication:
    """Build the WSGI app that serves ``output_dir`` read-only.

    The folder is resolved on every request, so it may be created after the app (before
    the first build) or be a symlink that a deploy swaps atomically.

    Args:
        output_dir: the folder of generated feeds and pages.
        max_age_for: maps a served name relative to ``output_dir`` (``"news.xml"``; ``"/"``
            gives ``"index.html"``) to seconds for ``Cache-Control: max-age``; ``None``
            from it, or no function, means :data:`DEFAULT_MAX_AGE`.

    Returns:
        A thread-safe WSGI application.
    """
    root = Path(output_dir)
    cache = _Cache()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            response = _handle(environ, root, cache, max_age_for)
        except Exception:
            # A bug; the traceback goes to the log, never to the client.
            logger.exception("error serving %s", _log_safe(environ.get("PATH_INFO", "")))
            response = _plain("500 Internal Server Error")
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body
        start_response(response.status, response.headers)
        _access_log(environ, response, len(body), started)
        return [body]

    return app


# --------------------------------------------------------------------------- server


class FeedServer:
    """A bound waitress server that :meth:`run` serves until :meth:`stop` is called.

    waitress's own ``run()`` only ends on KeyboardInterrupt/SystemExit in its own
    thread; this wrapper adds a thread-safe stop so that tests and the scheduler can
    shut it down and every socket and worker thread is released.

    Attributes:
        server: the waitress server object.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        # A single listener is the server itself; several (e.g. "localhost" on IPv4
        # and IPv6) share one map behind a MultiSocketServer.
        self._map: dict[int, Any] = server._map if hasattr(server, "_map") else server.map
        self._listeners = [
            d for d in self._map.values() if isinstance(d, waitress.server.BaseWSGIServer)
        ]
        self._stopping = threading.Event()
        # Re-entrant: a signal handler calling stop() may interrupt close() in this thread.
        self._lock = threading.RLock()
        self._closed = False

    @property
    def host(self) -> str:
        """The address the first listener is bound to."""
        return str(self._listeners[0].effective_host)

    @property
    def port(self) -> int:
        """The port the first listener is bound to (the real one when asked for 0)."""
        return int(self._listeners[0].effective_port)

    @property
    def url(self) -> str:
        """``http://host:port/`` of the first listener."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until :meth:`stop` (or Ctrl-C in this thread), then release everything."""
        adj = self.server.adj
        try:
            while not self._stopping.is_set():
                wasyncore.loop(
                    timeout=adj.asyncore_loop_timeout,
                    map=self._map,
                    use_poll=adj.asyncore_use_poll,
                    count=1,
                )
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return; safe from any thread and from a signal handler."""
        self._stopping.set()
        with self._lock:
            if not self._closed:
                # Wakes the poll() in run() at once instead of after its timeout.
                for listener in self._listeners:
                    listener.pull_trigger()

    def close(self) -> None:
        """Stop the worker threads and close every socket; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        # Workers first (waitress's own order), so none writes to a closed channel.
        self._listeners[0].task_dispatcher.shutdown()
        wasyncore.close_all(self._map)


def create_server(
    output_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    threads: int = 8,
    max_age_for: MaxAgeFor | None = None,
) -> FeedServer:
    """Bind a waitress server for ``output_dir`` without serving yet.

    Args:
        output_dir: the folder to serve (see :func:`make_app`).
        host: address to listen on; the default keeps it local.
        port: TCP port; 0 picks a free one (see :attr:`FeedServer.port`).
        threads: worker threads answering requests.
        max_age_for: see :func:`make_app`.

    Raises:
        ConfigError: ``output_dir`` exists but is not a folder, or the address cannot
            be bound (in use, not local, not permitted).
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError("the output path is not a folder", path=str(output_dir))
    if not output_dir.exists():
        logger.warning("%s does not exist yet; serving 404 until it is built", output_dir)
    app = make_app(output_dir, max_age_for=max_age_for)
    # Our own socket map and worker pool, so that a failed bind (which waitress raises
    # after opening the socket, its wake-up pipe and the workers) can release them all.
    socket_map: dict[int, Any] = {}
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    try:
        server = waitress.server.create_server(
            app,
            map=socket_map,
            _dispatcher=dispatcher,
            host=host,
            port=port,
            threads=threads,
            ident="feedloom",
            # poll() has no 1024-descriptor ceiling, unlike select().
            asyncore_use_poll=True,
        )
    except BaseException as exc:
        dispatcher.shutdown()
        wasyncore.close_all(socket_map, ignore_all=True)
        if isinstance(exc, OSError):
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", key="port"
            ) from exc
        raise
    return FeedServer(server)


def serve(
    output_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    threads: int = 8,
    max_age_for: MaxAgeFor | None = None,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve ``output_dir`` until SIGTERM or SIGINT, then return normally.

    Args:
        output_dir, host, port, threads, max_age_for: see :func:`create_server`.
        on_ready: called with the bound host and port once the socket listens, e.g. to
            print the URL or start a scheduler.

    Raises:
        ConfigError: see :func:`create_server`.
    """
    server = create_server(
        output_dir, host=host, port=port, threads=threads, max_age_for=max_age_for
    )
    previous: dict[int, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            # Default SIGTERM kills the process without closing sockets; SIGINT would
            # raise KeyboardInterrupt wherever it lands. Both now end run() cleanly.
            def on_signal(signum: int, _frame: object) -> None:
                logger.info("received %s, stopping", signal.Signals(signum).name)
                server.stop()

            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, on_signal)
        logger.info("serving %s on %s", output_dir, server.url)
        if on_ready is not None:
            on_ready(server.host, server.port)
        server.run()
    finally:
        server.close()
        for restored, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(restored, handler)
