"""Fast path for well-formed RSS 2.0, RSS 1.0 and Atom 1.0 (not implemented yet).

:func:`read` declines every document, so :mod:`feedloom.parse` uses feedparser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedloom.parse import RawEntry, RawFeed

__all__ = ["Unsupported", "read"]


class Unsupported(Exception):
    """The document is not one this reader is sure to read as feedparser would."""


def read(document: bytes, *, language: str | None = None) -> tuple[RawFeed, list[RawEntry]]:
    """Read ``document``; raises :class:`Unsupported` for now."""
    raise Unsupported("the lxml reader is not implemented yet")
