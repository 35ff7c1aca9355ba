"""A loopback HTTP server for the benchmark corpus, with latency and conditional GET.

Serves the files of one directory (read once into memory) on 127.0.0.1 with a
strong ``ETag`` and a ``Last-Modified`` per file, answers ``If-None-Match`` /
``If-Modified-Since`` with ``304 Not Modified``, gzips bodies for clients that
accept it (precompressed, as a real server's cache would), keeps HTTP/1.1
connections alive, and sleeps ``latency`` seconds in every request before
answering, so a benchmark sees what round trips cost without leaving the machine.

``hosts=N`` listens on N loopback addresses (127.0.0.1 ... 127.0.0.N, each its own
"site"; on systems where only 127.0.0.1 exists, N ports of it instead), because
polite clients limit concurrent requests *per host* and real feeds come from many
sites. Every listener serves every file and shares one set of counters.

``GET /__stats`` returns the counters as JSON (never delayed), so a benchmark can
check that a "304 pass" really got 304s.

From another script::

    with serve_in_process(corpus_dir, latency=0.05, hosts=200) as base_urls:  # own GIL
        ...
    with serve_in_thread(corpus_dir, latency=0.05) as [base_url]:            # simpler
        ...

Standalone (serves until Ctrl-C)::

    python bench/server.py [--dir bench/.corpus] [--port 0] [--latency-ms 50] [--hosts 1]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import ipaddress
import json
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import DEFAULT_CORPUS, warn

__all__ = ["CorpusServer", "Farm", "fetch_stats", "serve_in_process", "serve_in_thread"]

DEFAULT_LATENCY = 0.05
STATS_PATH = "/__stats"
_STARTUP_TIMEOUT = 60.0
# serve_forever() notices shutdown() only between polls; short polls keep a
# 200-listener shutdown quick.
_POLL_INTERVAL = 0.1

_CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    gzipped: bytes
    etag: str
    etag_gzip: str
    mtime: int
    last_modified: str
    content_type: str


def _load(directory: Path) -> dict[str, _File]:
    files: dict[str, _File] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix not in _CONTENT_TYPES:
            continue
        body = path.read_bytes()
        mtime = int(path.stat().st_mtime)
        tag = hashlib.sha1(body).hexdigest()[:20]
        files["/" + path.name] = _File(
            body=body,
            # mtime=0 keeps the gzip bytes (and so every run) identical.
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            # A representation-specific tag, as Apache does, since the bytes differ.
            etag=f'"{tag}"',
            etag_gzip=f'"{tag}-gzip"',
            mtime=mtime,
            last_modified=formatdate(mtime, usegmt=True),
            content_type=_CONTENT_TYPES[path.suffix],
        )
    if not files:
        raise FileNotFoundError(f"{directory}: no .rss/.atom/.xml/.json files to serve")
    return files


def _check_loopback(host: str) -> None:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"refusing to listen on {host!r}: the benchmark server is loopback-only")


class _Stats:
    """Request counters shared by every listener (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"requests": 0, "200": 0, "304": 0, "404": 0, "bytes": 0}

    def count(self, status: int, nbytes: int) -> None:
        with self._lock:
            self._counts["requests"] += 1
            self._counts[str(status)] = self._counts.get(str(status), 0) + 1
            self._counts["bytes"] += nbytes

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class CorpusServer(ThreadingHTTPServer):
    """One listener: a threading HTTP server over the in-memory corpus.

    Args:
        files: URL path -> file, from :func:`_load`.
        stats: counters, shared between listeners.
        latency: seconds to sleep in every request before answering.
        use_gzip: gzip bodies for clients that send ``Accept-Encoding: gzip``.
        host: a loopback address.
        port: TCP port; 0 picks a free one (see :attr:`base_url`).
    """

    daemon_threads = True
    # The default backlog of 5 drops SYNs when 16 clients connect at once, and each
    # drop costs a 1 s retransmit: that would measure the kernel, not the client.
    request_queue_size = 256

    def __init__(
        self,
        files: dict[str, _File],
        stats: _Stats,
        *,
        latency: float,
        use_gzip: bool,
        host: str,
        port: int = 0,
    ) -> None:
        _check_loopback(host)
        self.files = files
        self.stats = stats
        self.latency = latency
        self.use_gzip = use_gzip
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's ``socket.getfqdn()``: a reverse DNS lookup per
        listener is slow, and would send traffic beyond loopback."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def base_url(self) -> str:
        """``http://host:port/``, with the port actually bound."""
        return f"http://{self.server_name}:{self.server_port}/"


class Farm:
    """``hosts`` listeners over one directory, each served from its own thread.

    Args:
        directory: folder whose ``.rss``/``.atom``/``.xml``/``.json`` files are served.
        latency: seconds to sleep in every request before answering.
        hosts: number of distinct loopback hosts (see the module docstring).
        port: port of the first listener (0 = any free port); the others take any.
        use_gzip: gzip bodies for clients that accept it.
    """

    def __init__(
        self,
        directory: Path,
        *,
        latency: float = DEFAULT_LATENCY,
        hosts: int = 1,
        port: int = 0,
        use_gzip: bool = True,
    ) -> None:
        if hosts < 1 or hosts > 250:
            raise ValueError(f"hosts must be within 1..250, got {hosts}")
        files = _load(directory)
        self.stats = _Stats()
        self.servers: list[CorpusServer] = []
        self._threads: list[threading.Thread] = []
        self._ports_only = False
        try:
            for i in range(hosts):
                self.servers.append(self._bind(files, latency, use_gzip, i, port if i == 0 else 0))
        except BaseException:
            self.close()
            raise

    def _bind(
        self, files: dict[str, _File], latency: float, use_gzip: bool, i: int, port: int
    ) -> CorpusServer:
        kwargs: dict[str, Any] = {"latency": latency, "use_gzip": use_gzip, "port": port}
        if not self._ports_only:
            try:
                return CorpusServer(files, self.stats, host=f"127.0.0.{i + 1}", **kwargs)
            except OSError:
                # Only 127.0.0.1 is configured here (macOS): fall back to one port per host.
                warn(f"127.0.0.{i + 1} is not available; using ports of 127.0.0.1 as hosts")
                self._ports_only = True
        return CorpusServer(files, self.stats, host="127.0.0.1", **kwargs)

    @property
    def base_urls(self) -> list[str]:
        """The base URL of every listener, in order."""
        return [s.base_url for s in self.servers]

    def start(self) -> None:
        """Serve from one daemon thread per listener."""
        for s in self.servers:
            thread = threading.Thread(
                target=s.serve_forever, args=(_POLL_INTERVAL,), name="corpus-server", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop every listener (in parallel: each stop waits for one poll)."""
        stoppers = [
            threading.Thread(target=s.shutdown, daemon=True)
            for s, _ in zip(self.servers, self._threads, strict=False)
        ]
        for t in stoppers:
            t.start()
        for t in [*stoppers, *self._threads]:
            t.join(timeout=10)
        for s in self.servers:
            s.server_close()


def _not_modified(headers: Any, file: _File) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return bool({"*", file.etag, file.etag_gzip} & tags)
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            return file.mtime <= int(parsedate_to_datetime(ims).timestamp())
        except (TypeError, ValueError, IndexError):
            return False
    return False


def _accepts_gzip(headers: Any) -> bool:
    for coding in headers.get("Accept-Encoding", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedloom-bench/1"
    # Idle keep-alive connections give their thread back after this many seconds.
    timeout = 30
    server: CorpusServer

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == STATS_PATH:
            body = json.dumps(self.server.stats.snapshot()).encode()
            self._send(HTTPStatus.OK, body, send_body, {"Content-Type": "application/json"})
            return
        time.sleep(self.server.latency)
        file = self.server.files.get(path)
        if file is None:
            self.server.stats.count(404, 0)
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", send_body, {})
            return
        zipped = self.server.use_gzip and _accepts_gzip(self.headers)
        headers = {
            "ETag": file.etag_gzip if zipped else file.etag,
            "Last-Modified": file.last_modified,
            "Vary": "Accept-Encoding",
        }
        if _not_modified(self.headers, file):
            self.server.stats.count(304, 0)
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        headers["Content-Type"] = file.content_type
        if zipped:
            headers["Content-Encoding"] = "gzip"
        body = file.gzipped if zipped else file.body
        self.server.stats.count(200, len(body) if send_body else 0)
        self._send(HTTPStatus.OK, body, send_body, headers)

    def _send(
        self, status: HTTPStatus, body: bytes, send_body: bool, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: one line per request would drown the figures."""


@contextmanager
def serve_in_thread(
    directory: Path,
    *,
    latency: float = DEFAULT_LATENCY,
    hosts: int = 1,
    port: int = 0,
    use_gzip: bool = True,
) -> Iterator[list[str]]:
    """Serve ``directory`` from threads of this process; yield the base URL of each host.

    Simple, but the server's threads share the GIL with the code being measured.
    """
    farm = Farm(directory, latency=latency, hosts=hosts, port=port, use_gzip=use_gzip)
    farm.start()
    try:
        yield farm.base_urls
    finally:
        farm.close()


@contextmanager
def serve_in_process(
    directory: Path,
    *,
    latency: float = DEFAULT_LATENCY,
    hosts: int = 1,
    port: int = 0,
    use_gzip: bool = True,
) -> Iterator[list[str]]:
    """Serve ``directory`` from a child Python process; yield the base URL of each host.

    The benchmarks use this one: the server then has its own interpreter and GIL,
    and its CPU time is not counted as the client's. The child exits when its stdin
    closes, so it cannot outlive this process.
    """
    argv = [sys.executable, str(Path(__file__).resolve()), "--dir", str(directory)]
    argv += ["--port", str(port), "--latency-ms", str(latency * 1000), "--hosts", str(hosts)]
    argv += ["--exit-on-stdin-eof"] + ([] if use_gzip else ["--no-gzip"])
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield _read_base_urls(proc)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _read_base_urls(proc: subprocess.Popen[str]) -> list[str]:
    """The URLs the child prints on its first line, waiting a bounded time."""
    stdout = proc.stdout
    assert stdout is not None
    line: list[str] = []
    # readline() has no timeout; a helper thread bounds the wait instead.
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=_STARTUP_TIMEOUT)
    urls = [w for w in (line[0].split() if line else []) if w.startswith("http://")]
    if not urls:
        raise RuntimeError(f"corpus server did not start (exit code {proc.poll()}, said {line!r})")
    return urls


def fetch_stats(base_url: str) -> dict[str, int]:
    """The server's request counters (any listener's base URL will do)."""
    with urllib.request.urlopen(base_url.rstrip("/") + STATS_PATH, timeout=10) as resp:
        data: dict[str, int] = json.loads(resp.read())
    return data


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: serve until interrupted (or stdin closes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_CORPUS, help="directory to serve")
    parser.add_argument("--port", type=int, default=0, help="port of host 1 (0 = any free port)")
    parser.add_argument("--hosts", type=int, default=1, help="loopback hosts to listen on (1)")
    parser.add_argument(
        "--latency-ms", type=float, default=DEFAULT_LATENCY * 1000, help="delay per request (50)"
    )
    parser.add_argument("--no-gzip", action="store_true", help="never gzip bodies")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (for parents)"
    )
    args = parser.parse_args(argv)
    farm = Farm(
        args.dir,
        latency=args.latency_ms / 1000,
        hosts=args.hosts,
        port=args.port,
        use_gzip=not args.no_gzip,
    )
    farm.start()
    print(
        f"serving {len(farm.servers[0].files)} files of {args.dir} at "
        + " ".join(farm.base_urls)
        + f" (latency {args.latency_ms:g} ms)",
        flush=True,
    )
    try:
        if args.exit_on_stdin_eof:
            sys.stdin.read()
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        farm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
