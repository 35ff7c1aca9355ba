"""`feedloom serve`: a real waitress server on 127.0.0.1 over a real output folder."""

from __future__ import annotations

import email.utils
import gzip
import http.client
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from feedloom import serve as serve_mod
from feedloom.errors import ConfigError
from feedloom.serve import DEFAULT_MAX_AGE, FeedServer, create_server, make_app

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>新闻</title><link>http://example.com/</link>
<description>测试频道</description>
<item><title>第一条新闻</title><link>http://example.com/1</link></item>
</channel></rss>
""".encode()
ATOM = b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>\n'
JSON = '{"version": "https://jsonfeed.org/version/1.1", "title": "新闻"}\n'.encode()
HTML = "<!doctype html><title>新闻</title><p>你好</p>\n".encode()
INDEX = b"<!doctype html><title>index</title>\n"
OPML = b'<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>\n'
SECRET = b"<rss>outside the output folder</rss>\n"
# 2024-01-02 03:04:05 UTC, a whole second so Last-Modified round-trips exactly.
MTIME = 1704164645


def _write(path: Path, data: bytes, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """An output folder with feeds, pages and everything that must stay private."""
    out = tmp_path / "output"
    _write(out / "news.xml", RSS)
    _write(out / "news.atom", ATOM)
    _write(out / "news.json", JSON)
    _write(out / "news.html", HTML)
    _write(out / "index.html", INDEX)
    _write(out / "robots.txt", b"User-agent: *\n")
    _write(out / "feeds.opml", OPML)
    _write(out / "新闻.xml", RSS)
    _write(out / "subdir" / "inner.xml", ATOM)
    _write(out / ".hidden", b"secret\n")
    _write(out / ".hidden.xml", b"<rss>hidden</rss>\n")
    _write(out / ".git" / "config.txt", b"secret\n")
    _write(out / "data.sqlite", b"not served by suffix\n")
    _write(out / "script.py", b"print('no')\n")
    _write(out / "README.md", b"# output/\n")
    (out / ".feedloom").mkdir()
    db = sqlite3.connect(out / ".feedloom" / "state.sqlite")
    try:
        with db:
            db.execute("CREATE TABLE t (x)")
    finally:
        db.close()
    # Files outside the folder, with served suffixes, that traversal would reach.
    _write(tmp_path / "secret.xml", SECRET)
    _write(tmp_path / "pyproject.toml", b"[project]\n")
    (out / "outside.xml").symlink_to(tmp_path / "secret.xml")
    (out / "outsidedir").symlink_to(tmp_path, target_is_directory=True)
    (out / "latest.xml").symlink_to("news.xml")
    (out / "state.xml").symlink_to(".feedloom/state.sqlite")
    (out / "dir.xml").mkdir()
    os.mkfifo(out / "pipe.xml")
    return out


def _max_age_for(name: str) -> int | None:
    return {"news.xml": 1800, "news.atom": 0}.get(name)


@pytest.fixture
def server(output: Path) -> Iterator[FeedServer]:
    srv = create_server(output, host="127.0.0.1", port=0, threads=4, max_age_for=_max_age_for)
    thread = threading.Thread(target=srv.run, name="test-serve", daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "server thread did not stop"


@pytest.fixture
def session(server: FeedServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _url(server: FeedServer, path: str) -> str:
    return server.url.rstrip("/") + path


def _raw(server: FeedServer, method: str, target: str, headers: dict[str, str] | None = None):
    """Send a request target byte for byte (requests would normalise ``..`` away)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, CaseInsensitiveDict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize(
    ("path", "ctype", "body"),
    [
        ("/news.xml", "application/rss+xml; charset=utf-8", RSS),
        ("/news.atom", "application/atom+xml; charset=utf-8", ATOM),
        ("/news.json", "application/feed+json; charset=utf-8", JSON),
        ("/news.html", "text/html; charset=utf-8", HTML),
        ("/robots.txt", "text/plain; charset=utf-8", b"User-agent: *\n"),
        ("/feeds.opml", "text/x-opml; charset=utf-8", OPML),
        ("/", "text/html; charset=utf-8", INDEX),
        ("/index.html", "text/html; charset=utf-8", INDEX),
        ("/subdir/inner.xml", "application/rss+xml; charset=utf-8", ATOM),
        ("/%E6%96%B0%E9%97%BB.xml", "application/rss+xml; charset=utf-8", RSS),
        ("/latest.xml", "application/rss+xml; charset=utf-8", RSS),
        ("/news.xml?cachebust=123", "application/rss+xml; charset=utf-8", RSS),
    ],
)
def test_serves_files_with_their_types(server, path, ctype, body) -> None:
    status, headers, got = _raw(server, "GET", path)
    assert status == 200
    assert headers["Content-Type"] == ctype
    assert got == body
    assert headers["Content-Length"] == str(len(body))
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in headers


def test_validators_and_cache_control(session, server) -> None:
    r = session.get(_url(server, "/news.xml"), headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert r.headers["Last-Modified"] == "Tue, 02 Jan 2024 03:04:05 GMT"
    assert r.headers["Cache-Control"] == "public, max-age=1800"
    # Same bytes under another name: same strong validator.
    r2 = session.get(_url(server, "/latest.xml"), headers={"Accept-Encoding": "identity"})
    assert r2.headers["ETag"] == etag
    assert session.get(_url(server, "/news.atom")).headers["Cache-Control"] == "public, max-age=0"
    default = session.get(_url(server, "/news.json")).headers["Cache-Control"]
    assert default == f"public, max-age={DEFAULT_MAX_AGE}" == "public, max-age=300"


def test_max_age_for_gets_the_relative_name(output: Path) -> None:
    seen: list[str] = []

    def record(name: str) -> int:
        seen.append(name)
        return 60

    app = make_app(output, max_age_for=record)
    for path in ("/", "/subdir/inner.xml", "/news.xml"):
        _call(app, "GET", path)
    assert seen == ["index.html", "subdir/inner.xml", "news.xml"]


# --------------------------------------------------------------------------- conditional


def test_if_none_match(session, server) -> None:
    url = _url(server, "/news.xml")
    first = session.get(url, headers={"Accept-Encoding": "identity"})
    etag = first.headers["ETag"]
    for inm in (etag, f"W/{etag}", f'"nope", {etag}', f'"nope",W/{etag}', "*"):
        r = session.get(url, headers={"If-None-Match": inm, "Accept-Encoding": "identity"})
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["ETag"] == etag
        assert r.headers["Cache-Control"] == "public, max-age=1800"
        assert r.headers["Vary"] == "Accept-Encoding"
        assert "Content-Length" not in r.headers
    r = session.get(url, headers={"If-None-Match": '"nope"', "Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == RSS


def test_if_modified_since(session, server) -> None:
    url = _url(server, "/news.xml")
    lm = session.get(url).headers["Last-Modified"]
    assert session.get(url, headers={"If-Modified-Since": lm}).status_code == 304
    later = email.utils.formatdate(MTIME + 3600, usegmt=True)
    assert session.get(url, headers={"If-Modified-Since": later}).status_code == 304
    earlier = email.utils.formatdate(MTIME - 1, usegmt=True)
    assert session.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert session.get(url, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match wins over If-Modified-Since, both ways round.
    r = session.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": lm})
    assert r.status_code == 200
    etag = session.get(url, headers={"Accept-Encoding": "identity"}).headers["ETag"]
    r = session.get(
        url,
        headers={
            "If-None-Match": etag,
            "If-Modified-Since": earlier,
            "Accept-Encoding": "identity",
        },
    )
    assert r.status_code == 304


def test_changed_file_gets_a_new_etag(session, server, output: Path) -> None:
    url = _url(server, "/news.xml")
    old = session.get(url, headers={"Accept-Encoding": "identity"}).headers["ETag"]
    # Same size and same mtime, published atomically as output.py does: only the inode
    # tells the versions apart without reading the file.
    changed = RSS.replace("第一条".encode(), "第二条".encode())
    assert len(changed) == len(RSS)
    _write(output / "news.tmp", changed)
    os.replace(output / "news.tmp", output / "news.xml")
    r = session.get(url, headers={"If-None-Match": old, "Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == changed
    assert r.headers["ETag"] != old
    again = session.get(
        url, headers={"If-None-Match": r.headers["ETag"], "Accept-Encoding": "identity"}
    )
    assert again.status_code == 304


def test_touched_file_fails_if_modified_since(session, server, output: Path) -> None:
    url = _url(server, "/news.xml")
    lm = session.get(url).headers["Last-Modified"]
    _write(output / "news.xml", RSS + b"\n", mtime=MTIME + 60)
    r = session.get(url, headers={"If-Modified-Since": lm})
    assert r.status_code == 200
    assert r.headers["Last-Modified"] == email.utils.formatdate(MTIME + 60, usegmt=True)


# --------------------------------------------------------------------------- gzip


def test_gzip_variant(server) -> None:
    _, plain, _ = _raw(server, "GET", "/news.xml")
    status, headers, body = _raw(server, "GET", "/news.xml", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert headers["Content-Length"] == str(len(body))
    assert gzip.decompress(body) == RSS
    assert headers["ETag"] != plain["ETag"]
    assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"')
    # Deterministic: the same bytes and validator every time.
    _, headers2, body2 = _raw(server, "GET", "/news.xml", {"Accept-Encoding": "gzip, deflate"})
    assert (headers2["ETag"], body2) == (headers["ETag"], body)
    # Each variant revalidates with its own validator only.
    gz = {"Accept-Encoding": "gzip"}
    assert _raw(server, "GET", "/news.xml", {**gz, "If-None-Match": headers["ETag"]})[0] == 304
    assert _raw(server, "GET", "/news.xml", {**gz, "If-None-Match": plain["ETag"]})[0] == 200
    assert _raw(server, "GET", "/news.xml", {"If-None-Match": headers["ETag"]})[0] == 200


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip;q=0.5", True),
        ("br, *", True),
        ("gzip, deflate, br", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=0, identity", False),
        ("*;q=0, identity", False),
        ("gzip;q=0.5, identity;q=1", False),
        ("br", False),
        ("", False),
        (None, False),
    ],
)
def test_accept_encoding_negotiation(server, accept, gzipped) -> None:
    headers = {} if accept is None else {"Accept-Encoding": accept}
    status, got, body = _raw(server, "GET", "/news.json", headers)
    assert status == 200
    assert ("Content-Encoding" in got) is gzipped
    assert (gzip.decompress(body) if gzipped else body) == JSON
    assert got["Vary"] == "Accept-Encoding"


def test_gzip_is_compressed_once_per_version(server, output: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = serve_mod._compress

    def counting(body: bytes) -> bytes:
        calls.append(len(body))
        return real(body)

    monkeypatch.setattr(serve_mod, "_compress", counting)
    for _ in range(5):
        assert _raw(server, "GET", "/news.atom", {"Accept-Encoding": "gzip"})[0] == 200
    assert calls == [len(ATOM)]
    _write(output / "news.atom", ATOM + b" ", mtime=MTIME + 1)
    for _ in range(3):
        _, _, body = _raw(server, "GET", "/news.atom", {"Accept-Encoding": "gzip"})
        assert gzip.decompress(body) == ATOM + b" "
    assert calls == [len(ATOM), len(ATOM) + 1]


# --------------------------------------------------------------------------- methods


def test_head_has_headers_but_no_body(server) -> None:
    for extra in ({}, {"Accept-Encoding": "gzip"}):
        _, get_headers, _ = _raw(server, "GET", "/news.xml", extra)
        # A raw socket, so a body sent by mistake cannot hide behind http.client.
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            lines = ["HEAD /news.xml HTTP/1.1", "Host: x", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in extra.items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert rest == b""
        assert head.startswith(b"HTTP/1.1 200 ")
        head_headers = CaseInsensitiveDict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:]
        )
        for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Vary"):
            assert head_headers[name] == get_headers[name], name
        assert head_headers.get("Content-Encoding") == get_headers.get("Content-Encoding")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(session, server, method) -> None:
    r = session.request(method, _url(server, "/news.xml"), data=b"x")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert r.headers["Content-Length"] == str(len(r.content))


# --------------------------------------------------------------------------- security


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.xml",
        "/../pyproject.toml",
        "/%2e%2e/secret.xml",
        "/%2E%2E/secret.xml",
        "/%2e%2e%2fsecret.xml",
        "/subdir/../../secret.xml",
        "/subdir/%2e%2e/%2e%2e/secret.xml",
        "/..%5csecret.xml",
        "/..\\secret.xml",
        "/subdir%5c..%5c..%5csecret.xml",
        "//secret.xml",
        "/subdir//inner.xml",
        "/./news.xml",
        "/subdir/../news.xml",
        "/news.xml%00.html",
        "/news.xml%00",
        "/outside.xml",
        "/outsidedir/secret.xml",
        "/state.xml",
        "/.feedloom/state.sqlite",
        "/.feedloom/",
        "/.feedloom",
        "/%2efeedloom/state.sqlite",
        "/.hidden",
        "/.hidden.xml",
        "/.git/config.txt",
        "/subdir/",
        "/subdir",
        "/dir.xml",
        "/pipe.xml",
        "/data.sqlite",
        "/script.py",
        "/README.md",
        "/missing.xml",
        "/%ff.xml",
        "/" + "a" * 5000 + ".xml",
    ],
)
def test_refused_paths_are_404(server, target) -> None:
    status, headers, body = _raw(server, "GET", target)
    assert status == 404, target
    assert body == b"Not Found\n"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Cache-Control"] == "no-cache"


def test_absolute_path_to_the_secret_is_404(server, tmp_path: Path) -> None:
    assert _raw(server, "GET", str(tmp_path / "secret.xml"))[0] == 404
    assert _raw(server, "GET", "/" + str(tmp_path / "secret.xml"))[0] == 404


def test_symlink_inside_the_folder_is_served_outside_is_not(server, output: Path) -> None:
    # The fixture's own guard: the secret is readable, so only the server refuses it.
    assert (output / "outside.xml").read_bytes() == SECRET
    assert _raw(server, "GET", "/latest.xml")[2] == RSS
    assert _raw(server, "GET", "/outside.xml")[0] == 404


def test_no_index_html_means_404_at_root(server, output: Path) -> None:
    (output / "index.html").unlink()
    assert _raw(server, "GET", "/")[0] == 404


def test_errors_never_reach_the_client(output: Path, caplog) -> None:
    def broken(name: str) -> int:
        raise RuntimeError("boom in max_age_for")

    app = make_app(output, max_age_for=broken)
    with caplog.at_level(logging.INFO, logger="feedloom.serve"):
        status, headers, body = _call(app, "GET", "/news.xml")
    assert status == "500 Internal Server Error"
    assert b"boom" not in body and b"Traceback" not in body
    assert dict(headers)["Content-Length"] == str(len(body))
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_missing_output_folder_serves_404_until_built(tmp_path: Path) -> None:
    app = make_app(tmp_path / "not-yet")
    assert _call(app, "GET", "/news.xml")[0] == "404 Not Found"
    _write(tmp_path / "not-yet" / "news.xml", RSS)
    assert _call(app, "GET", "/news.xml")[0] == "200 OK"


def test_output_path_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    _write(tmp_path / "file", b"x")
    with pytest.raises(ConfigError, match="not a folder"):
        create_server(tmp_path / "file", port=0)


def test_port_in_use_is_a_config_error(server, output: Path) -> None:
    with pytest.raises(ConfigError, match=f"127.0.0.1:{server.port}"):
        create_server(output, host="127.0.0.1", port=server.port)


# --------------------------------------------------------------------------- logging


def test_one_access_log_line_per_request(server, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="feedloom.serve"):
        _raw(server, "GET", "/news.xml", {"User-Agent": 'Reader/1.0 "x"'})
        _raw(server, "GET", "/%0a.xml")
        # The log line is written before the response, so it is there by now.
    lines = [r.getMessage() for r in caplog.records if r.name == "feedloom.serve"]
    assert len(lines) == 2
    assert lines[0].startswith('127.0.0.1 "GET /news.xml" 200 ')
    assert '"Reader/1.0 \\x22x\\x22"' in lines[0]
    assert f" {len(RSS)} " in lines[0]
    assert "\n" not in lines[1] and " 404 " in lines[1]


# --------------------------------------------------------------------------- load


def test_bounded_concurrent_polling(server) -> None:
    """200 requests from 20 threads: every one answered 200 with the right bytes or 304."""
    paths = ["/news.xml", "/news.atom", "/news.json", "/", "/news.html"]
    expected = {"/news.xml": RSS, "/news.atom": ATOM, "/news.json": JSON, "/": INDEX}
    expected["/news.html"] = HTML

    def poll(worker: int) -> list[int]:
        statuses = []
        etags: dict[str, str] = {}
        with requests.Session() as session:
            for i in range(10):
                path = paths[(worker + i) % len(paths)]
                headers = {"Accept-Encoding": "gzip" if worker % 2 else "identity"}
                if path in etags:
                    headers["If-None-Match"] = etags[path]
                r = session.get(_url(server, path), headers=headers, timeout=20)
                if r.status_code == 200:
                    assert r.content == expected[path]
                    etags[path] = r.headers["ETag"]
                statuses.append(r.status_code)
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = [s for batch in pool.map(poll, range(20)) for s in batch]
    assert len(results) == 200
    assert set(results) <= {200, 304}
    assert 304 in results
    assert time.monotonic() - started < 30


# --------------------------------------------------------------------------- serve()


SERVE_SCRIPT = """
import logging, sys
from pathlib import Path
from feedloom.serve import serve
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
serve(Path(sys.argv[1]), port=0, on_ready=lambda h, p: print(h, p, flush=True))
print("returned", flush=True)
"""


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_on_signal(output: Path, signum: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-X", "dev", "-c", SERVE_SCRIPT, str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        host, port = proc.stdout.readline().split()
        assert host == "127.0.0.1"
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("GET", "/news.xml")
            assert conn.getresponse().read() == RSS
        finally:
            conn.close()
        proc.send_signal(getattr(__import__("signal"), signum))
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == "returned\n"
    # -X dev turns on ResourceWarning: nothing may be left unclosed.
    assert "ResourceWarning" not in err and "Traceback" not in err, err
    assert f"received {signum}, stopping" in err


def test_stop_before_run_and_twice(output: Path) -> None:
    srv = create_server(output, port=0)
    srv.stop()
    srv.run()  # returns at once, having closed everything
    srv.stop()
    srv.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()


# --------------------------------------------------------------------------- helpers


def _call(app, method: str, path: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call the WSGI app directly, for cases that need no socket."""
    captured: dict[str, object] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    return captured["status"], captured["headers"], body  # type: ignore[return-value]
