"""feedloom: publish pages as RSS 2.0, Atom 1.0 and JSON Feed, and merge external feeds.

The public API is what this module re-exports; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

from feedloom.api import MergedFeed, merge_feeds, parse_feed
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
