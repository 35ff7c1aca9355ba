"""feedloom: publish pages as RSS 2.0, Atom 1.0 and JSON Feed, and merge external feeds.

The public API is what this module re-exports; everything else is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from feedloom.errors import (
    ConfigError,
    FeedloomError,
    FetchError,
    InputError,
    ParseError,
    SourceError,
    WriteError,
)
from feedloom.model import Author, Enclosure, Entry, Feed, FeedMeta, SourceRef

if TYPE_CHECKING:
    from feedloom.api import MergedFeed, merge_feeds, parse_feed

# The library API is imported on first use: every `feedloom build` imports this
# package (cron pays for each import on every run) and never needs it.
_LAZY = frozenset({"MergedFeed", "merge_feeds", "parse_feed"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from feedloom import api

        value = getattr(api, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'feedloom' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)


__all__ = [
    "Author",
    "ConfigError",
    "Enclosure",
    "Entry",
    "Feed",
    "FeedMeta",
    "FeedloomError",
    "FetchError",
    "InputError",
    "MergedFeed",
    "ParseError",
    "SourceError",
    "SourceRef",
    "WriteError",
    "__version__",
    "merge_feeds",
    "parse_feed",
]
