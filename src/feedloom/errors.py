"""The one exception tree of feedloom.

Every error a user can cause or fix is a :class:`FeedloomError`. Each carries the
context a person needs to act on it (the file, URL or config key) and the original
exception as ``__cause__``. Each class has an ``exit_code`` the CLI returns.

Anything that is not a ``FeedloomError`` is a bug and propagates with a traceback.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigError",
    "FeedloomError",
    "FetchError",
    "InputError",
    "LockTimeout",
    "ParseError",
    "SourceError",
    "StoreError",
    "WriteError",
]


class FeedloomError(Exception):
    """Base class of every error feedloom raises on purpose.

    Args:
        message: what went wrong, for a person.
        path: the file involved, if any.
        url: the URL involved, if any.
        key: the config key (dotted) involved, if any.
    """

    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        url: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.url = url
        self.key = key

    def __str__(self) -> str:
        where = [w for w in (self.path, self.url) if w]
        if self.key:
            where.append(f"key '{self.key}'")
        prefix = ": ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        cause = self.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text += f" ({type(cause).__name__}: {cause})"
        return text


class ConfigError(FeedloomError, ValueError):
    """A feed's TOML file or a CLI option is invalid; nothing was built."""

    exit_code = 2


class SourceError(FeedloomError):
    """One source could not be read. A build records it and goes on with the others."""

    exit_code = 3


class InputError(SourceError, ValueError):
    """A local input document (e.g. the news page) is empty, binary or unrecognisable."""


class FetchError(SourceError):
    """Getting a remote feed failed (network, HTTP status, limits).

    Attributes:
        status: the HTTP status, when a response was received.
        retry_after: seconds the server asked us to wait (429/503), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class ParseError(SourceError):
    """Bytes were received but yielded no usable feed."""


class WriteError(FeedloomError):
    """An output file could not be written; the previous file is left untouched."""

    exit_code = 4


class StoreError(FeedloomError):
    """The SQLite state store is unreadable, corrupt or from a newer feedloom."""

    exit_code = 5


class LockTimeout(FeedloomError):
    """Another feedloom process holds the state lock and did not release it in time."""

    # EX_TEMPFAIL from sysexits.h: cron wrappers treat it as "try again later".
    exit_code = 75
