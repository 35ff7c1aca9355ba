"""OPML subscription lists: read one into a feed file (``feedloom import-opml``), and
write ``output/feeds.opml`` listing every published feed (:func:`render_opml`).

Every feed reader exports its subscriptions as OPML 1.0/2.0: nested ``<outline>``
elements, those with an ``xmlUrl`` being feeds and the others folders. feedloom
reads the feeds (folders become a category path), skips what it cannot fetch with
a reason that names the line, and writes one ``feeds/NAME.toml`` whose sources are
those feeds, so that a user's whole reading list becomes a merged feed in one step.

The document is parsed like an untrusted feed: no DTD loaded, no entity declared in
the document accepted, no network access.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from feedloom.errors import ConfigError, InputError
from feedloom.model import FeedMeta

__all__ = [
    "OPML_NAME",
    "Opml",
    "Subscription",
    "feed_toml",
    "import_opml",
    "read_opml",
    "render_opml",
]

# The whole document is bounded so that a mistaken path (a disk image, a log) fails
# fast instead of filling memory; real subscription lists are a few hundred KB.
MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed of an OPML file.

    Attributes:
        url: the feed's URL (``xmlUrl``), absolute http(s).
        title: the outline's ``title``, else its ``text``; may be empty.
        html_url: the site's home page (``htmlUrl``), if given.
        category: the titles of the enclosing folders, outermost first.
        line: the outline's line in the file, for messages.
    """

    url: str
    title: str = ""
    html_url: str | None = None
    category: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Opml:
    """What :func:`read_opml` found.

    Attributes:
        title: the document's ``<head><title>``, if any.
        subscriptions: the feeds, in document order, each URL once.
        skipped: one message per outline left out, naming its line and why.
    """

    title: str | None = None
    subscriptions: tuple[Subscription, ...] = ()
    skipped: tuple[str, ...] = field(default_factory=tuple)


def _attr(elem: etree._Element, name: str) -> str:
    # OPML attribute names are case-sensitive by the spec, but exporters disagree
    # ("xmlurl", "XMLURL"): accept any case, preferring the exact one.
    value = elem.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in elem.attrib.items() if str(k).lower() == lowered), None)
    return " ".join((value or "").split())


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def read_opml(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> Opml:
    """Read an OPML subscription list.

    Args:
        source: a file's path, or the document's bytes.
        name: how to call the document in messages (default: the path, or "OPML").

    Returns:
        The feeds found; outlines without a usable http(s) ``xmlUrl`` and repeated
        URLs are listed in ``skipped``.

    Raises:
        InputError: the file cannot be read, is not well-formed XML, declares
            entities, is not OPML, or lists no feed at all.
    """
    if isinstance(source, bytes | bytearray):
        where = name or "OPML"
        data = bytes(source)
    else:
        where = name or os.fspath(source)
        try:
            with open(source, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read the OPML file ({exc.strerror})", path=where) from exc
    if len(data) > MAX_BYTES:
        raise InputError(f"expected an OPML file, got over {MAX_BYTES} bytes", path=where)
    root_at = re.search(rb"<(?:[A-Za-z_][\w.-]*:)?opml\b", data)
    if b"<!ENTITY" in data[: root_at.start() if root_at else len(data)]:
        raise InputError("refused: the document declares XML entities", path=where)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"expected an OPML file, got XML that is not well-formed ({exc})",
                         path=where) from None  # fmt: skip
    if root is None or etree.QName(root).localname != "opml":
        tag = etree.QName(root).localname if root is not None else "nothing"
        raise InputError(f"expected an OPML file (<opml>), got <{tag}>", path=where)
    head_title = root.findtext("head/title")
    title = " ".join(head_title.split()) if head_title else None

    subscriptions: list[Subscription] = []
    skipped: list[str] = []
    seen: set[str] = set()

    def visit(parent: etree._Element, folders: tuple[str, ...]) -> None:
        for outline in parent.iterchildren("outline"):
            label = _attr(outline, "title") or _attr(outline, "text")
            url = _attr(outline, "xmlUrl")
            if not url:
                # A folder, or a non-feed outline (a link, a note): its children may be feeds.
                visit(outline, (*folders, label) if label else folders)
                continue
            at = f"line {outline.sourceline}" if outline.sourceline else "an outline"
            if not _is_http_url(url):
                skipped.append(f"{at}: {label or url!r} skipped: xmlUrl {url!r} is not http(s)")
            elif url in seen:
                skipped.append(f"{at}: {label or url!r} skipped: {url} is listed already")
            else:
                seen.add(url)
                html_url = _attr(outline, "htmlUrl")
                subscriptions.append(
                    Subscription(
                        url=url,
                        title=label,
                        html_url=html_url if _is_http_url(html_url) else None,
                        category=folders,
                        line=outline.sourceline,
                    )
                )
            visit(outline, folders)

    body = root.find("body")
    if body is not None:
        visit(body, ())
    if not subscriptions:
        reason = f" ({len(skipped)} skipped: {skipped[0]})" if skipped else ""
        raise InputError(f"the OPML file lists no http(s) feed (no outline with xmlUrl){reason}",
                         path=where)  # fmt: skip
    return Opml(title=title, subscriptions=tuple(subscriptions), skipped=tuple(skipped))


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)  # Chinese and every other character as itself
    out.append('"')
    return "".join(out)


def feed_toml(opml: Opml, *, title: str, site_url: str, origin: str) -> str:
    """The text of a feed file that merges every subscription of ``opml``.

    Args:
        opml: from :func:`read_opml`.
        title: the merged feed's title.
        site_url: its home page (``site_url``, required by every feed file).
        origin: where the list came from, for the header comment (e.g. the file name).
    """
    lines = [
        f"# Made by `feedloom import-opml` from {origin}: {len(opml.subscriptions)} feeds.",
        "# Edit freely (see the README's config reference); --force overwrites it.",
        f"title = {_toml_string(title)}",
        f"site_url = {_toml_string(site_url)}",
    ]
    for sub in opml.subscriptions:
        lines += ["", "[[sources]]"]
        if sub.category:
            # Labels are whitespace-collapsed already; DEL is the one control character
            # left that a TOML comment may not hold.
            lines.append("# " + " / ".join(sub.category).replace("\x7f", ""))
        lines += ['type = "feed"', f"url = {_toml_string(sub.url)}"]
        if sub.title:
            lines.append(f"name = {_toml_string(sub.title)}")
    return "\n".join(lines) + "\n"


def import_opml(
    opml_file: Path,
    *,
    feeds_dir: Path,
    site_url: str,
    name: str | None = None,
    title: str | None = None,
    force: bool = False,
) -> tuple[Path, Opml]:
    """Write ``feeds_dir/NAME.toml`` merging every feed listed in ``opml_file``.

    The file is checked by the same loader and adapters ``feedloom build`` uses
    before it is written (atomically), so what lands in ``feeds/`` always loads. Its
    header names the OPML file by its name only, so the same list gives the same
    bytes wherever it is imported from.

    Returns:
        The feed file written, and what was read from the OPML file.

    Raises:
        InputError: the OPML file is unreadable or lists no feed.
        ConfigError: the name or site URL is invalid, or the feed file exists
            already and ``force`` is not set.
        WriteError: the feed file cannot be written.
    """
    from feedloom.build import prepare
    from feedloom.config import check_feed_name, load_feed_config
    from feedloom.output import publish

    name = check_feed_name(name or opml_file.stem, key="--name")
    target = feeds_dir / f"{name}.toml"
    if target.exists() and not force:
        raise ConfigError("the feed file exists already (use --force to replace it)",
                          path=str(target))  # fmt: skip
    opml = read_opml(opml_file)
    text = feed_toml(opml, title=title or opml.title or name, site_url=site_url,
                     origin=opml_file.name)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="feedloom-opml-") as scratch:
        trial = Path(scratch) / target.name
        trial.write_text(text, encoding="utf-8")
        try:
            prepare([load_feed_config(trial)])  # the adapters check their own keys
        except ConfigError as exc:
            # Name the file the user will have, not the scratch copy.
            raise ConfigError(exc.message, path=str(target), key=exc.key) from None
    publish(target, text.encode("utf-8"))
    return target, opml


#: The file in ``output/`` that lists every published feed.
OPML_NAME = "feeds.opml"

# Which file a subscription points at, best first: RSS 2.0 is what every reader and
# OPML tool knows (OPML 2.0 calls every feed type="rss").
_SUBSCRIBE_ORDER = ("rss", "atom", "json")


def render_opml(feeds: Sequence[FeedMeta], *, title: str) -> bytes | None:
    """OPML 2.0 listing ``feeds``, so a reader can subscribe to all of them at once.

    Each feed appears once, by name, pointing at its RSS file (else Atom, else JSON
    Feed) with its site as ``htmlUrl``. No creation date is written: the same feeds
    give the same bytes, so an unchanged rebuild leaves the file alone.

    Returns:
        UTF-8 bytes, or None when no feed has an absolute feed URL to list.
    """
    from feedloom.writers import clean_strings, is_url

    rows = []
    for meta in sorted((clean_strings(m) for m in feeds), key=lambda m: (m.name, m.id)):
        url = next((meta.self_urls[f] for f in _SUBSCRIBE_ORDER if meta.self_urls.get(f)), None)
        if is_url(url):
            rows.append((meta, url))
    if not rows:
        return None
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for meta, url in rows:
        outline = etree.SubElement(body, "outline")
        for name, value in (
            ("type", "rss"),
            ("text", meta.title or meta.name),
            ("title", meta.title or meta.name),
            ("xmlUrl", url),
            ("htmlUrl", meta.link if is_url(meta.link) else None),
            ("description", meta.description or None),
            ("language", meta.language or None),
        ):
            if value:
                outline.set(name, value)  # in this order, for stable bytes
    return etree.tostring(root, encoding="utf-8", xml_declaration=True, pretty_print=True)
