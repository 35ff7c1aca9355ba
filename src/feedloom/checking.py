"""``feedloom check``: parse feed files and report what a reader would trip on."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedloom.errors import ConfigError, SourceError

__all__ = ["check_files", "problems"]


def problems(path: Path, *, timezone: str = "UTC") -> tuple[str, list[str]]:
    """Parse ``path``; return a one-line summary and the list of problems found.

    Raises:
        SourceError: when the file is unreadable or not a feed.
    """
    from feedloom.parse import parse_bytes

    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"expected an IANA timezone, got {timezone!r}", key="--timezone"
        ) from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read the file ({exc.strerror})", path=str(path)) from exc
    parsed = parse_bytes(data, url=path.resolve().as_uri(), timezone=tz)
    found = list(parsed.warnings)
    ids = Counter(e.id for e in parsed.entries)
    found += [f"id {i!r} used by {n} entries" for i, n in ids.items() if n > 1]
    found += [f"entry {e.id!r} has no title" for e in parsed.entries if not e.title.strip()]
    found += [f"entry {e.id!r} has no link" for e in parsed.entries if not e.link]
    found += [f"entry {e.id!r} has no date" for e in parsed.entries if e.date is None]
    summary = f"{parsed.format}, {len(parsed.entries)} entries, title {parsed.meta.title!r}"
    return summary, found


def check_files(paths: tuple[Path, ...] | list[Path], *, timezone: str = "UTC") -> int:
    """Check each file, print a report; return 0 when all parsed, 3 when any failed."""
    status = 0
    for path in paths:
        try:
            summary, found = problems(path, timezone=timezone)
        except SourceError as exc:
            print(f"{path}: FAIL: {exc}")
            status = SourceError.exit_code
            continue
        print(f"{path}: OK: {summary}")
        for p in found:
            print(f"  warning: {p}")
    sys.stdout.flush()
    return status
