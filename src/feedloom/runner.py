"""What the CLI commands do, with locking and state handled in one place.

``build`` and ``run`` take the inter-process state lock around each build, so
cron runs and a running service never write at once.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from feedloom.build import BuildReport, FeedReport, build_feeds, describe
from feedloom.config import load_feed_configs
from feedloom.errors import ConfigError, FeedloomError
from feedloom.store import SourceStatus, Store

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
    respect_freshness: bool = False,
    echo: str | None = "text",
    quiet: bool = False,
) -> BuildReport:
    """Load the config, take the lock, build, report one line per feed on stderr.

    ``echo`` is ``"text"`` (plain lines), ``"json"`` (one log record per feed, for
    ``--log-format json``) or None (the caller reports, as the scheduler does).
    ``quiet`` reports only the feeds with something wrong: a failure, a failed
    source or a warning (cron mails whatever a job prints).

    Raises:
        ConfigError, LockTimeout, StoreError, WriteError.
    """
    from feedloom.lock import StateLock

    configs = load_feed_configs(feeds_dir)
    unknown = sorted(set(only) - {c.name for c in configs})
    if unknown:
        raise ConfigError(f"no such feed(s): {', '.join(unknown)}", path=str(feeds_dir))
    with StateLock(state_path, wait=wait), Store(state_path) as store:
        report = build_feeds(
            configs,
            output_dir=output_dir,
            store=store,
            now=now,
            force=force,
            only=only,
            respect_freshness=respect_freshness,
        )
    from feedloom.build import ping_hub

    for feed in report.feeds:
        if feed.hub and feed.hub_topics:
            ping_hub(feed.hub, feed.hub_topics)
    shown = [f for f in report.feeds if not quiet or f.error or f.failed_sources or f.warnings]
    if echo == "json":
        for feed in shown:
            log_report(feed)
    elif echo:
        for feed in shown:
            print(describe(feed), file=sys.stderr)
            for location, message in feed.failed_sources:
                where = "" if location in message else f"{location}: "
                print(f"  source failed: {where}{message}", file=sys.stderr)
            for warning in feed.warnings:
                print(f"  warning: {warning}", file=sys.stderr)
    return report


def configured_sources(feeds_dir: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """``(feed, source key) -> (type, location)`` of every source the feed files name.

    Raises:
        ConfigError: a feed file is invalid.
    """
    from feedloom.build import prepare

    return {
        (p.config.name, adapter.key): (adapter.type, adapter.location)
        for p in prepare(load_feed_configs(feeds_dir))
        for adapter in p.adapters
    }


def source_statuses(*, feeds_dir: Path, state_path: Path) -> list[tuple[SourceStatus, bool | None]]:
    """Each recorded source's status, and whether a feed file still names it.

    ``None`` when the feed files cannot be read (``status`` still shows the state).
    """
    if not state_path.exists():
        return []
    with Store(state_path) as store:
        rows = store.statuses()
    try:
        current: dict[tuple[str, str], tuple[str, str]] | None = configured_sources(feeds_dir)
    except ConfigError:
        current = None
    return [(s, None if current is None else (s.feed, s.source) in current) for s in rows]


def status_line(status: SourceStatus, configured: bool | None) -> str:
    """The tab-separated line ``feedloom status`` prints for one source."""

    def fmt(d: datetime | None) -> str:
        return d.strftime("%Y-%m-%d %H:%M:%SZ") if d else "-"

    s = status
    line = (
        f"{s.feed}\t{s.kind}\t{s.location}\tlast={fmt(s.last_attempt)}\tok={fmt(s.last_success)}\t"
        f"http={s.http_status or '-'}\tentries={s.entries if s.entries is not None else '-'}\t"
        f"next={fmt(s.next_fetch)}\terror={s.last_error or '-'}"
    )
    return line + ("\t(no longer configured)" if configured is False else "")


def status_record(status: SourceStatus, configured: bool | None) -> dict[str, Any]:
    """One source's status as JSON-ready data (``feedloom status --json``)."""

    def fmt(d: datetime | None) -> str | None:
        return d.isoformat().replace("+00:00", "Z") if d else None

    s = status
    return {
        "feed": s.feed,
        "source": s.source,
        "type": s.kind,
        "location": s.location,
        "configured": configured,
        "last_attempt": fmt(s.last_attempt),
        "last_success": fmt(s.last_success),
        "http_status": s.http_status,
        "entries": s.entries,
        "last_error": s.last_error,
        "next_fetch": fmt(s.next_fetch),
    }


def stale_sources(
    *, feeds_dir: Path, state_path: Path, now: datetime, max_age: timedelta
) -> list[str]:
    """Why each configured source is stale: no success within ``max_age`` of ``now``.

    A source no build has recorded yet counts as stale too: for monitoring, a cron
    job that never ran is the failure to catch.

    Raises:
        ConfigError: a feed file is invalid (a monitor should see that as a failure).
    """
    current = configured_sources(feeds_dir)
    recorded = {}
    if state_path.exists():
        with Store(state_path) as store:
            recorded = {(s.feed, s.source): s for s in store.statuses()}
    problems = []
    for (feed, key), (_kind, location) in sorted(current.items()):
        status = recorded.get((feed, key))
        if status is None or status.last_attempt is None:
            problems.append(f"{feed}: {location}: never built")
        elif status.last_success is None or now - status.last_success > max_age:
            since = (
                status.last_success.strftime("%Y-%m-%d %H:%M:%SZ")
                if status.last_success
                else "never"
            )
            error = f" (last error: {status.last_error})" if status.last_error else ""
            problems.append(f"{feed}: {location}: no success since {since}{error}")
    return problems


def _max_age_for(feeds_dir: Path) -> Callable[[str], int | None]:
    """Map each output file name to its feed's ttl in seconds (for Cache-Control)."""
    from feedloom.writers import FORMATS

    try:
        configs = load_feed_configs(feeds_dir)
    except FeedloomError:
        configs = []
    ages = {f"{c.name}{FORMATS[fmt]}": c.ttl * 60 for c in configs for fmt in c.formats}
    return ages.get


def _jobs(
    *,
    feeds_dir: Path,
    output_dir: Path,
    state_path: Path,
    wait: float,
    force: bool,
) -> list[Any]:
    """One scheduler job per feed; each run reloads the config, so edits apply on the next run."""
    from feedloom.build import prepare
    from feedloom.schedule import Job, parse_schedule

    configs = load_feed_configs(feeds_dir)
    prepare(configs)  # surface every config error before the service starts
    jobs = []
    for c in configs:
        try:
            trigger = parse_schedule(c.schedule, c.every, timezone=c.timezone.key)
        except ValueError as exc:
            key = "schedule" if c.schedule else "every"
            raise ConfigError(str(exc), path=str(c.path), key=key) from None
        run = partial(
            _scheduled_build,
            name=c.name,
            feeds_dir=feeds_dir,
            output_dir=output_dir,
            state_path=state_path,
            wait=wait,
            force=force,
        )
        jobs.append(Job(name=c.name, trigger=trigger, run=run))
    return jobs


def log_report(feed: FeedReport) -> None:
    """Log one build of one feed as a structured record (and its failed sources)."""
    from feedloom.logs import log_fields

    fields = log_fields(
        feed=feed.name,
        entries=feed.entries,
        new=feed.new,
        written=",".join(feed.written) or "-",
        failed=len(feed.failed_sources),
        duration=timedelta(seconds=feed.duration),
    )
    if feed.error:
        log.error("build failed: %s", feed.error, extra=fields)
    else:
        log.info("built", extra=fields)
    for location, message in feed.failed_sources:
        log.warning("source failed: %s", message, extra=log_fields(feed=feed.name, source=location))
    for warning in feed.warnings:
        log.warning("%s", warning, extra=log_fields(feed=feed.name))


def _scheduled_build(
    *, name: str, feeds_dir: Path, output_dir: Path, state_path: Path, wait: float, force: bool
) -> None:
    report = run_build(
        feeds_dir=feeds_dir,
        output_dir=output_dir,
        state_path=state_path,
        only=[name],
        wait=wait,
        force=force,
        respect_freshness=not force,
        echo=None,
    )
    for feed in report.feeds:
        log_report(feed)


def run_service(
    *,
    feeds_dir: Path,
    output_dir: Path,
    state_path: Path,
    wait: float,
    force: bool,
    stop_event: threading.Event | None = None,
    install_signal_handlers: bool = True,
) -> int:
    """Rebuild each feed on its schedule until SIGTERM/SIGINT (or ``stop_event``); return 0.

    Builds run one at a time (one worker), so two feeds never contend for the state
    lock inside one service; the first build of every feed runs at start.
    """
    from feedloom.schedule import run_scheduler

    jobs = _jobs(
        feeds_dir=feeds_dir, output_dir=output_dir, state_path=state_path, wait=wait, force=force
    )
    return run_scheduler(
        jobs,
        stop_event=stop_event,
        install_signal_handlers=install_signal_handlers,
        max_workers=1,
        misfire_grace_time=300,
    )


def serve_output(
    *,
    output_dir: Path,
    feeds_dir: Path,
    state_path: Path,
    host: str,
    port: int,
    schedule: bool,
    wait: float = 60.0,
) -> int:
    """Serve ``output_dir`` with waitress; with ``schedule``, run the scheduler beside it."""
    from feedloom.serve import serve

    stop = threading.Event()
    scheduler: threading.Thread | None = None
    if schedule:
        # Validate before binding the port: a bad config must fail fast, not after start.
        _jobs(
            feeds_dir=feeds_dir,
            output_dir=output_dir,
            state_path=state_path,
            wait=wait,
            force=False,
        )
        scheduler = threading.Thread(
            target=run_service,
            kwargs={
                "feeds_dir": feeds_dir,
                "output_dir": output_dir,
                "state_path": state_path,
                "wait": wait,
                "force": False,
                "stop_event": stop,
                "install_signal_handlers": False,
            },
            name="feedloom-scheduler",
        )

    def ready(bound_host: str, bound_port: int) -> None:
        # serve() has already logged "serving <dir> on http://host:port/" in the chosen
        # log format; a print here would put a non-JSON line into --log-format json.
        if scheduler is not None:
            scheduler.start()

    try:
        serve(output_dir, host=host, port=port, max_age_for=_max_age_for(feeds_dir), on_ready=ready)
    finally:
        stop.set()
        if scheduler is not None and scheduler.is_alive():
            scheduler.join()
    return 0
