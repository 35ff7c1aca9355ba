"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written without a library.

Keys are emitted in a fixed order (the spec's order of presentation), not sorted,
so the file reads like the spec and still never changes between runs. Rank,
source and also_from travel in the ``_feedloom`` extension object: the spec
reserves keys starting with an underscore for extensions that readers ignore.
"""

from __future__ import annotations

import json
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
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


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
