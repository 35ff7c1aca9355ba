"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written without a library.

Keys are emitted in a fixed order (the spec's order of presentation), not sorted,
so the file reads like the spec and still never changes between runs. Rank,
source and also_from travel in the ``_feedloom`` extension object: the spec
reserves keys starting with an underscore for extensions that readers ignore.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

from feedloom.model import Author, Entry, Feed
from feedloom.writers import DEFAULT_ENCLOSURE_TYPE, prepare, rfc3339, source_dict

__all__ = ["VERSION", "render"]

VERSION = "https://jsonfeed.org/version/1.1"


def render(feed: Feed) -> bytes:
    """JSON Feed 1.1 bytes (UTF-8, two-space indent, trailing newline) for ``feed``."""
    feed = prepare(feed)
    meta = feed.meta
    doc: dict[str, Any] = {"version": VERSION, "title": meta.title}
    _put(doc, "home_page_url", meta.link)
    _put(doc, "feed_url", meta.self_urls.get("json"))
    _put(doc, "description", meta.description)
    # Atom's icon is small and square (JSON's favicon); its logo is the big image.
    _put(doc, "icon", meta.logo)
    _put(doc, "favicon", meta.icon)
    _put(doc, "language", meta.language or "zh-CN")
    _put(doc, "authors", _authors(meta.authors))
    if meta.hub:
        doc["hubs"] = [{"type": "WebSub", "url": meta.hub}]
    doc["items"] = [_item(entry) for entry in feed.entries]
    out: list[str] = []
    _dump(doc, out, "\n")
    out.append("\n")
    return "".join(out).encode("utf-8")


def _dump(value: Any, out: list[str], newline: str) -> None:
    """Append ``json.dumps(value, ensure_ascii=False, indent=2)`` to ``out``, in pieces.

    The same text, written out: with ``indent`` set the stdlib drops its C encoder
    for a pure-Python one several times slower. Strings still go through its C
    ``encode_basestring``; ``newline`` is a line break plus the current indentation.
    """
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _dump(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            head = separator + encode_basestring(key if type(key) is str else _key(key)) + ": "
            if type(item) is str:  # most values: no call for them
                out.append(head + encode_basestring(item))
            else:
                out.append(head)
                _dump(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    else:
        raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _key(key: Any) -> str:
    # json.dumps' conversions of non-string keys, in its order.
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)


def _item(entry: Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    _put(item, "url", entry.link)
    item["title"] = entry.title
    _put(item, "content_html", entry.content)
    if not entry.content:
        # One of content_html/content_text is required; the summary is the best
        # plain-text body we have, the title the last resort.
        item["content_text"] = entry.summary or entry.title
    _put(item, "summary", entry.summary)
    item["date_published"] = rfc3339(entry.published)  # type: ignore[arg-type]
    item["date_modified"] = rfc3339(entry.updated)  # type: ignore[arg-type]
    _put(item, "authors", _authors(entry.authors))
    _put(item, "tags", list(entry.categories))
    _put(
        item,
        "attachments",
        [
            _put(
                {"url": enc.url, "mime_type": enc.type or DEFAULT_ENCLOSURE_TYPE},
                "size_in_bytes",
                enc.length,
            )
            for enc in entry.enclosures
        ],
    )
    ext: dict[str, Any] = {}
    _put(ext, "rank", entry.rank)
    if entry.source is not None:
        _put(ext, "source", source_dict(entry.source))
    _put(ext, "also_from", [source_dict(ref) for ref in entry.also_from])
    _put(item, "_feedloom", ext)
    return item


def _authors(authors: tuple[Author, ...]) -> list[dict[str, str]]:
    result = []
    for author in authors:
        obj: dict[str, str] = {}
        _put(obj, "name", author.name)
        # JSON Feed authors have no e-mail field; the spec suggests a mailto: url.
        _put(obj, "url", author.uri or (f"mailto:{author.email}" if author.email else None))
        if obj:
            result.append(obj)
    return result


def _put(obj: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Set ``obj[key]`` unless ``value`` is None or empty; return ``obj``."""
    if value is not None and value != "" and value != [] and value != {}:
        obj[key] = value
    return obj
