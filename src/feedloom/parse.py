"""Parse external feeds (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed 1.0/1.1) into the model.

Bytes in, :class:`ParsedFeed` out; no I/O except :func:`parse_file` reading its file.

* XML has two readers. Well-formed RSS 2.0, RSS 1.0 and Atom 1.0 (nearly every real
  feed) are read with lxml by :mod:`feedloom.fastparse`; anything else, or anything it
  is unsure of, by feedparser, always as bytes plus headers (a string argument could
  make feedparser open a URL or a file). fastparse reads each element as feedparser
  does, and both fill the same records (:class:`RawFeed`, :class:`RawEntry`), so every
  rule below is applied once, whichever reader ran (:attr:`ParsedFeed.parser` says
  which). feedparser's HTML sanitiser is off: content is sanitised by
  :func:`feedloom.sanitize.sanitize_html` (nh3), which is stricter and much faster.
* We decode the bytes ourselves and hand the readers UTF-8, so that GB2312/GBK are read
  as GB18030, a per-source encoding override wins, and a missing ``Content-Type`` does
  not make feedparser fall back to ISO-8859-1.
* JSON Feed is parsed here (feedparser does not read it).

Policy, in short:

* A malformed feed that still yields entries is used, with a warning; one that yields
  nothing (and is not a well-formed empty feed) is a :class:`~feedloom.errors.ParseError`.
* A bad entry is skipped with a warning; so is a blank one (no id, title, link or
  content: the debris of a truncated document). If every entry fails, ParseError.
* Of several entries with the same id the first is kept, with a warning.
* Entry id: guid/id, else the link, else ``urn:sha256:`` of title and content. A
  guid/id that is not an absolute IRI ("12345") becomes a ``tag:`` URI scoped by the
  feed (see :meth:`_Context.entry_id`), so it is a valid Atom id and unique across
  feeds.
* Titles are always plain text (tags stripped, entities decoded), whatever the feed
  says their type is; summaries are plain text cut to :data:`SUMMARY_LIMIT`; content
  is sanitised HTML with absolute URLs.
* Dates are aware UTC. A date without offset is in the source's timezone; a date more
  than :data:`FUTURE_TOLERANCE` ahead of ``now`` is dropped with a warning.

Every error raised on purpose is a ``ParseError``; anything else is a bug.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import email.utils
import hashlib
import html
import io
import json
import re
import xml.sax
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import feedparser

from feedloom.errors import ParseError
from feedloom.model import Author, Enclosure, Entry, FeedMeta, SourceRef, utc
from feedloom.sanitize import (
    collapse_ws,
    html_to_text,
    sanitize_and_text,
    sanitize_html,
    truncate_text,
)
from feedloom.textutil import clean_text

__all__ = ["ParsedFeed", "parse_bytes", "parse_file"]

SUMMARY_LIMIT = 300
"""Maximum length, in characters, of an entry's plain-text summary."""

# Dates further ahead than this are clock or time-zone mistakes, not scheduled posts;
# the caller replaces them with the first-seen time.
FUTURE_TOLERANCE = timedelta(days=1)

_EXPECTED = "expected an RSS, Atom or JSON feed"


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One external feed, read into the model.

    Attributes:
        meta: the feed's metadata; ``id`` is its Atom id (or JSON ``feed_url``), else the URL.
        entries: the entries, in document order, ids unique.
        format: ``rss20``, ``rss10``, ``rss090``, ``rss091u``, ``atom10``, ``atom03``,
            ``json10``, ``json11``... (feedparser's version names for XML).
        warnings: problems that did not stop parsing, for a person to read.
        ttl: minutes the feed may be cached (RSS ``<ttl>``).
        update_period: seconds between updates the publisher announces
            (``sy:updatePeriod`` / ``sy:updateFrequency``).
        parser: which reader read it: ``lxml`` (the fast path for well-formed RSS 2.0,
            RSS 1.0 and Atom 1.0), ``feedparser`` (anything else) or ``json``.
    """

    meta: FeedMeta
    entries: tuple[Entry, ...]
    format: str
    warnings: tuple[str, ...] = ()
    ttl: int | None = None
    update_period: float | None = None
    parser: str = "feedparser"


def parse_file(path: Path, **kwargs: Any) -> ParsedFeed:
    """Parse the feed stored in ``path``; see :func:`parse_bytes` for the options.

    ``url`` defaults to the file's ``file://`` URI.

    Raises:
        ParseError: if the file cannot be read or holds no usable feed.
    """
    path = Path(path)
    kwargs.setdefault("url", path.resolve().as_uri())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError("cannot read the feed file", path=str(path)) from exc
    return parse_bytes(data, **kwargs)


def parse_bytes(
    data: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    encoding: str | None = None,
    timezone: tzinfo = UTC,
    now: datetime | None = None,
    source_name: str | None = None,
    _parser: str | None = None,
) -> ParsedFeed:
    """Parse a feed document.

    Args:
        data: the document, as received.
        url: where it came from; the base for relative links and the feed id of last resort.
        headers: HTTP response headers (``Content-Type`` charset and JSON detection,
            ``Content-Language``); names are case-insensitive.
        encoding: the source's configured encoding; wins over the BOM, headers and
            the XML declaration.
        timezone: the zone of dates written without an offset, and the meaning of a
            zone abbreviation that matches it (``CST`` in ``Asia/Shanghai`` is +08:00).
        now: the current time (aware); dates more than a day after it are dropped.
        source_name: the name to credit entries to instead of the feed's own title.
        _parser: private, for tests and benchmarks: ``"lxml"`` or ``"feedparser"`` forces
            that XML reader (``"lxml"`` raises ParseError where it would fall back).

    Raises:
        ParseError: if ``data`` is not a feed, or no entry could be read.
    """
    ctx = _Context(url=url, tz=timezone, now=utc(now) or datetime.now(UTC))
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    mime, charset = _content_type(hdrs.get("content-type", ""))
    if not data or data.isspace():
        raise ParseError(f"{_EXPECTED}; got an empty document", url=url)

    text = _decode(bytes(data), ctx, override=encoding, http_charset=charset)
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")) or ("json" in mime and not text.startswith("<")):
        return _parse_json(text, ctx, source_name)
    if _HTML_START.match(text[:4096]):
        raise ParseError(f"{_EXPECTED}; got HTML", url=url)
    _refuse_entity_tricks(text, url)
    return _parse_xml(text, ctx, hdrs, source_name, _parser)


# A DOCTYPE in the prolog, with its internal subset if any. The subset can hold '>'
# inside entity values, so it is matched up to the "]>" that closes it.
_DOCTYPE = re.compile(r"<!DOCTYPE\b(?P<head>[^\[>]*)(?:\[(?P<subset>.*?)\]\s*)?>", re.DOTALL)
_ENTITY_REF = re.compile(r"&([A-Za-z_][\w.-]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


def _refuse_entity_tricks(text: str, url: str) -> None:
    """Refuse documents that declare entities, or use ones only an external DTD defines.

    No parser of ours expands or fetches anything, but the forgiving fallback parser
    expands internally declared entities at every reference (quadratic blowup: a 16 KB
    document became 20 MB in every output) and recovers undefined ones as literal
    text. Real feeds never need either; a plain DOCTYPE (RSS 0.91's Netscape one) is
    fine, and so are the HTML entity names that such feeds do use.
    """
    root = re.search(r"<[A-Za-z_]", text)
    prolog = text[: root.start()] if root else text
    match = _DOCTYPE.search(prolog)
    if match is None:
        return
    if match.group("subset") is not None and "<!ENTITY" in match.group("subset"):
        raise ParseError(
            "refused: the document declares XML entities in its DOCTYPE "
            "(an entity-expansion or external-entity attack, or a broken feed)",
            url=url,
        )
    import html.entities

    for name in _ENTITY_REF.findall(text, match.end()):
        if name not in _XML_ENTITIES and name not in html.entities.name2codepoint:
            raise ParseError(
                f"refused: the document uses the entity &{name}; from an external DTD, "
                "which feedloom never loads",
                url=url,
            )


# --- context shared by the converters ------------------------------------------------


@dataclass(slots=True)
class _Context:
    url: str
    tz: tzinfo
    now: datetime
    warnings: list[str] = field(default_factory=list)
    # Base for relative links: the document URL when it is a web URL; for files, the
    # feed's own site link (set once known), since file:// links are useless to publish.
    link_base: str = ""
    # What scopes entry ids that are not IRIs (see _entry_id); set with the feed's meta.
    id_scope: str = ""
    # Dates after this are dropped: now + FUTURE_TOLERANCE, added up once.
    latest: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.link_base = self.url
        self.id_scope = self.url
        self.latest = self.now + FUTURE_TOLERANCE

    def set_id_scope(self, declared_id: str | None, self_url: str | None, site: str | None) -> None:
        """Choose what makes this feed's non-IRI entry ids unique among all feeds.

        The feed's own name for itself comes first, an absolute IRI id (Atom ``id``) or
        its rel="self" / ``feed_url``: those survive a move to another URL. Without
        either, the URL it was read from; a feed that moves without declaring one
        therefore gets new entry ids. A local file is scoped by the site link rather than
        its path, so the same file gives the same ids on every machine.
        """
        if declared_id and _is_absolute_iri(declared_id):
            self.id_scope = declared_id
        elif self_url:
            self.id_scope = self_url
        elif not _is_web_url(self.url) and site:
            self.id_scope = site
        elif not _is_web_url(self.url):
            # Neither: the file's name, never its folder, which differs per checkout.
            self.id_scope = "file:" + self.url.rstrip("/").rpartition("/")[2]

    def entry_id(self, raw_id: str) -> str:
        """The entry id for a guid/id as written: kept if an absolute IRI, else a tag URI.

        Atom requires ids to be IRIs, and a bare guid ("12345") is only unique within
        its own feed, so two feeds merged together would collide on it. Mapping it to
        ``tag:`` (RFC 4151) under a hash of :attr:`id_scope` fixes both; the mapping is
        deterministic and one-to-one, so duplicates within a feed stay duplicates.
        """
        if _is_absolute_iri(raw_id):
            return raw_id
        scope = hashlib.sha256(self.id_scope.encode("utf-8", "replace")).hexdigest()[:12]
        return f"{_GUID_TAG}/{scope}/{quote(raw_id, safe='')}"

    def link_id(self, link: str | None, raw_link: str | None) -> str | None:
        """An entry id from its link, for entries without a guid.

        A web link is the id. A link that resolved against a local file (``file:``)
        would publish this machine's paths as ids and differ per checkout, so the link
        as written is scoped like a bare guid instead.
        """
        if link and _is_web_url(link):
            return link
        written = (raw_link or "").strip()
        if written:
            return self.entry_id(written)
        return link or None

    @property
    def url_scheme(self) -> str:
        # Links relative to a file:// document are kept as file:// links.
        return self.url.partition(":")[0].lower() + ":" if ":" in self.url else "http:"

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def page_link(self, link: object) -> str | None:
        """An entry's link made absolute, if it can be opened in a browser.

        feedparser copies a non-URL Atom id ("urn:...", "tag:...") into the link when
        there is none; such a value is an identifier, not a page.
        """
        absolute = _absolute(link, self.link_base)
        if absolute is None or _is_web_url(absolute) or absolute.startswith(self.url_scheme):
            return absolute
        return None

    def date(self, raw: object, parsed: Any, label: str, name: str) -> datetime | None:
        """Read one date; ``parsed`` is feedparser's UTC struct_time, used as a fallback."""
        value = _parse_date(raw if isinstance(raw, str) else None, parsed, self.tz)
        if value is not None and value > self.latest:
            self.warn(f"{label} {name} {raw!r} is more than a day in the future; ignored")
            return None
        return value


# RFC 4151 tag URI prefix for entry ids that are not IRIs (see _Context.entry_id).
_GUID_TAG = "tag:feedloom.github.io,2024:guid"
# RFC 3986 scheme, then ':' and at least one character.
_IRI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:.")
# Characters no IRI may contain (RFC 3987): whitespace, controls, and <>"{}|\^`.
_NOT_IRI = re.compile(r'[\s\x00-\x1f\x7f<>"{}|\\^`]')


def _is_absolute_iri(value: str) -> bool:
    return _IRI_SCHEME.match(value) is not None and _NOT_IRI.search(value) is None


def _is_web_url(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


def _absolute(link: object, base: str) -> str | None:
    """``link`` made absolute against ``base``; None if empty or unparseable."""
    if not isinstance(link, str):
        return None
    link = link.strip()
    if not link:
        return None
    # Most links are plain absolute web URLs; for those urlsplit (a third of the cost of
    # an entry's links) would find the scheme and raise nothing: only brackets (IPv6
    # hosts) and non-ASCII hosts can make it raise.
    if (
        link.startswith(("https://", "http://"))
        and link.isascii()
        and "[" not in link
        and "]" not in link
    ):
        return link
    try:
        if urlsplit(link).scheme:
            return link
        return urljoin(base, link) if base else link
    except ValueError:  # e.g. "http://[broken"
        return None


# --- decoding ------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# "<?" in UTF-16 without a BOM: valid UTF-8 too, so it must be caught before trying UTF-8.
_UTF16_NO_BOM = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_XML_DECL_ENCODING = re.compile(
    rb"\A\s*(?:<!--.*?-->\s*)*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']",
    re.DOTALL,
)
# Declared encodings read as a superset: GB18030 contains GB2312 and GBK (real feeds
# labelled gb2312 use GBK characters), Big5-HKSCS contains Big5, and windows-1252 is
# what "ISO-8859-1" means on the web (WHATWG Encoding Standard).
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "iso8859_1": "cp1252"}
# Codecs Python has that no feed is written in; some "decode" anything into nonsense.
_NOT_DOCUMENT_ENCODINGS = frozenset(
    {"idna", "punycode", "unicode_escape", "raw_unicode_escape", "undefined", "utf_7", "mbcs"}
)
# Single-byte Latin guesses from charset-normalizer are unreliable on short feeds
# (Portuguese comes out as cp1257); windows-1252 is the better bet for those.
_LATIN_GUESSES = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "iso8859_1", "iso8859_2", "iso8859_9",
     "iso8859_13", "iso8859_15", "mac_roman", "mac_latin2", "cp850", "cp437"}
)  # fmt: skip


def _codec(name: str) -> str | None:
    """Python's codec for a declared encoding name (via the superset table), or None."""
    try:
        info = codecs.lookup(name.strip())
    except LookupError:
        return None
    canonical = codecs.lookup(info.name).name.replace("-", "_")
    if canonical in _NOT_DOCUMENT_ENCODINGS or not getattr(info, "_is_text_encoding", True):
        return None
    return _SUPERSETS.get(canonical, info.name)


def _content_type(value: str) -> tuple[str, str]:
    mime, _, params = value.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'")
    return mime.strip().lower(), charset


def _decode(data: bytes, ctx: _Context, *, override: str | None, http_charset: str) -> str:
    """Decode the document, trying each plausible encoding strictly, in order of authority."""
    if override:
        codec = _codec(override)
        if codec is None:
            raise ParseError(f"the configured encoding {override!r} is not known", url=ctx.url)
        try:
            return data.decode(codec)
        except UnicodeError:
            ctx.warn(f"the document is not valid {override}; undecodable bytes replaced")
            return data.decode(codec, errors="replace")

    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeError:
                ctx.warn(f"the document has a {codec} byte order mark but is not valid {codec}")
                return data.decode(codec, errors="replace")
    for marker, codec in _UTF16_NO_BOM:
        if data.startswith(marker):
            return data.decode(codec, errors="replace")

    declared: list[tuple[str, str]] = []
    if http_charset:
        declared.append((http_charset, "the Content-Type header"))
    match = _XML_DECL_ENCODING.match(data, 0, 1024)
    if match:
        declared.append((match.group(1).decode("ascii"), "the XML declaration"))

    tried: set[str] = set()
    for name, where in declared:
        codec = _codec(name)
        if codec is None:
            ctx.warn(f"unknown encoding {name!r} in {where}; ignored")
            continue
        if codec in tried:
            continue
        if codec.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
            # Real UTF-16/32 starts with a BOM or "<" as two bytes, handled above; this
            # is an ASCII-compatible document mislabelled, which UTF-16 would garble.
            ctx.warn(f"ignored {name!r} in {where}: the document is not {name}")
            continue
        tried.add(codec)
        try:
            return data.decode(codec)
        except UnicodeError:
            ctx.warn(f"the document is not valid {name} as declared in {where}")
    if "utf-8" not in tried:
        try:
            return data.decode("utf-8")
        except UnicodeError:
            pass
    guess = _guess_encoding(data)
    if guess is not None:
        try:
            text = data.decode(guess)
        except UnicodeError:
            pass
        else:
            if declared:  # otherwise an undeclared encoding is normal enough to go unremarked
                ctx.warn(f"decoded as {guess} (detected)")
            return text
    ctx.warn("the document's encoding could not be determined; read as windows-1252")
    return data.decode("cp1252", errors="replace")


def _guess_encoding(data: bytes) -> str | None:
    # Imported here: only needed for the rare feed that is neither declared nor UTF-8.
    import charset_normalizer

    best = charset_normalizer.from_bytes(data[:65536]).best()
    if best is None:
        return None
    codec = _codec(best.encoding)
    if codec is None or codec.replace("-", "_") in _LATIN_GUESSES:
        try:
            data.decode("cp1252")
        except UnicodeError:
            return codec
        return "cp1252"
    return codec


# --- XML: the two readers --------------------------------------------------------------
#
# Two readers turn an XML document into RawFeed + RawEntry records: feedloom.fastparse
# (lxml, for well-formed RSS 2.0 / RSS 1.0 / Atom 1.0) and feedparser (everything else).
# Both record what the document says, with feedparser's reading of it; every rule that
# turns that into the model (ids, links, dates, text, sanitising) is applied once, by
# _feed_meta and _entry below, whichever reader ran.

_XML_DECL = re.compile(r"\A((?:<!--.*?-->\s*)*)<\?xml[^>]*\?>", re.DOTALL)
_HTML_START = re.compile(
    r"(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)")


@dataclass(slots=True)
class RawFeed:
    """Feed-level values as a reader found them (internal: shared by both XML readers).

    Strings are as written, with XML entities decoded; links may be relative.
    """

    version: str
    title: str = ""
    link: str | None = None
    id: str = ""
    subtitle: str = ""
    language: str = ""
    rights: str = ""
    # Each a mapping with "name", "email", "href" (feedparser's shape).
    authors: list[Mapping[str, Any]] = field(default_factory=list)
    author_text: str | None = None  # the last RSS author element, as written
    ttl: str | None = None
    icon: str | None = None
    logo: str | None = None
    self_link: str | None = None
    sy_period: str | None = None
    sy_frequency: str | None = None


@dataclass(slots=True)
class RawEntry:
    """One entry's values as a reader found them (internal: shared by both XML readers).

    ``title`` and ``summary`` are HTML or text (both are reduced to text); ``contents``
    are (MIME type, value, xml:base) in document order. Bases are the xml:base in
    effect, absolute or relative; links are relative to ``base`` or already absolute.
    """

    id: str = ""
    title: str = ""
    link: str | None = None
    base: str | None = None
    summary: str = ""
    summary_base: str | None = None
    contents: list[tuple[str, str, str | None]] = field(default_factory=list)
    published: str | None = None
    published_parsed: Any = None
    updated: str | None = None
    updated_parsed: Any = None
    authors: list[Mapping[str, Any]] = field(default_factory=list)
    author_text: str | None = None
    categories: list[str] = field(default_factory=list)
    # (url, type, length) as written.
    enclosures: list[tuple[object, object, object]] = field(default_factory=list)


def _parse_xml(
    text: str,
    ctx: _Context,
    hdrs: Mapping[str, str],
    source_name: str | None,
    parser: str | None,
) -> ParsedFeed:
    # The declaration may sit after comments (not well-formed) or name the original
    # encoding; replace it with one that matches the UTF-8 we hand over. Illegal control
    # characters would stop the strict parser and force feedparser's slow loose one.
    body = _XML_DECL.sub(r"\1", text[:4096], count=1) + text[4096:]
    language = hdrs.get("content-language") or None
    if parser != "feedparser":
        # Imported here: fastparse imports the record types above from this module.
        from feedloom import fastparse

        # Read first, clean after: libxml2 refuses every character XML 1.0 forbids
        # (tests/test_fastparse.py checks it), so a document it reads had none to
        # remove, and the pass of clean_text over the whole document (4% of the parse
        # time) is only needed when it declines. (A string with surrogates cannot be
        # encoded, is declined, and is cleaned and read again like the others.)
        try:
            read = fastparse.read(_utf8_document(body, "strict"), language=language)
        except (fastparse.Unsupported, UnicodeEncodeError) as exc:
            declined: Exception = exc
        else:
            return _build(*read, ctx, source_name, lambda raw: raw, "lxml")

    cleaned = clean_text(body)
    if len(cleaned) != len(body):
        ctx.warn(f"removed {len(body) - len(cleaned)} character(s) not allowed in XML")
    document = _utf8_document(cleaned, "replace")
    if parser != "feedparser":
        if len(cleaned) != len(body):
            try:
                read = fastparse.read(document, language=language)
            except fastparse.Unsupported as exc:
                declined = exc
            else:
                return _build(*read, ctx, source_name, lambda raw: raw, "lxml")
        if parser == "lxml":
            raise ParseError(
                f"the lxml reader declined the document ({declined})", url=ctx.url
            ) from declined
    return _parse_feedparser(document, cleaned, ctx, language, source_name)


def _utf8_document(body: str, errors: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8", errors)


def _build(
    raw_feed: RawFeed,
    raw_entries: Iterable[Any],
    ctx: _Context,
    source_name: str | None,
    read_entry: Callable[[Any], RawEntry],
    parser: str,
) -> ParsedFeed:
    meta, source = _feed_meta(raw_feed, ctx, source_name)
    entries = _collect(raw_entries, ctx, lambda raw: _entry(read_entry(raw), ctx, source))
    return ParsedFeed(
        meta=meta.evolve(updated=_newest(entries)),
        entries=entries,
        format=raw_feed.version or "unknown",
        warnings=tuple(ctx.warnings),
        ttl=meta.ttl,
        update_period=_update_period(raw_feed.sy_period, raw_feed.sy_frequency),
        parser=parser,
    )


def _feed_meta(raw: RawFeed, ctx: _Context, source_name: str | None) -> tuple[FeedMeta, SourceRef]:
    link = _absolute(raw.link, ctx.url)
    if link is not None and not _is_web_url(link):
        link = None  # Google Alerts puts its tag: id here; a site link must be a web page
    if not _is_web_url(ctx.url) and link is not None:
        ctx.link_base = link
    title = html_to_text(raw.title)
    kind = "atom" if raw.version.startswith("atom") else "rss"
    meta = FeedMeta(
        id=raw.id.strip() or ctx.url,
        title=title or source_name or _host(ctx.url),
        link=link or ctx.url,
        description=html_to_text(raw.subtitle),
        language=raw.language.strip(),
        rights=html_to_text(raw.rights) or None,
        authors=_xml_authors(raw.authors, raw.author_text),
        ttl=_positive_int(raw.ttl),
        icon=_absolute(raw.icon, ctx.link_base),
        logo=_absolute(raw.logo, ctx.link_base),
        self_urls=_self_urls(kind, raw.self_link, ctx.url),
    )
    ctx.set_id_scope(raw.id.strip(), meta.self_urls.get(kind), link)
    source = SourceRef(id=meta.id, title=source_name or title or None, url=ctx.url, link=link)
    return meta, source


def _entry(raw: RawEntry, ctx: _Context, source: SourceRef) -> Entry:
    base = _absolute(raw.base, ctx.link_base) or ctx.link_base
    title = html_to_text(raw.title)
    link = ctx.page_link(_absolute(raw.link, base))
    summary_html = raw.summary
    content_html, content_base = _pick_content(raw.contents)
    if not content_html and summary_html:
        content_html, content_base = summary_html, raw.summary_base
    raw_id = raw.id.strip()
    if not (raw_id or title or link or content_html or raw.enclosures):
        raise _BadEntry(_EMPTY_ENTRY)
    entry_id = (
        (raw_id and ctx.entry_id(raw_id))
        or ctx.link_id(link, raw.link)
        or _hash_id(title, content_html)
    )
    label = f"entry {entry_id}:"
    # The element's xml:base is the base for its relative URLs.
    content_url = _absolute(content_base, base) or base
    summary_html = summary_html or content_html
    if summary_html == content_html and len(content_html) <= _SUMMARY_HTML_PREFIX:
        # The summary is the body's own text: one parse gives both (see sanitize_and_text).
        content, text = sanitize_and_text(content_html, base_url=content_url)
        summary = truncate_text(text, SUMMARY_LIMIT) or None
    else:
        content = sanitize_html(content_html, base_url=content_url)
        summary = _summary(summary_html)
    return Entry(
        id=entry_id,
        title=title,
        link=link,
        summary=summary,
        content=content or None,
        published=ctx.date(raw.published, raw.published_parsed, label, "published"),
        updated=ctx.date(raw.updated, raw.updated_parsed, label, "updated"),
        authors=_xml_authors(raw.authors, raw.author_text),
        categories=_dedupe(collapse_ws(term) for term in raw.categories),
        source=source,
        enclosures=tuple(
            enc
            for url, mime, length in raw.enclosures
            if (enc := _enclosure(url, mime, length, base)) is not None
        ),
    )


# How much of an HTML body is turned into text for a summary when the body is long.
_SUMMARY_HTML_PREFIX = 8192


def _summary(html_text: str) -> str | None:
    """The plain-text summary of an HTML summary or body.

    Turning a 50 KB body into text to keep 300 characters of it cost a fifth of the
    parse time. A prefix of the HTML gives the same first characters of text, the cut
    only affecting the last few; so a prefix is used when it yields well over the limit.
    """
    if len(html_text) > _SUMMARY_HTML_PREFIX:
        text = html_to_text(html_text[:_SUMMARY_HTML_PREFIX])
        if len(text) > 2 * SUMMARY_LIMIT:
            return truncate_text(text, SUMMARY_LIMIT)
    return truncate_text(html_to_text(html_text), SUMMARY_LIMIT) or None


def _pick_content(contents: Iterable[tuple[str, str, str | None]]) -> tuple[str, str | None]:
    """The full body as HTML, and its xml:base: HTML/XHTML content first, else text content."""
    contents = list(contents)
    for mime, value, base in contents:
        if "html" in mime and value:
            return value, base
    for _mime, value, base in contents:
        if value:
            return html.escape(value, quote=False), base
    return "", None


# RSS <author>: "email (Name)".
_RSS_AUTHOR = re.compile(r"\s*([^\s@()]+@[^\s()]+)\s*\(([^()]+)\)\s*\Z")
# feedparser's reading of an RSS author string ("jo@x.org (Jo)", "Jo <jo@x.org>").
_FP_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)


def split_author(text: str) -> dict[str, str]:
    """Name and e-mail of a person written as one string, as feedparser reads it.

    Internal, for fastparse: both readers must agree on every author.
    """
    name, email = text, None
    match = _FP_EMAIL.search(text) if "@" in text else None  # most are names only
    if match:
        email = match.group(0)
        name = name.replace(email, "").replace("()", "").replace("<>", "")
        name = name.replace("&lt;&gt;", "").strip()
        if name.startswith("("):
            name = name[1:]
        if name.endswith(")"):
            name = name[:-1]
        name = name.strip()
    detail = {}
    if name:
        detail["name"] = name
    if email:
        detail["email"] = email
    return detail


def _xml_authors(raw: Iterable[Mapping[str, Any]], text: str | None) -> tuple[Author, ...]:
    authors = _authors(raw)
    # feedparser's e-mail pattern allows top-level domains of 2-4 letters only, so
    # "jo@insanity.industries (Jo)" comes back as name "stries (Jo", email "jo@insanity.indu".
    if len(authors) != 1 or not authors[0].email or not isinstance(text, str):
        return authors
    match = _RSS_AUTHOR.match(text)
    if match and match.group(1) != authors[0].email and match.group(1).startswith(authors[0].email):
        return (Author(name=collapse_ws(match.group(2)), email=match.group(1)),)
    return authors


def _update_period(period: str | None, frequency: str | None) -> float | None:
    """Seconds between updates from the RSS syndication module (sy:updatePeriod/Frequency)."""
    period = (period or "").strip().lower()
    count = _positive_int(frequency)
    if not period and count is None:
        return None
    seconds = _SY_PERIODS.get(period or "daily")  # the module's default period is daily
    if seconds is None:
        return None
    return seconds / (count or 1)


_SY_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}


# --- XML: feedparser -----------------------------------------------------------------

# Content-Location for feedparser: a base that resolves nothing. With the document URL
# it would resolve guids too ("12345" becomes "http://host/12345", hiding that the id is
# not an IRI); with none, an item's xml:base leaks into the items after it (feedparser
# only restores a non-empty base). urljoin leaves references relative against a 'news:'
# base, a scheme feedparser accepts; links then come back relative, or resolved against
# an absolute xml:base, and are made absolute against ctx.link_base here.
_FP_NO_BASE = "news:feedloom.invalid"
_FEEDPARSER_HEADERS = {
    "content-type": "application/xml; charset=utf-8",
    "content-location": _FP_NO_BASE,
}


def _parse_feedparser(
    document: bytes, cleaned: str, ctx: _Context, language: str | None, source_name: str | None
) -> ParsedFeed:
    fp_headers = dict(_FEEDPARSER_HEADERS)
    if language:
        fp_headers["content-language"] = language
    try:
        result = feedparser.parse(
            io.BytesIO(document),
            response_headers=fp_headers,
            # Relative URLs in content are resolved by sanitize_html against each
            # element's xml:base, which feedparser reports; its own resolver re-parses
            # every HTML fragment in Python and took 60% of the parse time.
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as exc:
        # feedparser has no error contract; whatever it trips over is this document's doing.
        raise ParseError("feedparser could not read the document", url=ctx.url) from exc

    fmt = result.get("version") or ""
    raw_entries = result.get("entries") or []
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not raw_entries and (problem is not None or not fmt):
        raise ParseError(_describe_failure(cleaned, fmt, problem), url=ctx.url)

    parsed = _build(
        _fp_feed(result.get("feed") or {}, fmt), raw_entries, ctx, source_name, _fp_entry,
        "feedparser",
    )  # fmt: skip
    if problem is not None:  # listed first: it explains the warnings after it
        if isinstance(problem, xml.sax.SAXException):
            note = (
                f"feed is not well-formed XML ({problem}); {len(parsed.entries)} entries recovered"
            )
        else:
            note = f"feedparser reported {type(problem).__name__}: {problem}"
        parsed = replace(parsed, warnings=(note, *parsed.warnings))
    return parsed


def _describe_failure(text: str, fmt: str, problem: object) -> str:
    if fmt:
        return (
            f"{_EXPECTED}; got a {fmt} document that is not well-formed ({problem}) "
            "and has no entries"
        )
    head = text[:4096]
    root = _ROOT_ELEMENT.search(head)
    if root:
        return f"{_EXPECTED}; got an XML document with root element <{root.group(1)}>"
    if (
        sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
        > len(head) // 20
    ):
        return f"{_EXPECTED}; got binary data"
    return f"{_EXPECTED}; got text that is not XML ({collapse_ws(head[:40])!r}...)"


def _fp_base(value: object) -> str | None:
    """An xml:base feedparser reports, without our placeholder."""
    return value if isinstance(value, str) and value and value != _FP_NO_BASE else None


def _fp_str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _fp_opt(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _fp_feed(feed: Mapping[str, Any], version: str) -> RawFeed:
    image = feed.get("image") or {}
    return RawFeed(
        version=version,
        title=_fp_str(feed.get("title")),
        link=_fp_opt(feed.get("link")),
        id=_fp_str(feed.get("id")),
        subtitle=_fp_str(feed.get("subtitle")),
        language=_fp_str(feed.get("language")),
        rights=_fp_str(feed.get("rights")),
        authors=list(feed.get("authors") or ()),
        author_text=_fp_opt(feed.get("author")),
        ttl=_fp_opt(feed.get("ttl")),
        icon=_fp_opt(feed.get("icon")),
        logo=_fp_opt(feed.get("logo") or image.get("href")),
        self_link=next(
            (x.get("href") for x in feed.get("links") or () if x.get("rel") == "self"), None
        ),
        sy_period=_fp_opt(feed.get("sy_updateperiod")),
        sy_frequency=_fp_opt(feed.get("sy_updatefrequency")),
    )


VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
"""HTML elements without content or end tag (internal: shared with fastparse)."""
# feedparser writes inline XHTML back with an end tag for every element; in HTML,
# "<br></br>" is two line breaks.
_VOID_END_TAG = re.compile(rf"</(?:{'|'.join(sorted(VOID_ELEMENTS))})\s*>", re.IGNORECASE)


def _fp_content_value(item: Mapping[str, Any]) -> str:
    value = _fp_str(item.get("value"))
    if item.get("type") == "application/xhtml+xml" and "</" in value:
        value = _VOID_END_TAG.sub("", value)
    return value


def _fp_entry(raw: dict[str, Any]) -> RawEntry:
    # feedparser leaves enclosure URLs as written; the item's xml:base is on its details.
    detail = raw.get("title_detail") or raw.get("summary_detail") or {}
    return RawEntry(
        id=_fp_str(raw.get("id")),
        title=_fp_str(raw.get("title")),
        link=_fp_opt(raw.get("link")),
        base=_fp_base(detail.get("base")),
        summary=_fp_str(raw.get("summary")),
        summary_base=_fp_base((raw.get("summary_detail") or {}).get("base")),
        contents=[
            (_fp_str(c.get("type")), _fp_content_value(c), _fp_base(c.get("base")))
            for c in raw.get("content") or ()
        ],
        published=_fp_opt(raw.get("published")),
        published_parsed=raw.get("published_parsed"),
        # dict.get: FeedParserDict.get("updated") falls back to "published" (with a
        # DeprecationWarning), which would invent an update time the feed never gave.
        updated=_fp_opt(dict.get(raw, "updated")),
        updated_parsed=dict.get(raw, "updated_parsed"),
        authors=list(raw.get("authors") or ()),
        author_text=_fp_opt(raw.get("author")),
        categories=[t.get("term") or t.get("label") or "" for t in raw.get("tags") or ()],
        # computed by feedparser on each access
        enclosures=[
            (e.get("href"), e.get("type"), e.get("length")) for e in raw.get("enclosures") or ()
        ],
    )


# --- JSON Feed -----------------------------------------------------------------------

_JSONFEED_VERSION = re.compile(r"https?://jsonfeed\.org/version/(1(?:\.\d+)?)/?\Z")


def _parse_json(text: str, ctx: _Context, source_name: str | None) -> ParsedFeed:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"expected a JSON Feed; got invalid JSON ({exc.msg}: line {exc.lineno} "
            f"column {exc.colno})",
            url=ctx.url,
        ) from exc
    except RecursionError as exc:
        raise ParseError("expected a JSON Feed; got JSON nested too deeply", url=ctx.url) from exc
    if not isinstance(doc, dict):
        raise ParseError(f"expected a JSON Feed object; got a JSON {_json_type(doc)}", url=ctx.url)

    version = doc.get("version")
    match = _JSONFEED_VERSION.match(version) if isinstance(version, str) else None
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(
            "expected a JSON Feed (an object with an 'items' array); got JSON without one",
            url=ctx.url,
        )
    if match is None:
        ctx.warn(f"JSON Feed version {version!r} not recognised; read as JSON Feed 1.1")
        fmt = "json11"
    else:
        fmt = "json10" if match.group(1) == "1" else "json11"

    meta, source = _json_meta(doc, ctx, source_name)
    entries = _collect(items, ctx, lambda item: _json_entry(item, ctx, source))
    return ParsedFeed(
        meta=meta.evolve(updated=_newest(entries)),
        entries=entries,
        format=fmt,
        warnings=tuple(ctx.warnings),
        parser="json",
    )


def _json_type(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


def _jstr(obj: Mapping[str, Any], key: str) -> str | None:
    """A string member, or None when absent or of the wrong type (invalid feeds abound)."""
    value = obj.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _json_meta(
    doc: Mapping[str, Any], ctx: _Context, source_name: str | None
) -> tuple[FeedMeta, SourceRef]:
    link = _absolute(_jstr(doc, "home_page_url"), ctx.url)
    if link is not None and not _is_web_url(link):
        link = None
    if not _is_web_url(ctx.url) and link is not None:
        ctx.link_base = link
    feed_url = _absolute(_jstr(doc, "feed_url"), ctx.url)
    title = html_to_text(_jstr(doc, "title") or "")
    meta = FeedMeta(
        id=feed_url if feed_url and _is_web_url(feed_url) else ctx.url,
        title=title or source_name or _host(ctx.url),
        link=link or ctx.url,
        description=html_to_text(_jstr(doc, "description") or ""),
        language=(_jstr(doc, "language") or "").strip(),
        authors=_json_authors(doc),
        # JSON Feed's "icon" is the large (512x512) image, "favicon" the small one.
        icon=_absolute(_jstr(doc, "favicon"), ctx.link_base),
        logo=_absolute(_jstr(doc, "icon"), ctx.link_base),
        self_urls=_self_urls("json", _jstr(doc, "feed_url"), ctx.url),
    )
    ctx.set_id_scope(None, meta.self_urls.get("json"), link)
    source = SourceRef(id=meta.id, title=source_name or title or None, url=ctx.url, link=link)
    return meta, source


def _json_entry(item: object, ctx: _Context, source: SourceRef) -> Entry:
    if not isinstance(item, dict):
        raise _BadEntry(f"expected an object, got a JSON {_json_type(item)}")
    title = html_to_text(_jstr(item, "title") or "")
    link = ctx.page_link(_jstr(item, "url") or _jstr(item, "external_url"))
    content_html = _jstr(item, "content_html")
    content_text = _jstr(item, "content_text")
    body = content_html or (html.escape(content_text, quote=False) if content_text else "")

    raw_id = item.get("id")
    if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)  # the spec asks readers to accept numeric ids as strings
    raw_id = raw_id.strip() if isinstance(raw_id, str) else ""
    if not (raw_id or title or link or body or _jlist(item, "attachments")):
        raise _BadEntry(_EMPTY_ENTRY)
    raw_link = item.get("url")
    entry_id = (
        (raw_id and ctx.entry_id(raw_id))
        or ctx.link_id(link, raw_link if isinstance(raw_link, str) else "")
        or _hash_id(title, body)
    )
    label = f"entry {entry_id}:"

    summary = _jstr(item, "summary")
    summary_text = collapse_ws(clean_text(summary)) if summary else html_to_text(body)
    return Entry(
        id=entry_id,
        title=title,
        link=link,
        summary=truncate_text(summary_text, SUMMARY_LIMIT) or None,
        content=sanitize_html(body, base_url=ctx.link_base) or None,
        published=ctx.date(_jstr(item, "date_published"), None, label, "date_published"),
        updated=ctx.date(_jstr(item, "date_modified"), None, label, "date_modified"),
        authors=_json_authors(item),
        categories=_dedupe(collapse_ws(t) for t in _jlist(item, "tags") if isinstance(t, str)),
        source=source,
        enclosures=tuple(
            enc
            for a in _jlist(item, "attachments")
            if (enc := _json_enclosure(a, ctx.link_base)) is not None
        ),
    )


def _json_enclosure(attachment: object, base: str) -> Enclosure | None:
    if not isinstance(attachment, dict):
        return None
    return _enclosure(
        attachment.get("url"), attachment.get("mime_type"), attachment.get("size_in_bytes"), base
    )


def _jlist(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _json_authors(obj: Mapping[str, Any]) -> tuple[Author, ...]:
    # 1.1 has an "authors" array; 1.0 a single "author" object.
    authors = obj.get("authors")
    if not isinstance(authors, list):
        single = obj.get("author")
        authors = [single] if isinstance(single, dict) else []
    return _authors(
        {"name": _jstr(a, "name"), "href": _jstr(a, "url")} for a in authors if isinstance(a, dict)
    )


# --- shared helpers ------------------------------------------------------------------


class _BadEntry(ValueError):
    """An entry that cannot be converted; it is skipped with a warning."""


# An item with nothing to show or identify it is debris, typically the last item of a
# truncated document; publishing it would add a blank entry to merged feeds.
_EMPTY_ENTRY = "it has no id, title, link or content"


def _collect(raw_entries: Iterable[Any], ctx: _Context, convert: Any) -> tuple[Entry, ...]:
    """Convert entries in order, skipping bad ones and later duplicates of an id."""
    entries: list[Entry] = []
    seen: set[str] = set()
    failures: list[str] = []
    for number, raw in enumerate(raw_entries, 1):
        try:
            entry = convert(raw)
        except ValueError as exc:  # _BadEntry, or the model refusing a value
            failures.append(f"entry #{number} skipped: {exc}")
            ctx.warn(failures[-1])
            continue
        if entry.id in seen:
            # Same guid twice in one document (scriptingNews does this): the first is the
            # one readers show, and a second copy would break id-based deduplication.
            ctx.warn(f"entry #{number} skipped: duplicate id {entry.id!r}")
            continue
        seen.add(entry.id)
        entries.append(entry)
    if failures and not entries:
        raise ParseError(
            f"none of the {len(failures)} entries could be read ({failures[0]})", url=ctx.url
        )
    return tuple(entries)


def _hash_id(title: str, body: str) -> str:
    """Identity of an entry with neither id nor link: a hash of what it says.

    Never a time or a position, which change between fetches and would make the same
    entry appear new again.
    """
    digest = hashlib.sha256(f"{title}\n{body}".encode("utf-8", "replace")).hexdigest()
    return f"urn:sha256:{digest}"


def _authors(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Author, ...]:
    result: list[Author] = []
    for item in raw or ():
        if type(item) is not dict and not isinstance(item, Mapping):  # the ABC check is slow
            continue
        # Most people have a name only: the empty fields need no cleaning.
        name, email, uri = item.get("name"), item.get("email"), item.get("href")
        name = collapse_ws(clean_text(name)) if name and isinstance(name, str) else ""
        email = collapse_ws(clean_text(email)) if email and isinstance(email, str) else ""
        uri = collapse_ws(clean_text(uri)) if uri and isinstance(uri, str) else ""
        if uri and not _is_web_url(uri):
            uri = ""  # javascript:/data: author links would be published as-is
        author = Author(name=name or None, email=email or None, uri=uri or None)
        if (name or email or uri) and author not in result:
            result.append(author)
    return tuple(result)


def _enclosure(url: object, mime: object, length: object, base: str) -> Enclosure | None:
    href = _absolute(url, base)
    # Only web URLs: a javascript:, data: or file: "enclosure" is never a media file.
    if href is None or not _is_web_url(href):
        return None
    size: int | None = None
    if isinstance(length, int) and not isinstance(length, bool):
        size = length
    elif isinstance(length, str) and length.strip().isdigit():
        size = int(length.strip())
    return Enclosure(
        url=href,
        type=mime.strip() or None if isinstance(mime, str) else None,
        length=size if size is not None and size >= 0 else None,
    )


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _positive_int(value: object) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


def _newest(entries: Iterable[Entry]) -> datetime | None:
    return max((d for e in entries if (d := e.updated or e.published) is not None), default=None)


def _self_urls(kind: str, href: object, base: str) -> dict[str, str]:
    """``{kind: url}`` for the feed's own declared address (rel="self", ``feed_url``).

    ``kind`` is the format key of :attr:`FeedMeta.self_urls` (``rss`` for RSS and RDF,
    ``atom``, ``json``). Only a web URL counts: the value names the feed's public address,
    and a file: path would leak a local path into attributions.
    """
    url = _absolute(href, base)
    return {kind: url} if url is not None and _is_web_url(url) else {}


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


# --- dates ---------------------------------------------------------------------------

# "<date and time> <zone>", the zone being a numeric offset or an abbreviation.
_DATE_ZONE = re.compile(r"(?P<body>.*?\d)\s*(?P<zone>[+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?\s*\Z", re.S)
_UTC_NAMES = frozenset({"Z", "UT", "UTC", "GMT"})
# The North American abbreviations RFC 822 defines. Others ("CST" in China, "IST" in
# India and Ireland) only mean something with the source's timezone.
_RFC822_ZONES = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip
_NAIVE_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)


def _parse_date(raw: str | None, fallback: Any, tz: tzinfo) -> datetime | None:
    """Read a feed date as aware UTC; naive values are in ``tz``.

    Our own reading comes first because feedparser turns every date into UTC, losing
    whether it had an offset at all, and reads ``CST`` as US Central whatever the
    source. feedparser's result (``fallback``) covers the exotic formats it knows; when
    the reader was not feedparser, it is computed here, so both readers agree.
    """
    # Dates are short; the length cap keeps hostile values from costing regex time.
    short = raw.strip() if raw and len(raw) < 100 else None
    value = _read_date(short, tz) if short else None
    if value is None and fallback is None and short:
        fallback = _feedparser_date(short)
    if value is None and fallback is not None:
        try:
            value = datetime(*fallback[:6]).replace(tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            return None
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. year 1 with a positive offset
        return None


def _feedparser_date(raw: str) -> Any:
    # feedparser has no public date parser; this is the one its parse() uses.
    from feedparser.datetimes import _parse_date as parse_date

    try:
        return parse_date(raw)
    except Exception:  # its date handlers are loose; a date that breaks one is no date
        return None


# The RFC 822 dates nearly every RSS feed writes ("Sat, 01 Jun 2024 07:53:06 +0000"),
# read directly; see _read_rfc822. ASCII digits only: \d would also take other scripts'.
_RFC822_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9][0-9]{3}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) (?:([+-])([0-9]{2})([0-9]{2})|GMT|UTC?|Z)\Z"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _read_rfc822(raw: str) -> datetime | None:
    """A strict RFC 822 date read directly, else None (for the general reading to decide).

    The general reading of such a date fails twice in fromisoformat and goes through
    a zone regex and email.utils.parsedate: 15 µs, a fifth of an entry's share of the
    parse. For exactly the dates matched here it computes what this does (parsedate's
    fields; the zone's offset; the day name unchecked, as parsedate ignores it). The
    rest, years below 1000 (parsedate reads two-digit years) included, take that path;
    tests/test_parse.py checks that both agree.
    """
    match = _RFC822_DATE.match(raw)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    zone = UTC if sign is None else _offset_zone(sign, zone_h, zone_m)
    if zone is None:
        return None
    try:
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:  # 31 Feb, 24:00, a leap second: the general reading decides
        return None


@lru_cache(maxsize=512)
def _offset_zone(sign: str, hours: str, minutes: str) -> tzinfo | None:
    """The zone of a numeric offset as _read_any_date makes it; None from 24 hours on.

    Cached: building and comparing the timedeltas cost more than the rest of a date.
    """
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset >= timedelta(hours=24):
        return None
    return _dt.timezone(-offset if sign == "-" else offset)


def _read_date(raw: str, tz: tzinfo) -> datetime | None:
    return _read_rfc822(raw) or _read_any_date(raw, tz)


def _read_any_date(raw: str, tz: tzinfo) -> datetime | None:
    if raw.isdigit():
        # A Unix timestamp (seen in dc:date); only plausible lengths, 2001 to 2286.
        return datetime.fromtimestamp(int(raw), UTC) if 9 <= len(raw) <= 10 else None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        pass
    else:
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)

    match = _DATE_ZONE.match(raw)
    if match is None:
        return None
    naive = _read_naive(match.group("body"))
    if naive is None:
        return None
    zone = match.group("zone")
    if zone is None:
        return naive.replace(tzinfo=tz)
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= timedelta(hours=24):
            return None
        return naive.replace(tzinfo=_dt.timezone(-offset if zone[0] == "-" else offset))
    zone = zone.upper()
    if zone in _UTC_NAMES:
        return naive.replace(tzinfo=UTC)
    local = naive.replace(tzinfo=tz)
    try:
        if (tz.tzname(local) or "").upper() == zone:
            return local  # "CST" from a source in Asia/Shanghai is China Standard Time
    except (ValueError, OverflowError):
        return None
    if zone in _RFC822_ZONES:
        return naive.replace(tzinfo=_dt.timezone(timedelta(hours=_RFC822_ZONES[zone])))
    return None  # an abbreviation we cannot place; let feedparser's reading decide


def _read_naive(body: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(body)
    except ValueError:
        pass
    else:
        return value.replace(tzinfo=None) if value.tzinfo is None else None
    # Every naive format starts with a four-digit year (strptime's %Y is exactly four
    # digits); checking first spares RFC 822 dates seven failing strptime calls, which
    # were a third of the time of parsing a typical feed.
    for fmt in _NAIVE_FORMATS if body[:4].isdigit() else ():
        try:
            return datetime.strptime(body, fmt)
        except ValueError:
            continue
    if not any(ch.isalpha() for ch in body):
        return None
    try:
        parts = email.utils.parsedate(body)  # RFC 822 without its zone
        return None if parts is None else datetime(*parts[:6])
    except (ValueError, OverflowError, IndexError):  # parsedate is loose with odd input
        return None
