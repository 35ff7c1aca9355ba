"""Read well-formed RSS 2.0, RSS 1.0 (RDF) and Atom 1.0 with lxml: the fast path.

feedparser reads any feed, but in pure-Python SAX handlers at a few MB/s. This module
reads the common case with lxml's C parser straight into the records of
:mod:`feedloom.parse` (:class:`~feedloom.parse.RawFeed`, :class:`~feedloom.parse.RawEntry`),
taking the same reading of each element that feedparser takes (which element wins when
several say the same thing, which attribute holds the URL, how a person is split into
name and e-mail), so that both readers give the same model; ``tests/test_fastparse.py``
compares them field by field on every corpus file. All later rules (ids, links, dates,
text, sanitising) are applied by :mod:`feedloom.parse`, whichever reader ran.

Whatever it is not sure to read as feedparser would, it declines by raising
:class:`Unsupported`, and :mod:`feedloom.parse` hands the document to feedparser:

* a document that is not well-formed, or has a DOCTYPE (entities need feedparser's
  handling; an internal subset is never expanded here);
* RSS 0.9x, Atom 0.3 and any other root;
* an element feedparser reads into a field we use that this module does not handle,
  at any depth (a second description, which feedparser turns into content; a
  ``media:title`` inside ``media:content``; an XHTML ``body``; ``content`` with
  ``src`` or a binary type...).

The parser is safe for untrusted input: no entity expansion, no network, no DTD, and
libxml2's default limits on depth and size (no ``huge_tree``).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from feedparser.api import StrictFeedParser
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from lxml import etree

from feedloom.parse import VOID_ELEMENTS, RawEntry, RawFeed, split_author

__all__ = ["Unsupported", "read"]


class Unsupported(Exception):
    """The document is not one this reader is sure to read as feedparser would."""


_ATOM = "http://www.w3.org/2005/Atom"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RSS10 = "http://purl.org/rss/1.0/"
_RDF_ABOUT = f"{{{_RDF}}}about"
_XHTML = "http://www.w3.org/1999/xhtml"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ITUNES_SCHEME = "http://www.itunes.com/"
_MEDIA_SCHEME = "http://search.yahoo.com/mrss/category_schema"

# feedparser names an element by its namespace's usual prefix, whatever prefix the
# document uses (the Atom and RSS 1.0 namespaces have none), and calls the handler of
# that name; an element of a namespace it does not know keeps the document's prefix.
# Using its own tables keeps the two readings in step.
_PREFIXES: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()
}
_HANDLED_BY_FEEDPARSER = frozenset(
    name.split("_", 2)[2].lower()
    for name in dir(StrictFeedParser)
    if name.startswith(("_start_", "_end_")) and name.count("_") >= 2
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SHORT_TYPES = {"text": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}
_TEXT_TYPES = frozenset({"text/plain", *_HTML_TYPES})
# URI schemes feedparser accepts for xml:base (feedparser.urls.ACCEPTABLE_URI_SCHEMES,
# the web ones): a base with another scheme is ignored by it, and so here.
_BASE_SCHEMES = ("http:", "https:", "file:", "ftp:")

# Element names (feedparser's) of each kind. Titles, summaries and the like are "text
# constructs": plain text, escaped HTML or inline XHTML according to their type.
_TITLES = frozenset({"title", "dc_title"})
_SUMMARIES = frozenset(
    {"description", "dc_description", "summary", "itunes_summary", "media_description"}
)
_SUBTITLES = frozenset({"subtitle", "tagline", "itunes_subtitle", "abstract"})
_CONTENTS = frozenset({"content_encoded", "fullitem", "content"})
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "dc_date", "dcterms_modified", "lastbuilddate"})
_AUTHORS = frozenset({"author", "dc_author", "dc_creator", "itunes_author", "managingeditor"})
_RIGHTS = frozenset({"rights", "copyright", "dc_rights"})
_LANGUAGES = frozenset({"language", "dc_language"})
_CATEGORIES = frozenset({"category", "dc_subject", "keywords", "media_category"})
_IDS = frozenset({"id", "guid"})

# Elements feedparser reads into fields we never use, so they may be skipped; with
# _CONTEXTS, their descendants are read into a context of their own (an image, a source,
# a person) and may be skipped too; the others' descendants are checked like children.
_CONTEXTS = frozenset(
    {"source", "image", "textinput", "contributor", "dc_contributor", "itunes_owner"}
)
_SKIPPED_COMMON = frozenset(
    {
        "cloud", "generator", "info", "feedburner_browserfriendly", "cc_license",
        "creativecommons_license", "newlocation", "webmaster", "dc_publisher",
        "contributor", "dc_contributor", "created", "dcterms_created", "dcterms_valid",
        "expirationdate", "itunes_block", "itunes_explicit", "itunes_owner", "itunes_name",
        "itunes_email", "media_content", "media_thumbnail", "media_group", "media_player",
        "media_credit", "media_rating", "media_restriction", "media_license",
        "georss_point", "georss_line", "georss_polygon", "georss_box", "georss_where",
        "where", "geom", "georssgeom", "gml_point", "gml_linestring", "gml_polygon",
        "gml_exterior", "gml_linearring", "gml_pos", "gml_poslist", "psc_chapters",
        "psc_chapter", "width", "height", "name", "email", "uri", "url", "homepage",
        "textinput",
    }
)  # fmt: skip
_SKIPPED_IN_FEED = (
    _SKIPPED_COMMON
    | _PUBLISHED
    | _UPDATED
    | _CATEGORIES
    | {
        "itunes_category",
        "itunes_keywords",
        "media_keywords",
    }
)
_SKIPPED_IN_ENTRY = (
    _SKIPPED_COMMON | _RIGHTS | _LANGUAGES | _SUBTITLES - {"abstract"} | {"itunes_image"}
) - {"textinput"}
# Generic elements (no feedparser handler) are stored under their name; these names
# would land on fields we read.
_READ_KEYS = frozenset(
    {"links", "enclosures", "authors", "tags", "content", "summary_detail", "title_detail",
     "published_parsed", "updated_parsed", "guidislink", "author_detail", "image", "icon",
     "logo", "ttl", "sy_updateperiod", "sy_updatefrequency"}
)  # fmt: skip

_looks_like_html = _FeedParserMixin.looks_like_html
_C1 = re.compile("[\x80-\x9f]")
_KEYS: dict[str, str] = {}
_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread, reused.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            dtd_validation=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def read(document: bytes, *, language: str | None = None) -> tuple[RawFeed, list[RawEntry]]:
    """Read a UTF-8 XML feed document into records.

    Args:
        document: the document, UTF-8 encoded (as :mod:`feedloom.parse` prepares it).
        language: the HTTP ``Content-Language``, the language of last resort.

    Raises:
        Unsupported: if the document is anything but a well-formed RSS 2.0, RSS 1.0 or
            Atom 1.0 feed whose every element this reader can read as feedparser would.
    """
    try:
        root = etree.fromstring(document, _parser())
    except etree.XMLSyntaxError as exc:
        raise Unsupported(f"not well-formed: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Unsupported("the document has a DOCTYPE")
    tag = root.tag
    # An attribute in the XML namespace is always written with a prefix, so a document
    # without ":base" has no xml:base, and the lookup on every element (the most
    # frequent lxml call here) can be skipped.
    bases = b":base" in document
    if tag == f"{{{_ATOM}}}feed":
        reader = _Reader("atom10", root, language, bases)
        reader.feed_children(root, _base(None, root))
    elif tag == "rss" and (root.get("version") or "").strip().startswith("2."):
        reader = _Reader("rss20", root, language, bases)
        reader.rss_root(root)
    elif tag == f"{{{_RDF}}}RDF" and root.find(f"{{{_RSS10}}}channel") is not None:
        reader = _Reader("rss10", root, language, bases)
        reader.rss_root(root)
    else:
        raise Unsupported(f"root element {tag!r} is not RSS 2.0, RSS 1.0 or Atom 1.0")
    return reader.feed, reader.entries


def _key(el: Any) -> str:
    """feedparser's name for an element: 'title', 'dc_creator', 'content_encoded'..."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""  # an entity reference: not expanded (no DTD), so never text
    key = _KEYS.get(tag)
    if key is not None:
        return key
    cacheable = True
    if tag[0] == "{":
        uri, _, local = tag[1:].partition("}")
        prefix = _PREFIXES.get(uri.lower())
        if prefix is None:
            prefix = el.prefix or ""
            cacheable = False  # the name depends on the document's prefix
    else:
        local, prefix = tag, ""
    local = local.lower()
    key = f"{prefix}_{local}" if prefix else local
    if cacheable and len(_KEYS) < 4096:  # bounded: a hostile document may invent names
        _KEYS[tag] = key
    return key


def _base(parent: str | None, el: Any) -> str | None:
    """The xml:base in effect inside ``el``.

    A relative xml:base with no absolute one around it is kept relative, to be resolved
    against the document's URL by feedloom.parse (feedparser drops it).
    """
    value = el.get(_XML_BASE)
    if value is None:
        return parent
    value = value.strip()
    if parent:
        try:
            joined = urljoin(parent, value)
        except ValueError:
            return parent
        return joined if joined.lower().startswith(_BASE_SCHEMES) or "://" not in joined else parent
    return value or parent


def _join(base: str | None, value: str) -> str:
    """``value`` resolved against an absolute base, as feedparser resolves links."""
    if not base or not value or not base.lower().startswith(_BASE_SCHEMES):
        return value
    try:
        return urljoin(base, value)
    except ValueError:
        return ""


def _attr(el: Any, name: str) -> str | None:
    """An attribute without namespace, by case-insensitive name (feedparser lowercases)."""
    value = el.get(name)
    if value is not None:
        return value
    for key, val in el.items():  # items(): no attrib proxy, and [] at once without any
        if key.lower() == name:
            return str(val)
    return None


def _text(el: Any, *, fix: bool = True) -> str:
    """The text of an element that must hold only text; Unsupported if it holds markup."""
    if len(el):
        raise Unsupported(f"<{el.tag}> holds elements where text was expected")
    text = el.text
    if not text:
        return ""
    text = text.strip()
    return _fix(text) if fix and not text.isascii() else text


def _fix(text: str) -> str:
    """feedparser's last touches to every text value, so both readers agree.

    It undoes UTF-8 read as ISO-8859-1 ("cafÃ©" becomes "café") and maps C1 control
    characters to the windows-1252 characters they stand for.
    """
    if text.isascii():
        return text
    # Only text of ISO-8859-1 characters can be such mojibake. Dropping the others and
    # comparing lengths tells without raising an error (as CJK text always did).
    latin1 = text.encode("iso-8859-1", "ignore")
    if len(latin1) == len(text):
        with contextlib.suppress(UnicodeError):
            text = latin1.decode("utf-8")
    # translate() looks every character up; most texts have no C1 character at all.
    return text.translate(_cp1252) if _has_c1(text) else text


def _has_c1(text: str) -> bool:
    """Whether ``text`` has a C1 control (U+0080 to U+009F).

    Each is C2 80 to C2 9F in UTF-8, so text whose UTF-8 has no C2 byte has none: a
    byte search in C, where the regex looked at every character of long bodies.
    """
    try:
        if b"\xc2" not in text.encode("utf-8"):
            return False
    except UnicodeEncodeError:  # a surrogate: only the regex can tell
        pass
    return _C1.search(text) is not None


def _mime(el: Any, default: str) -> str:
    keys = el.keys()
    if not keys:  # most elements have no attribute at all: no mode, no type
        return default
    if any(key.lower() == "mode" for key in keys):  # _attr(el, "mode") is not None
        raise Unsupported(f"<{el.tag}> has an Atom 0.3 mode attribute")
    raw = _attr(el, "type")
    if raw is None:
        return default
    value = raw.strip().lower()
    return _SHORT_TYPES.get(value, value)


def _construct(el: Any, default: str) -> tuple[str, str]:
    """A text construct's (MIME type, value): text and HTML as written, XHTML serialised."""
    mime = _mime(el, default)
    if mime not in _TEXT_TYPES:
        raise Unsupported(f"<{el.tag}> has type {mime!r}")
    if mime == "application/xhtml+xml":
        return mime, _xhtml(el)
    return mime, _text(el)


def _xhtml(el: Any) -> str:
    """Inline XHTML as an HTML string, without its wrapping <div>."""
    children = list(el)
    if (
        len(children) != 1
        or children[0].tag != f"{{{_XHTML}}}div"
        or (el.text or "").strip()
        or (children[0].tail or "").strip()
    ):
        raise Unsupported(f"<{el.tag}> of type xhtml is not one XHTML <div>")
    div = children[0]
    parts = [_escape(div.text or "")]
    for child in div:
        parts.append(_serialise(child))
    return _fix("".join(parts).strip())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _serialise(el: Any) -> str:
    """An XHTML element as HTML (with its tail), namespaces dropped."""
    if not isinstance(el.tag, str):
        return _escape(el.tail or "")
    if not el.tag.startswith(f"{{{_XHTML}}}"):
        raise Unsupported(f"non-XHTML element {el.tag!r} inside XHTML content")
    name = el.tag.rpartition("}")[2]
    attrs = "".join(
        f' {key.rpartition("}")[2]}="{_escape(str(value)).replace(chr(34), "&quot;")}"'
        for key, value in el.attrib.items()
    )
    tail = _escape(el.tail or "")
    if name in VOID_ELEMENTS and not len(el) and not el.text:
        return f"<{name}{attrs}>{tail}"
    inner = _escape(el.text or "") + "".join(_serialise(child) for child in el)
    return f"<{name}{attrs}>{inner}</{name}>{tail}"


class _Tags:
    """feedparser's tag list: (term, scheme, label), with its way of filling terms."""

    __slots__ = ("tags",)

    def __init__(self) -> None:
        self.tags: list[list[str | None]] = []

    def add(self, term: str | None, scheme: str | None, label: str | None) -> None:
        if not (term or scheme or label):
            return
        value = [term, scheme, label]
        if value not in self.tags:
            self.tags.append(value)

    def category(self, el: Any, default_scheme: str | None = None) -> None:
        if el.keys():
            scheme = _attr(el, "scheme") or _attr(el, "domain") or default_scheme
            self.add(_attr(el, "term"), scheme, _attr(el, "label"))
        else:  # RSS <category>term</category>: no attribute to look up
            self.add(None, default_scheme, None)
        value = _text(el)
        if not value:
            return
        if self.tags and not self.tags[-1][0]:
            self.tags[-1][0] = value
        else:
            self.add(value, None, None)

    def keywords(self, el: Any, key: str) -> None:
        scheme = _ITUNES_SCHEME if key == "itunes_keywords" else None
        for term in _text(el).split(","):
            if term.strip():
                self.add(term.strip(), scheme, None)

    def terms(self) -> list[str]:
        return [tag[0] or tag[2] or "" for tag in self.tags]


class _EntryState:
    """What feedparser remembers while it reads one entry, where it changes the result."""

    __slots__ = ("depths", "has_content", "id_link", "summary_set", "tags", "title_depth")

    def __init__(self) -> None:
        self.tags = _Tags()
        self.title_depth = -1  # depth of the title that locks out later ones (-1: none)
        self.depths: dict[str, int] = {}  # a value is not replaced from deeper down
        self.summary_set = False
        self.has_content = False
        self.id_link: str | None = None

    def deeper(self, name: str, depth: int) -> bool:
        """Whether a value at ``depth`` loses to one already set higher up."""
        old = self.depths.get(name)
        if old is not None and depth > old:
            return True
        self.depths[name] = depth
        return False

    def title(self, raw: RawEntry, value: str, depth: int, locks: bool) -> None:
        # The first non-empty <title> locks out later ones at its depth or below;
        # media:title sets a title without locking.
        if -1 < self.title_depth <= depth or self.deeper("title", depth):
            return
        raw.title = value
        if locks and value:
            self.title_depth = depth


class _Reader:
    def __init__(self, version: str, root: Any, language: str | None, bases: bool) -> None:
        self.feed = RawFeed(version=version)
        self.bases = bases  # whether any element may carry xml:base
        self.entries: list[RawEntry] = []
        self.has_content = False
        # Content-Language, then the root's xml:lang (or lang) - feedparser looks at
        # <rss> and <feed> only, not <rdf:RDF> - then <language> elements.
        lang = language
        if version != "rss10":
            root_lang = root.get(_XML_LANG, root.get("lang"))
            if root_lang:  # xml:lang="" means unknown: the header stands
                lang = root_lang
        if lang:
            self.feed.language = lang.replace("_", "-")

    # --- feed level ---------------------------------------------------------------

    def rss_root(self, root: Any) -> None:
        base = _base(None, root)
        channels = 0
        for child in root:
            key = _key(child)
            if key == "channel":
                channels += 1
                if channels > 1 or child.get("href") is not None or child.get("lastmod"):
                    raise Unsupported("several or CDF-style <channel> elements")
                self.feed_children(child, _base(base, child))
            elif key == "item":
                self.entries.append(self.entry(child, _base(base, child) if self.bases else base))
            elif key == "image":
                self.image(child, _base(base, child))
            elif key not in ("textinput", "rdf_seq", "") and key in _HANDLED_BY_FEEDPARSER:
                raise Unsupported(f"<{child.tag}> at the top level")

    def feed_children(self, parent: Any, base: str | None) -> None:
        feed = self.feed
        title_locked = False
        summary_seen = False
        id_link: str | None = None
        bases = self.bases
        for child in parent:
            key = _KEYS.get(child.tag) or _key(child)
            cbase = _base(base, child) if bases else base
            if key in ("item", "entry"):
                self.entries.append(self.entry(child, cbase))
            elif key in _TITLES or key == "media_title":
                if not title_locked:
                    feed.title = _construct(child, "text/plain")[1]
                    title_locked = key != "media_title"
            elif key == "link":
                link = self.link(child, cbase, None)
                if link is not None:
                    feed.link = link
            elif key in _IDS:
                feed.id, permalink = self.ident(child, cbase)
                if permalink and id_link is None:
                    id_link = feed.id
            elif key in _SUMMARIES:
                # feedparser keeps a feed's <summary> where we never look, and files a
                # summary or description after it as content while it has none. Its
                # "has content" flag is global: it holds until the next entry ends.
                is_description = "description" in key
                value = _construct(child, "text/html" if is_description else "text/plain")[1]
                if summary_seen and not self.has_content:
                    self.has_content = True
                elif is_description:
                    feed.subtitle = value
                else:
                    summary_seen = True
            elif key in _SUBTITLES:
                feed.subtitle = _construct(child, "text/plain")[1]
            elif key in _LANGUAGES:
                feed.language = _text(child)
            elif key in _RIGHTS:
                feed.rights = _construct(child, "text/plain")[1]
            elif key in _AUTHORS:
                self.person(child, feed.authors, feed)
            elif key == "image":
                self.image(child, cbase)
                title_locked = False  # feedparser resets its title depth at <image>
            elif key in ("itunes_image", "itunes_link"):
                href = _attr(child, "href") or _attr(child, "url")
                if href:
                    feed.logo = href
            elif key in ("icon", "logo"):
                setattr(feed, key, _join(cbase, _text(child)))
            elif key == "ttl":
                feed.ttl = _text(child)
            elif key == "sy_updateperiod":
                feed.sy_period = _text(child)
            elif key == "sy_updatefrequency":
                feed.sy_frequency = _text(child)
            elif key in _CONTENTS or key in ("body", "xhtml_body"):
                raise Unsupported(f"<{child.tag}> at feed level")
            else:
                self.skip(child, key, _SKIPPED_IN_FEED)
                if key == "textinput":
                    title_locked = False
        if feed.link is None and id_link is not None:
            feed.link = id_link

    def image(self, el: Any, base: str | None) -> None:
        for child in el:
            key = _key(child)
            if key == "url":
                self.feed.logo = _join(_base(base, child), _text(child))
            elif key == "link":
                self.link(child, base, None)  # read into the image, but still checked

    # --- entry level --------------------------------------------------------------

    def entry(self, item: Any, base: str | None) -> RawEntry:
        raw = RawEntry(base=base)
        about = item.get(_RDF_ABOUT)
        if about is not None:
            raw.id = about.strip()
        state = _EntryState()
        state.has_content, self.has_content = self.has_content, False  # reset at entry end
        bases = self.bases
        for child in item:
            key = _KEYS.get(child.tag) or _key(child)
            cbase = _base(base, child) if bases else base
            if key in _TITLES or key == "media_title":
                state.title(raw, _construct(child, "text/plain")[1], 0, key != "media_title")
            elif key == "link":
                link = self.link(child, cbase, raw)
                if link is not None:
                    raw.link = link
            elif key in _IDS:
                raw.id, permalink = self.ident(child, cbase)
                if permalink and state.id_link is None:
                    state.id_link = raw.id
            elif key in _SUMMARIES or key == "abstract":
                self.summary(child, key, cbase, raw, state, 0)
            elif key in _CONTENTS:
                self.content(child, key, cbase, raw, state)
            elif key in _PUBLISHED:
                raw.published = _text(child)
            elif key in _UPDATED:
                raw.updated = _text(child)
            elif key in _AUTHORS:
                self.person(child, raw.authors, raw)
            elif key in _CATEGORIES:
                state.tags.category(child, _MEDIA_SCHEME if key == "media_category" else None)
            elif key in ("itunes_keywords", "media_keywords"):
                state.tags.keywords(child, key)
            elif key == "itunes_category":
                for sub in child.iter(child.tag):
                    state.tags.add(_attr(sub, "text"), _ITUNES_SCHEME, None)
                    if (sub.text or "").strip():
                        raise Unsupported("<itunes:category> with text")
            elif key == "enclosure":
                url = _attr(child, "href") or _attr(child, "url")
                raw.enclosures.append((url, _attr(child, "type"), _attr(child, "length")))
            elif key == "source":
                # feedparser resets its title lock at <source>, and the source's own
                # title then locks it one level down.
                titled = any(_key(sub) in _TITLES and (sub.text or "").strip() for sub in child)
                state.title_depth = 1 if titled else -1
            elif key == "image":
                self.entry_image(child, raw, state)
            elif key in ("media_group", "media_content"):
                self.media(child, cbase, raw, state)
            elif key in ("body", "xhtml_body", "textinput", "channel", "item", "entry"):
                raise Unsupported(f"<{child.tag}> inside an entry")
            else:
                self.skip(child, key, _SKIPPED_IN_ENTRY)
        if raw.link is None and state.id_link is not None:
            raw.link = state.id_link
        raw.categories = state.tags.terms()
        return raw

    def summary(
        self, el: Any, key: str, base: str | None, raw: RawEntry, state: _EntryState, depth: int
    ) -> None:
        if key != "abstract" and state.summary_set and not state.has_content:
            # A second summary, before any content: feedparser files it as content.
            mime, value = _construct(el, "text/plain")
            if self.feed.version != "atom10" and mime == "text/plain" and _looks_like_html(value):
                mime = "text/html"
            raw.contents.append((mime, value, base))
            state.has_content = True
            return
        default = "text/html" if "description" in key else "text/plain"
        value = _construct(el, default)[1]
        if state.deeper("summary", depth):
            return
        raw.summary, raw.summary_base = value, base
        state.summary_set = True

    def content(
        self, el: Any, key: str, base: str | None, raw: RawEntry, state: _EntryState
    ) -> None:
        if key == "content" and self.feed.version != "atom10":
            # RSS <content>: feedparser guesses HTML from the text; not worth mirroring.
            raise Unsupported("<content> in RSS")
        if el.keys() and _attr(el, "src") is not None:
            raise Unsupported("<content src>: out-of-line content")
        if key == "content":
            mime, value = _construct(el, "text/plain")
        else:
            mime, value = "text/html", _text(el)
        raw.contents.append((mime, value, base))
        state.has_content = True
        if mime in _TEXT_TYPES and not state.summary_set:
            # feedparser copies the first text or HTML content into an empty summary.
            raw.summary = value
            state.summary_set = True

    def entry_image(self, el: Any, raw: RawEntry, state: _EntryState) -> None:
        # feedparser reads an entry's <image> into the entry: only its title lands on a
        # field we use, and it clears the title lock first.
        state.title_depth = -1
        for child in el:
            key = _key(child)
            if key in _TITLES:
                state.title(raw, _construct(child, "text/plain")[1], 1, True)
            elif key in _HANDLED_BY_FEEDPARSER and key not in ("url", "link", "width", "height"):
                raise Unsupported(f"<{child.tag}> inside an entry's <image>")

    def media(self, el: Any, base: str | None, raw: RawEntry, state: _EntryState) -> None:
        """media:group / media:content: feedparser reads titles and the like inside them."""
        for sub in _descendants(el):
            key = _key(sub)
            depth = sum(1 for _ in sub.iterancestors()) - sum(1 for _ in el.iterancestors())
            if key == "media_title":
                state.title(raw, _construct(sub, "text/plain")[1], depth, False)
            elif key == "media_description":
                self.summary(sub, key, _base(base, sub), raw, state, depth)
            elif key == "media_category":
                state.tags.category(sub, _MEDIA_SCHEME)
            elif key == "media_keywords":
                state.tags.keywords(sub, key)
            elif key in _HANDLED_BY_FEEDPARSER and key not in _SKIPPED_IN_ENTRY:
                raise Unsupported(f"<{sub.tag}> inside <{el.tag}>")

    # --- shared elements ----------------------------------------------------------

    def link(self, el: Any, base: str | None, raw: RawEntry | None) -> str | None:
        """An Atom-style or RSS link; returns the page link it sets, if any."""
        if not el.keys():  # RSS <link>: no href or url attribute
            return _join(base, _text(el))
        href = _attr(el, "href")
        if href is None:
            href = _attr(el, "url")
        if href is None:
            return _join(base, _text(el))
        rel = _attr(el, "rel") or "alternate"
        href = _join(base, href)
        if rel == "self":
            if raw is None and self.feed.self_link is None:
                self.feed.self_link = href
            return None
        mime = (_attr(el, "type") or "text/html").strip().lower()
        mime = _SHORT_TYPES.get(mime, mime)
        if rel == "enclosure" and raw is not None:
            # feedparser gives an enclosure link without a type the default "text/html".
            raw.enclosures.append((href, _attr(el, "type") or "text/html", _attr(el, "length")))
        if rel == "alternate" and mime in _HTML_TYPES:
            return href
        return None

    def ident(self, el: Any, base: str | None) -> tuple[str, bool]:
        """A guid/id and whether it doubles as the link (RSS isPermaLink, default true)."""
        permalink = (_attr(el, "ispermalink") or "true") == "true"
        value = _text(el)
        return (_join(base, value) if permalink else value), permalink

    def person(self, el: Any, authors: list[Any], owner: RawFeed | RawEntry) -> None:
        if len(el):
            if authors:
                # feedparser writes a structured person's fields into an earlier
                # author's record as well (its author_detail aliases that record).
                raise Unsupported(f"<{el.tag}> after another author")
            detail: dict[str, str] = {}
            for child in el:
                key = _key(child)
                if key in ("name", "email"):
                    detail[key] = _text(child, fix=False)  # feedparser leaves these as read
                elif key in ("uri", "url", "homepage"):
                    detail["href"] = _text(child)
                elif key in _HANDLED_BY_FEEDPARSER:
                    raise Unsupported(f"<{child.tag}> inside a person")
            detail = {k: v for k, v in detail.items() if v}
            authors.append(detail)
            name, email = detail.get("name"), detail.get("email")
            owner.author_text = (
                f"{name} ({email})" if name and email else name or email or owner.author_text
            )
            return
        text = _text(el)
        authors.append(split_author(text) if text else {})
        if text:
            owner.author_text = text

    def skip(self, el: Any, key: str, skippable: frozenset[str]) -> None:
        """Pass over an element we do not read, if feedparser does not read it either."""
        if key in skippable:
            if key in _CONTEXTS:
                return
        elif key in _HANDLED_BY_FEEDPARSER or key in _READ_KEYS:
            raise Unsupported(f"<{el.tag}> is read by feedparser but not here")
        for sub in _descendants(el):
            sub_key = _key(sub)
            if sub_key in _HANDLED_BY_FEEDPARSER and sub_key not in skippable:
                raise Unsupported(f"<{sub.tag}> inside <{el.tag}>")


def _descendants(el: Any) -> Iterator[Any]:
    it = el.iterdescendants()
    return (sub for sub in it if isinstance(sub.tag, str))
