"""Output writers: one :class:`~feedloom.model.Feed` in, the bytes of one format out.

Every format is rendered from the same prepared feed (:func:`prepare`), so RSS,
Atom, JSON Feed and HTML always carry the same entries, ids, titles and dates, in
``feed.entries`` order. Writers are pure and deterministic: the same ``Feed`` gives
the same bytes on every run and machine, so a rebuild with nothing new changes no
file. Nothing here reads the clock.

Public: :data:`FORMATS`, :data:`MEDIA_TYPES`, :func:`render`. The other names are
shared by the format modules of this package only.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, TypeVar, cast
from urllib.parse import SplitResult, urlsplit

from feedloom.model import Author, Enclosure, Entry, Feed, FeedMeta, SourceRef, utc

__all__ = ["FORMATS", "MEDIA_TYPES", "render"]

#: Output format name -> file suffix of the written file.
FORMATS: dict[str, str] = {"rss": ".xml", "atom": ".atom", "json": ".json", "html": ".html"}

#: Output format name -> media type to serve it with.
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
    "html": "text/html",
}

# Format -> (module, function). Modules are imported on first use so that
# `import feedloom` does not pay for feedgen/lxml when nothing is rendered.
_WRITERS: dict[str, tuple[str, str]] = {
    "rss": ("feedloom.writers.xml", "render_rss"),
    "atom": ("feedloom.writers.xml", "render_atom"),
    "json": ("feedloom.writers.jsonfeed", "render"),
    "html": ("feedloom.writers.html", "render"),
}

#: The date written when a feed has no date at all: fixed, so output stays stable.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Media type for an enclosure whose type is unknown: RSS and JSON Feed require one.
DEFAULT_ENCLOSURE_TYPE = "application/octet-stream"

_T = TypeVar("_T")
_D = TypeVar("_D", Entry, Author, Enclosure)

# What clean_strings removes, in one pass: what textutil.clean_text removes (C0 controls
# but TAB, LF, CR; surrogates; U+FFFE, U+FFFF), and DEL and the C1 controls, which are
# legal in XML 1.0 but "discouraged" there, parse errors in HTML, and in feed text only
# ever mojibake or terminal escapes (U+009B is CSI). Keep it a superset of clean_text's.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

# A prefix that makes urlsplit() give an http(s) scheme and a non-empty netloc, without
# raising: checked first because is_url() runs for every link of every entry.
_PLAIN_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#]|\Z)")

# Dataclass -> its field names, a getter of their values, their positions (see _plan).
_Plan = tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]], dict[str, int]]
_PLANS: dict[type, _Plan | None] = {}
# Classes _clean() has found to be dataclasses (and not strings, tuples or mappings).
_DATACLASSES: set[type] = set()


def render(feed: Feed, fmt: str) -> bytes:
    """Render ``feed`` to the bytes of one output format.

    Args:
        feed: metadata and entries; entries are written in this order.
        fmt: one of the keys of :data:`FORMATS` (``rss``, ``atom``, ``json``, ``html``).

    Returns:
        UTF-8 bytes, identical for identical input.

    Raises:
        ValueError: if ``fmt`` is not a known format.
    """
    try:
        module_name, func_name = _WRITERS[fmt]
    except KeyError:
        known = ", ".join(sorted(_WRITERS))
        raise ValueError(f"unknown output format {fmt!r}; expected one of: {known}") from None
    writer: Callable[[Feed], bytes] = getattr(importlib.import_module(module_name), func_name)
    return writer(feed)


# --- shared by the format modules -------------------------------------------------


def clean_strings(value: _T) -> _T:
    """Return ``value`` with control characters removed from every string in it.

    Removes what XML 1.0 forbids (C0 controls but TAB, LF, CR) and also DEL and C1.

    Walks the model's frozen dataclasses, tuples and mappings; other values pass.
    A string, tuple or dataclass with nothing to remove is returned as it is.
    """
    return cast(_T, _clean(value, {}))


def _clean(value: Any, memo: dict[int, Any]) -> Any:
    cls = type(value)
    if cls is str:
        return value if value.isprintable() else _clean_text(value)
    if cls is tuple:
        cleaned = _clean_values(value, memo)
        return value if cleaned is None else tuple(cleaned)
    if value is None or cls is datetime or cls is int:
        return value
    if cls not in _DATACLASSES:
        if isinstance(value, str):
            return _UNWANTED.sub("", value)
        if isinstance(value, tuple):
            return tuple(_clean(v, memo) for v in value)
        if isinstance(value, Mapping):
            # A mapping's items may be made on the fly: their ids are remembered only
            # while they are alive (see below).
            return {_clean(k, {}): _clean(v, {}) for k, v in value.items()}
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        _DATACLASSES.add(cls)  # next time straight here
    # Model objects are frozen, and one SourceRef is shared by every entry of its
    # source: each is cleaned once per call. Keying by id() is safe because everything
    # met here is held by the value being cleaned (through tuples and fields), so no
    # id() can be reused by another object during the walk.
    key = id(value)
    cleaned = memo.get(key, memo)
    if cleaned is memo:  # not seen yet (the memo itself is never a value in it)
        cleaned = memo[key] = _clean_dataclass(value, memo)
    return cleaned


def _clean_values(values: Sequence[Any], memo: dict[int, Any]) -> list[Any] | None:
    """``values`` cleaned, or None when nothing in them changed.

    The common leaves are handled inline: this runs for every field of every entry.
    """
    cleaned = None
    i = -1
    for old in values:
        i += 1
        cls = type(old)
        if cls is str:
            # Every character _UNWANTED matches is non-printable, and most strings hold
            # none: isprintable() (a C loop) clears those without running the regex.
            if old.isprintable():
                continue
            new = _clean_text(old)
        elif old is None or cls is datetime or cls is int:
            continue
        else:
            new = _clean(old, memo)
        if new is not old:
            if cleaned is None:
                cleaned = list(values)
            cleaned[i] = new
    return cleaned


def _clean_text(value: str) -> str:
    """``value`` without _UNWANTED characters, for a string that is not printable."""
    # Line breaks are what usually makes a text non-printable (HTML content, multi-line
    # summaries); without them, a printable rest holds nothing to remove either, and
    # this check costs half of the regex's scan.
    if value.replace("\n", "").isprintable():
        return value
    return _UNWANTED.sub("", value)


def _clean_dataclass(value: Any, memo: dict[int, Any]) -> Any:
    plan = _plan(type(value))
    if plan is None:  # some field is not an __init__ argument: let dataclasses sort it out
        changes = {f.name: _clean(getattr(value, f.name), memo) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    names, get, _ = plan
    values = get(value)
    cleaned = _clean_values(values, memo)
    if cleaned is None:
        return value
    # Replacing only what changed gives the same object as replacing every field.
    changes = {n: new for n, new, old in zip(names, cleaned, values, strict=True) if new is not old}
    return dataclasses.replace(value, **changes)


def _evolve(value: _D, changes: dict[str, Any]) -> _D:
    """``dataclasses.replace(value, **changes)``, with the field list looked up once per class."""
    plan = _plan(type(value))
    if plan is None:
        return dataclasses.replace(value, **changes)
    _, get, index = plan
    values = list(get(value))
    for name, new in changes.items():
        values[index[name]] = new
    # Positional: the plan holds only classes whose __init__ takes the fields in order.
    return type(value)(*values)


def _plan(cls: type) -> _Plan | None:
    """Field names of dataclass ``cls``, a getter of their values, their positions (cached).

    None unless ``__init__`` takes exactly the fields, in order, positionally (no
    ``init=False`` field, ``kw_only`` or ``InitVar``): only then is rebuilding from
    the fields what ``replace`` does.
    """
    try:
        return _PLANS[cls]
    except KeyError:
        pass
    names = tuple(f.name for f in dataclasses.fields(cls))
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):  # no signature to read
        params = []
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    plan = None
    if (
        names
        and [p.name for p in params] == list(names)
        and all(p.kind is positional for p in params)
    ):
        # attrgetter fetches them all in one call; with one name it returns no tuple.
        getter = attrgetter(*names) if len(names) > 1 else lambda obj: (getattr(obj, names[0]),)
        plan = (names, getter, {name: i for i, name in enumerate(names)})
    _PLANS[cls] = plan
    return plan


def _whole_seconds(value: datetime) -> datetime:
    # RSS dates cannot carry fractions; dropping them everywhere keeps the three
    # formats telling the same time.
    if value.tzinfo is UTC and not value.microsecond:
        return value  # already so (the usual case): no new object
    return value.astimezone(UTC).replace(microsecond=0)


def newest_date(feed: Feed) -> datetime:
    """The feed's ``updated``: ``meta.updated``, else the newest entry date, else :data:`EPOCH`.

    Never the current time: a rebuild with the same entries must give the same bytes.
    """
    if feed.meta.updated is not None:
        return utc(feed.meta.updated)  # type: ignore[return-value]
    dates = [d for e in feed.entries for d in (e.published, e.updated) if d is not None]
    return max(dates) if dates else EPOCH


def _entry_title(entry: Entry, link: str | None) -> str:
    if entry.title.strip():
        return entry.title
    # Atom and JSON readers need some title text; use what identifies the entry best.
    if entry.summary and entry.summary.strip():
        return entry.summary.strip()[:100]
    return link or entry.id


# An address as feed validators accept it: an unquoted ASCII local part (RFC 5322 atext
# and dots) and a dotted host name. Atom's schema wants ".+@.+"; the W3C validator
# wants this, and readers turn it into a mailto: link.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
)


def email_address(value: str | None) -> str | None:
    """``value`` as an e-mail address every format accepts, or None if it is not one.

    Trims it and drops a ``mailto:`` prefix; a non-ASCII domain is written in IDNA
    (punycode). External feeds put names, URLs and placeholders in e-mail fields,
    which would make the output invalid (Atom's schema requires an ``@``).
    """
    if not value:
        return None
    value = value.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    if _EMAIL.fullmatch(value):
        return value
    local, at, domain = value.rpartition("@")
    if not at or domain.isascii():
        return None
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    value = f"{local}@{ascii_domain}"
    return value if _EMAIL.fullmatch(value) else None


def _author(author: Author) -> Author:
    # A person's URI becomes a live link in readers: only a web address may be one.
    uri = author.uri if author.uri is None or is_url(author.uri) else None
    email = email_address(author.email)
    if uri is author.uri and email == author.email:
        return author
    return dataclasses.replace(author, uri=uri, email=email)


def _authors(authors: tuple[Author, ...]) -> tuple[Author, ...]:
    """``authors`` with bad URIs and e-mail addresses dropped (the same tuple if none is)."""
    # Nearly every author is fine as it is: build nothing new for those.
    if all(_author(a) is a for a in authors):
        return authors
    fixed = (_author(a) for a in authors)
    return tuple(a for a in fixed if a.name or a.email or a.uri)


def _enclosure(enc: Enclosure) -> Enclosure:
    # A negative size is "unknown" in some feeds; every format spells that by omission.
    if enc.length is not None and enc.length < 0:
        return dataclasses.replace(enc, length=None)
    return enc


def prepare(feed: Feed) -> Feed:
    """Normalise ``feed`` for writing; every format module starts from this.

    - removes control characters from every string (:func:`clean_strings`);
    - sets ``meta.updated`` (see :func:`newest_date`);
    - gives every entry ``published`` (else its ``updated``, else the feed's
      ``updated``) and ``updated`` (else ``published``), in whole seconds, UTC;
    - fills an empty entry title from its summary, link or id, and an empty feed
      title/link/id from one another, since every format requires them;
    - drops empty categories, negative sizes, and entry links, enclosures and author
      URIs that are not absolute http(s) URLs (``javascript:``, ``data:``, ``file:``...),
      and author e-mails that are not addresses (see :func:`email_address`).

    Idempotent: preparing a prepared feed changes nothing.
    """
    feed = clean_strings(feed)
    meta = feed.meta
    updated = _whole_seconds(newest_date(feed))
    title = meta.title if meta.title.strip() else (meta.name or meta.link or meta.id)
    link = meta.link or meta.self_urls.get("html") or meta.id
    meta = meta.evolve(
        updated=updated,
        title=title,
        link=link,
        id=meta.id or link,
        self_urls=dict(meta.self_urls),
        authors=_authors(meta.authors),
    )
    entries = []
    for entry in feed.entries:
        published = entry.published or entry.updated or updated
        # External feeds are untrusted: a javascript:, data: or file: link, enclosure
        # or author URI would become a live link in every reader.
        entry_link = entry.link if is_url(entry.link) else None
        changes: dict[str, Any] = {
            "title": _entry_title(entry, entry_link),
            "published": _whole_seconds(published),
            "updated": _whole_seconds(entry.updated or published),
        }
        if entry_link is not entry.link:
            changes["link"] = entry_link
        # Authors and categories are rebuilt only when one must go or change.
        authors = _authors(entry.authors)
        if authors is not entry.authors:
            changes["authors"] = authors
        for term in entry.categories:
            if not term.strip():
                changes["categories"] = tuple(c for c in entry.categories if c.strip())
                break
        if entry.enclosures:
            changes["enclosures"] = tuple(_enclosure(e) for e in entry.enclosures if is_url(e.url))
        entries.append(_evolve(entry, changes))
    return Feed(meta=meta, entries=entries)


def feed_updated(meta: FeedMeta) -> datetime:
    """``meta.updated`` of a prepared feed (never ``None`` after :func:`prepare`)."""
    assert meta.updated is not None, "call prepare() first"
    return meta.updated


def rfc3339(value: datetime) -> str:
    """``2020-01-02T03:04:05+00:00`` (RFC 3339, UTC, whole seconds)."""
    return _whole_seconds(value).isoformat()


def _split(value: str | None) -> SplitResult | None:
    """``urlsplit(value)``, or None for an empty or malformed value ("http://[broken")."""
    if not value:
        return None
    try:
        return urlsplit(value)
    except ValueError:
        return None


def is_url(value: str | None) -> bool:
    """True for an absolute http(s) URL, usable as a link outside this machine."""
    if value and _PLAIN_HTTP_URL.match(value):
        return True
    parts = _split(value)
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


def is_iri(value: str | None) -> bool:
    """True for an absolute IRI (any scheme: ``https:``, ``urn:``, ``tag:``...)."""
    if value and _PLAIN_HTTP_URL.match(value):
        return True
    parts = _split(value)
    return parts is not None and bool(parts.scheme) and bool(parts.netloc or parts.path)


def escape_html(text: str, quote: bool = True) -> str:
    """``html.escape(text, quote)``: the same replacements, in the same order.

    The stdlib's ``html`` package builds its entity tables on import, which every
    build would pay for three replacements.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;").replace("'", "&#x27;")
    return text


def source_url(ref: SourceRef) -> str | None:
    """The URL of the origin *feed* document, for RSS ``<source url>`` and Atom ``rel=self``.

    ``SourceRef.url`` may be a local path (a file source); only absolute URLs are
    written, since a relative one would resolve against our own feed's URL.
    """
    return ref.url if is_url(ref.url) else None


def source_dict(ref: SourceRef) -> dict[str, Any]:
    """The non-empty fields of ``ref`` in a fixed order (id, title, url, link)."""
    fields = (("id", ref.id), ("title", ref.title), ("url", ref.url), ("link", ref.link))
    return {k: v for k, v in fields if v}
