"""What the CLI commands do, with locking and state handled in one place.

``build`` and ``run`` take the inter-process state lock around each build, so
cron runs and a running service never write at once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from feedloom.build import BuildReport, build_feeds, describe
from feedloom.config import load_feed_configs
from feedloom.store import Store

__all__ = ["run_build", "run_service", "serve_output", "source_statuses"]

log = logging.getLogger("feedloom.build")


def run_build(
    *,
    feeds_dir: Path,
    output_dir: Path,
    state_path: Path,
    now: datetime | None = None,
    force: bool = False,
    only: Sequence[str] = (),
    wait: float = 10.0,
    echo: bool = True,
) -> BuildReport:
    """Load the config, take the lock, build, print one line per feed on stderr.

    Raises:
        ConfigError, LockTimeout, StoreError, WriteError.
    """
    from feedloom.errors import ConfigError
    from feedloom.lock import StateLock

    configs = load_feed_configs(feeds_dir)
    unknown = sorted(set(only) - {c.name for c in configs})
    if unknown:
        raise ConfigError(f"no such feed(s): {', '.join(unknown)}", path=str(feeds_dir))
    with StateLock(state_path, wait=wait), Store(state_path) as store:
        report = build_feeds(
            configs, output_dir=output_dir, store=store, now=now, force=force, only=only
        )
    for feed in report.feeds:
        if echo:
            print(describe(feed), file=sys.stderr)
            for location, message in feed.failed_sources:
                print(
                    f"  source failed: {message}"
                    if location in message
                    else f"  source failed: {location}: {message}",
                    file=sys.stderr,
                )
        log.debug(
            "built",
            extra={
                "fields": {
                    "feed": feed.name,
                    "entries": feed.entries,
                    "new": feed.new,
                    "failed": len(feed.failed_sources),
                    "duration": f"{feed.duration:.3f}",
                }
            },
        )
    return report


def source_statuses(*, feeds_dir: Path, state_path: Path) -> list[str]:
    """One line per recorded source for ``feedloom status``."""
    if not state_path.exists():
        return []
    with Store(state_path) as store:
        rows = store.statuses()
    lines = []
    for s in rows:

        def fmt(d: datetime | None) -> str:
            return d.strftime("%Y-%m-%d %H:%M:%SZ") if d else "-"

        lines.append(
            f"{s.feed}\t{s.kind}\t{s.location}\tlast={fmt(s.last_attempt)}\tok={fmt(s.last_success)}\t"
            f"http={s.http_status or '-'}\tentries={s.entries if s.entries is not None else '-'}\t"
            f"next={fmt(s.next_fetch)}\terror={s.last_error or '-'}"
        )
    return lines


def run_service(
    *,
    feeds_dir: Path,
    output_dir: Path,
    state_path: Path,
    wait: float,
    force: bool,
    stop_event: object | None = None,
) -> int:
    """Run the scheduler until SIGTERM/SIGINT (see :mod:`feedloom.schedule`)."""
    raise NotImplementedError  # wired in the scheduling change


def serve_output(
    *, output_dir: Path, feeds_dir: Path, state_path: Path, host: str, port: int, schedule: bool
) -> int:
    """Serve ``output_dir`` (and optionally run the scheduler beside it)."""
    raise NotImplementedError  # wired in the serving change
