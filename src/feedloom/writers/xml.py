"""RSS 2.0 and Atom 1.0 through feedgen 1.0.0, with its traps disarmed.

feedgen builds the lxml trees; a registered feedgen extension (:class:`_FeedExt`,
:class:`_EntryExt`) adds what feedgen cannot write and repairs what it writes wrong:

- ``updated``/``lastBuildDate`` default to ``now()`` in feedgen; they are always set
  from :func:`feedloom.writers.newest_date` here.
- ``add_entry`` prepends by default; entries are appended, in ``feed.entries`` order.
- the default generator embeds feedgen's version; ``meta.generator`` is written alone.
- ``FeedEntry.atom_entry`` drops rel/type/length from every entry ``<link>`` (its
  loop variable shadows the link dict), so an enclosure would become a second
  alternate link. The entry extension rewrites all entry links from the model.
- feedgen's Atom ``<source>`` has no id and a rel-less link, and RSS allows only
  one enclosure; both are written by the extension instead.

The ``feedloom`` namespace (:data:`FEEDLOOM_NS`) carries what neither format has a
place for: ``<feedloom:rank>`` and ``<feedloom:also_from>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feedloom.model import Author, Entry, Feed, FeedMeta, SourceRef
from feedloom.writers import (
    DEFAULT_ENCLOSURE_TYPE,
    email_address,
    escape_html,
    feed_updated,
    is_iri,
    is_url,
    prepare,
    rfc3339,
    source_dict,
    source_url,
)

__all__ = ["FEEDLOOM_NS", "render_atom", "render_rss"]

#: Namespace of feedloom's extension elements (prefix ``feedloom``).
FEEDLOOM_NS = "https://feedloom.github.io/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
_EXT_NAME = "feedloom"

# A bare address such as "news@example.com", which email.utils.parseaddr() returns
# unchanged with no name: recognised here, so that builds need not import email.utils.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def render_rss(feed: Feed) -> bytes:
    """RSS 2.0 bytes (UTF-8) for ``feed``."""
    fg = _generator(prepare(feed), "rss")
    return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def render_atom(feed: Feed) -> bytes:
    """Atom 1.0 bytes (UTF-8) for ``feed``."""
    fg = _generator(prepare(feed), "atom")
    return fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)


# --- feedgen extension ----------------------------------------------------------


class _FeedExt(BaseExtension):  # type: ignore[misc]
    """Feed level: declares the namespaces, adds the RSS hub link."""

    def __init__(self) -> None:
        self.fmt = "rss"
        self.hub: str | None = None

    def extend_ns(self) -> dict[str, str]:
        ns = {"feedloom": FEEDLOOM_NS}
        if self.fmt == "rss":
            ns["dc"] = DC_NS  # dc:creator for authors without an e-mail address
        return ns

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        # feedgen writes only the first rel=self atom:link into an RSS channel.
        if self.hub:
            channel = rss[0]
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=self.hub, rel="hub")
        return rss


class _EntryExt:
    """Entry level: writes links, enclosures, source, rank and also_from from the model.

    feedgen makes one per entry and calls only ``extend_rss``/``extend_atom`` on it, so
    it does without feedgen's BaseEntryExtension, whose missing ``__slots__`` would give
    each of thousands of instances a dict for the garbage collector to walk.
    """

    __slots__ = ("entry", "sources")

    def __init__(self) -> None:
        # Both set by _generator: the entry, and one cache per render of the <source>
        # element of each origin (merged feeds repeat a few origins thousands of times).
        self.entry: Entry | None = None
        self.sources: dict[SourceRef, etree._Element | None] | None = None

    def extend_rss(self, item: etree._Element) -> etree._Element:
        entry = self._entry()
        if not _rss_authors_have_email(entry):
            # RSS <author> must be an e-mail address; the validator also warns
            # when an item mixes <author> and dc:creator, so it is one or the other.
            for author in entry.authors:
                name = author.name or author.email
                if name:
                    _sub(item, f"{{{DC_NS}}}creator", name)
        if entry.enclosures:
            # RSS 2.0 has room for one enclosure per item; the others are in Atom/JSON.
            enc = entry.enclosures[0]
            etree.SubElement(
                item,
                "enclosure",
                url=enc.url,
                length=str(enc.length or 0),  # "0" is the RSS Board's "unknown"
                type=enc.type or DEFAULT_ENCLOSURE_TYPE,
            )
        if entry.source is not None:
            self._add_source(item, entry.source, _rss_source)
        _add_feedloom(item, entry)
        return item

    def extend_atom(self, elem: etree._Element) -> etree._Element:
        entry = self._entry()
        # feedgen's tree is in no namespace (its root carries a literal xmlns
        # attribute), so Atom children are created with bare names here too.
        old = elem.findall("link")
        at = elem.index(old[0]) if old else len(elem)
        for link in old:
            elem.remove(link)
        links: list[dict[str, str]] = []
        if entry.link:
            links.append({"rel": "alternate", "href": entry.link})
        for enc in entry.enclosures:
            attrs = {"rel": "enclosure", "href": enc.url}
            if enc.type:
                attrs["type"] = enc.type
            if enc.length is not None:
                attrs["length"] = str(enc.length)
            links.append(attrs)
        for i, attrs in enumerate(links):
            elem.insert(at + i, _element("link", attrs))
        if entry.source is not None:
            self._add_source(elem, entry.source, _atom_source)
        _add_feedloom(elem, entry)
        return elem

    def extend_ns(self) -> dict[str, str]:
        # As BaseEntryExtension's: namespaces are declared by the feed extension.
        return {}

    def _entry(self) -> Entry:
        assert self.entry is not None, "entry extension used before bind"
        return self.entry

    def _add_source(
        self,
        parent: etree._Element,
        ref: SourceRef,
        build: Callable[[SourceRef], etree._Element | None],
    ) -> None:
        """Append a copy of ``ref``'s <source> element, built on first use in this render."""
        assert self.sources is not None, "entry extension used before bind"
        try:
            elem = self.sources[ref]
        except KeyError:
            elem = self.sources[ref] = build(ref)
        except TypeError:  # a field that cannot be hashed: build it for this entry alone
            elem = build(ref)
        if elem is not None:
            parent.append(elem.__copy__())  # lxml copies the subtree in C


def _element(tag: str, attrs: dict[str, str]) -> etree._Element:
    elem = etree.Element(tag)
    for key, value in attrs.items():  # in insertion order, for stable bytes
        elem.set(key, value)
    return elem


def _sub(parent: etree._Element, tag: str, text: str, **attrs: str) -> etree._Element:
    elem = etree.SubElement(parent, tag, **attrs)
    elem.text = text
    return elem


def _add_feedloom(parent: etree._Element, entry: Entry) -> None:
    if entry.rank is not None:
        _sub(parent, f"{{{FEEDLOOM_NS}}}rank", str(entry.rank))
    for ref in entry.also_from:
        etree.SubElement(parent, f"{{{FEEDLOOM_NS}}}also_from", **source_dict(ref))


def _rss_source(ref: SourceRef) -> etree._Element | None:
    """RSS 2.0 <source url>: the origin feed's title and URL (none without an absolute URL)."""
    url = source_url(ref)
    if not url:
        return None
    elem = etree.Element("source", url=url)
    elem.text = ref.title or url
    return elem


def _atom_source(ref: SourceRef, updated: datetime | None = None) -> etree._Element:
    """RFC 4287 §4.2.11 atom:source: the origin feed's id, title, updated and links.

    ``updated`` is the newest ``updated`` among this output's entries from that origin
    (see :func:`_source_dates`), not the date the origin feed declares: many feeds
    restamp that on every request, which would rewrite every merged output on every
    build with nothing new. The newest entry date moves only when this file's entries
    change anyway.
    """
    src = etree.Element("source")
    feed_url = source_url(ref)
    ident = next((v for v in (ref.id, feed_url, ref.link) if is_iri(v)), None)
    if ident:
        _sub(src, "id", ident)
    if ref.title:
        _sub(src, "title", ref.title)
    if updated is not None:
        _sub(src, "updated", rfc3339(updated))
    if is_url(ref.link):
        etree.SubElement(src, "link", rel="alternate", href=ref.link or "")
    if feed_url:
        etree.SubElement(src, "link", rel="self", href=feed_url)
    return src


# --- building the generator -----------------------------------------------------


def _generator(feed: Feed, fmt: str) -> FeedGenerator:
    meta = feed.meta
    fg = FeedGenerator()
    fg.register_extension(_EXT_NAME, _FeedExt, _EntryExt, atom=(fmt == "atom"), rss=(fmt == "rss"))
    ext: _FeedExt = getattr(fg, _EXT_NAME)
    ext.fmt = fmt
    ext.hub = meta.hub

    fg.id(meta.id)
    fg.title(meta.title)
    fg.updated(feed_updated(meta))  # also lastBuildDate; feedgen would use now()
    fg.generator(meta.generator)  # no version, no uri: stable across upgrades
    fg.language(meta.language or "zh-CN")
    if meta.rights:
        fg.rights(meta.rights)
    if fmt == "rss":
        _rss_channel(fg, meta)
    else:
        _atom_feed(fg, meta)

    sources: dict[SourceRef, etree._Element | None] = {}
    if fmt == "atom":
        sources.update(
            (ref, _atom_source(ref, updated)) for ref, updated in _source_dates(feed).items()
        )
    for entry in feed.entries:
        fe = fg.add_entry(order="append")  # feedgen prepends by default
        entry_ext: _EntryExt = getattr(fe, _EXT_NAME)
        entry_ext.entry = entry
        entry_ext.sources = sources
        if fmt == "rss":
            _rss_item(fe, entry)
        else:
            _atom_entry(fe, entry)
    return fg


def _source_dates(feed: Feed) -> dict[SourceRef, datetime]:
    """For each origin of ``feed``'s entries, the newest ``updated`` among them."""
    newest: dict[SourceRef, datetime] = {}
    for entry in feed.entries:
        ref, updated = entry.source, entry.updated
        if ref is None or updated is None:
            continue
        try:
            if ref not in newest or updated > newest[ref]:
                newest[ref] = updated
        except TypeError:  # an unhashable field: that entry's <source> goes without
            continue
    return newest


def _rss_channel(fg: FeedGenerator, meta: FeedMeta) -> None:
    if meta.self_urls.get("rss"):
        fg.link(href=meta.self_urls["rss"], rel="self", type="application/rss+xml")
    # feedgen's channel <link> is the *last* link added.
    fg.link(href=meta.link, rel="alternate")
    fg.description(meta.description or meta.title)  # required by RSS 2.0
    if meta.ttl is not None:
        fg.ttl(meta.ttl)
    contact = _rss_person(meta)
    if contact:
        fg.managingEditor(contact)
        fg.webMaster(contact)
    if meta.logo:
        fg.image(url=meta.logo, title=meta.title, link=meta.link)


def _rss_person(meta: FeedMeta) -> str | None:
    """``addr@example.com (Name)`` from ``meta.contact``, as RSS 2.0 wants it."""
    if not meta.contact:
        return None
    if _PLAIN_ADDRESS.fullmatch(meta.contact):
        name, addr = "", meta.contact
    else:
        from email.utils import parseaddr

        name, addr = parseaddr(meta.contact)
    addr = email_address(addr) or ""
    if not addr:
        return None  # not an e-mail address: the validator would reject the feed
    if not name:
        name = next((a.name for a in meta.authors if a.name), None) or meta.title
    return f"{addr} ({name})"


def _atom_feed(fg: FeedGenerator, meta: FeedMeta) -> None:
    if meta.self_urls.get("atom"):
        fg.link(href=meta.self_urls["atom"], rel="self", type="application/atom+xml")
    fg.link(href=meta.link, rel="alternate", type="text/html")
    if meta.hub:
        fg.link(href=meta.hub, rel="hub")
    if meta.description:
        fg.subtitle(meta.description)
    # RFC 4287 §4.1.1: a feed needs an author unless every entry has one.
    authors = [_atom_author(a) for a in meta.authors]
    authors = [a for a in authors if a]
    fg.author(authors or [{"name": meta.title}])
    if meta.icon:
        fg.icon(meta.icon)
    if meta.logo:
        fg.logo(meta.logo)


def _atom_author(author: Author) -> dict[str, str]:
    name = author.name or author.email or author.uri
    if not name:
        return {}
    person = {"name": name}
    if author.email:
        person["email"] = author.email
    if author.uri:
        person["uri"] = author.uri
    return person


def _rss_item(fe: FeedEntry, entry: Entry) -> None:
    fe.guid(entry.id, permalink=entry.id == entry.link)
    fe.title(entry.title)
    if entry.link:
        fe.link(href=entry.link, rel="alternate")
    if entry.summary:
        # <description> is HTML; the summary is plain text and must stay text.
        fe.description(escape_html(entry.summary, quote=False))
    if entry.content:
        fe.content(entry.content)  # content:encoded, or description if no summary
    fe.published(entry.published)
    if _rss_authors_have_email(entry):
        fe.author([_rss_author(a) for a in entry.authors])
    for term in entry.categories:
        fe.category(term=term)


def _rss_author(author: Author) -> dict[str, str]:
    # feedgen renders this as "addr (Name)"; every author here has an e-mail.
    person = {"email": author.email or ""}
    if author.name:
        person["name"] = author.name
    return person


def _rss_authors_have_email(entry: Entry) -> bool:
    return bool(entry.authors) and all(a.email for a in entry.authors)


def _atom_entry(fe: FeedEntry, entry: Entry) -> None:
    fe.id(entry.id)
    fe.title(entry.title)
    fe.updated(entry.updated)
    fe.published(entry.published)
    if entry.link:
        fe.link(href=entry.link, rel="alternate")  # rewritten by _EntryExt
    if entry.content:
        fe.content(entry.content, type="html")
    elif not entry.link:
        # RFC 4287 §4.1.2: without an alternate link, content is required.
        fe.content(entry.summary or entry.title, type="text")
    if entry.summary and (entry.content or entry.link):
        fe.summary(entry.summary)
    authors = [_atom_author(a) for a in entry.authors]
    authors = [a for a in authors if a]
    if authors:
        fe.author(authors)
    for term in entry.categories:
        fe.category(term=term)
