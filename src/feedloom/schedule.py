"""Run builds on a schedule, and log in a form cron mail and log collectors can read.

Schedules
    A feed is rebuilt either on a crontab expression (:func:`parse_schedule` with
    ``cron="*/15 * * * *"``) or every fixed interval (``every="15m"``, see
    :func:`parse_every`). Crontab expressions mean what they mean to cron: 0 and 7
    are Sunday, and when both day-of-month and day-of-week are restricted a day
    matching *either* fires (APScheduler 3.x alone would read 0 as Monday and
    require both).

Running
    :func:`run_scheduler` runs one :class:`Job` per feed until SIGTERM/SIGINT or a
    ``stop_event``, never overlaps a job with itself, survives a job that raises,
    and lets a running job finish before returning.

Logging convention
    Structured values travel in ``extra={"fields": {...}}`` (or
    ``extra=log_fields(...)``)::

        logger.info("built", extra=log_fields(feed="news", entries=40, new=0,
                                              duration=timedelta(seconds=0.12)))

    :func:`configure_logging` renders that record as one line on stderr, either
    ``text``::

        2026-11-28T12:00:00Z INFO built feed=news entries=40 new=0 duration=0.12s

    or ``json`` (one object per line; ``ts``/``level``/``logger``/``msg``/``exc`` are
    reserved and a field with one of those names is written as ``field_<name>``)::

        {"ts": "2026-11-28T12:00:00.000Z", "level": "INFO", "logger": "feedloom.build",
         "msg": "built", "feed": "news", "entries": 40, "new": 0, "duration": 0.12}

    A ``timedelta`` renders as seconds (``0.12s`` in text, a number in JSON), a
    ``datetime`` as ISO 8601, text values with spaces are quoted in text mode. An
    empty message is left out of the text line. Non-ASCII stays as characters.
"""

from __future__ import annotations

import copy
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feedloom.config import parse_duration
from feedloom.errors import ConfigError, FeedloomError
from feedloom.logs import configure_logging, log_fields

__all__ = [
    "Job",
    "configure_logging",
    "log_fields",
    "parse_every",
    "parse_schedule",
    "run_scheduler",
]

logger = logging.getLogger("feedloom.schedule")

# --------------------------------------------------------------------------- parsing


def parse_every(text: str) -> timedelta:
    """Parse an interval such as ``"15m"`` (see :func:`feedloom.config.parse_duration`).

    Raises:
        ConfigError: (a ``ValueError``) naming the text and the expected form.
    """
    return parse_duration(text)


_CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_CRON_EXPECTED = "5 fields 'minute hour day-of-month month day-of-week', e.g. '*/15 * * * *'"
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def parse_schedule(
    cron: str | None,
    every: str | None,
    *,
    timezone: str = "UTC",
    default_every: str = "15m",
) -> BaseTrigger:
    """Turn a feed's schedule settings into an APScheduler trigger.

    Args:
        cron: a 5-field crontab expression (``"*/15 * * * *"``) or a macro such as
            ``"@hourly"``, evaluated in ``timezone`` with cron's own semantics.
        every: an interval for :func:`parse_every`; counted from when the trigger
            is created.
        timezone: IANA name the cron fields are read in.
        default_every: the interval used when neither ``cron`` nor ``every`` is set.

    Returns:
        A ``CronTrigger`` (an ``OrTrigger`` of two when both day fields are
        restricted) or an ``IntervalTrigger``.

    Raises:
        ConfigError: both ``cron`` and ``every`` set, an unknown time zone, or an
            invalid expression; the message names the expression and what was expected.
            Callers that know the config file and key should re-raise with them.
    """
    if cron is not None and every is not None:
        raise ConfigError(
            f"both cron {cron!r} and every {every!r} are set; a schedule takes one of them"
        )
    tz = _zone(timezone)
    if cron is not None:
        return _cron_trigger(cron, tz)
    interval = parse_every(every if every is not None else default_every)
    return IntervalTrigger(days=interval.days, seconds=interval.seconds, timezone=tz)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as e:
        raise ConfigError(
            f"unknown time zone {name!r}: expected an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from e


def _cron_trigger(expr: str, tz: ZoneInfo) -> BaseTrigger:
    if not isinstance(expr, str):
        raise ConfigError(f"cron expression {expr!r} must be a string: {_CRON_EXPECTED}")
    text = expr.strip()
    if text.startswith("@"):
        if text.lower() not in _CRON_MACROS:
            names = ", ".join(_CRON_MACROS)
            raise ConfigError(f"unsupported cron macro {expr!r}: expected one of {names}")
        text = _CRON_MACROS[text.lower()]
    fields = text.split()
    if len(fields) != 5:
        raise ConfigError(
            f"invalid cron expression {expr!r}: got {len(fields)} fields, expected {_CRON_EXPECTED}"
        )
    minute, hour, dom, month, dow = fields
    # Validate field by field so the message can say which one is wrong.
    for label, name, value in (
        ("minute", "minute", minute),
        ("hour", "hour", hour),
        ("day-of-month", "day", dom),
        ("month", "month", month),
    ):
        try:
            CronTrigger(timezone=tz, **{name: value})
        except ValueError as e:
            raise ConfigError(
                f"invalid cron expression {expr!r}: {label} field {value!r}: {e}"
            ) from e
    try:
        weekdays = _crontab_weekdays(dow)
    except ValueError as e:
        raise ConfigError(
            f"invalid cron expression {expr!r}: day-of-week field {dow!r}: {e}"
        ) from e

    common: dict[str, Any] = {"minute": minute, "hour": hour, "month": month, "timezone": tz}
    trigger: BaseTrigger
    # Vixie cron: when neither day field starts with "*", a day matching either one
    # fires ("0 0 13 * 5" is every 13th and every Friday). APScheduler ANDs them.
    if dom.startswith("*") or dow.startswith("*"):
        trigger = CronTrigger(day=dom, day_of_week=weekdays, **common)
    else:
        trigger = OrTrigger(
            [CronTrigger(day=dom, **common), CronTrigger(day_of_week=weekdays, **common)]
        )
    if trigger.get_next_fire_time(None, datetime.now(tz)) is None:
        raise ConfigError(f"cron expression {expr!r} never fires (a date such as February 30?)")
    return trigger


def _crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field into APScheduler day names.

    APScheduler 3.x numbers weekdays from Monday = 0, crontab from Sunday = 0 (and
    7), so numbers are never passed through: "1-5" must stay Monday to Friday
    (https://github.com/agronholm/apscheduler/issues/286).
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isascii() or not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"step {step_text!r} must be a whole number above 0")
            step = int(step_text)
        if base == "*":
            # cron's range here is 0-7, but 7 is Sunday again, so stepping 0-6
            # yields the same days.
            first, last = 0, 6
        else:
            low, dash, high = base.partition("-")
            if slash and not dash:
                raise ValueError(f"{item!r}: a step needs a range or '*', e.g. '1-5/2'")
            first = _weekday_number(low)
            last = _weekday_number(high) if dash else first
            if first > last:
                raise ValueError(f"range {base!r} must go from low to high")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday_number(token: str) -> int:
    if token.isascii() and token.isdigit() and int(token) <= 7:
        return int(token)
    if token.lower() in _WEEKDAYS:
        return _WEEKDAYS.index(token.lower())
    raise ValueError(f"{token!r} is not a weekday: expected 0-7 (0 and 7 are Sunday) or sun-sat")


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Job:
    """One scheduled unit of work, typically the build of one feed.

    Attributes:
        name: unique among the jobs given to :func:`run_scheduler`; appears in logs.
        trigger: when to run, e.g. from :func:`parse_schedule`.
        run: called with no arguments; its return value is ignored. Exceptions are
            logged and the schedule goes on.
    """

    name: str
    trigger: BaseTrigger
    run: Callable[[], object]


# How often the main thread looks at the stop flags. A signal cuts a wait short on
# POSIX, but the handler only sets a flag, so this bounds the reaction time.
_WAKE_INTERVAL = 0.1
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_scheduler(
    jobs: Sequence[Job],
    *,
    jitter: float | None = None,
    misfire_grace_time: int = 60,
    run_at_start: bool = True,
    stop_event: threading.Event | None = None,
    install_signal_handlers: bool = True,
    max_workers: int | None = None,
) -> int:
    """Run ``jobs`` on their triggers until SIGTERM/SIGINT or ``stop_event``.

    Each job runs at most once at a time (a run that comes due while the previous
    one is still going is skipped, and missed runs are coalesced into one). Jobs run
    in worker threads, by default one per job so a slow feed never delays another;
    jobs that share a :class:`~feedloom.lock.StateLock` will still wait for each other
    there.

    On a stop request no new run starts (runs already queued are skipped), runs in
    progress finish, and then the function returns. A second SIGTERM during that
    wait terminates the process at once (the original handlers are back by then).

    Args:
        jobs: what to run; names must be unique.
        jitter: add up to this many random seconds to each fire time, so many hosts
            or feeds do not hit a server at the same moment. The caller's triggers
            are not modified.
        misfire_grace_time: seconds a run may start late (e.g. after a suspend)
            before it is dropped as missed.
        run_at_start: run every job once immediately instead of waiting for the
            first fire time.
        stop_event: set it from another thread to stop (tests, ``serve --schedule``).
        install_signal_handlers: handle SIGTERM/SIGINT. Only possible in the main
            thread; pass ``False`` (and a ``stop_event``) elsewhere.
        max_workers: size of the worker pool; ``None`` means one per job.

    Returns:
        ``0``, the process exit status for an orderly stop.

    Raises:
        ValueError: no jobs, duplicate names, or a negative jitter.
        RuntimeError: signal handlers were requested outside the main thread.
    """
    _check_jobs(jobs)
    if jitter is not None and jitter < 0:
        raise ValueError(f"jitter must be >= 0 seconds, got {jitter!r}")
    if install_signal_handlers and threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "signal handlers can only be installed from the main thread; "
            "pass install_signal_handlers=False and stop with stop_event"
        )

    # Why a BackgroundScheduler with the main thread waiting, not a BlockingScheduler:
    # a BlockingScheduler parks the main thread in its own Event.wait(), so a signal
    # handler would have to call shutdown() from *inside* that wait, re-entering the
    # scheduler and blocking in the handler until the job finishes. Here the handler
    # only records the signal; the main thread notices it within _WAKE_INTERVAL and
    # shuts down in ordinary code.
    stop = stop_event if stop_event is not None else threading.Event()
    received: list[int] = []  # appended by the signal handler; list.append is atomic
    stopping = threading.Event()
    scheduler = BackgroundScheduler(
        timezone=UTC,  # explicit, so APScheduler never consults tzlocal
        executors={"default": ThreadPoolExecutor(max_workers or len(jobs))},
    )
    now = datetime.now(UTC)
    for job in jobs:
        options: dict[str, Any] = {}
        if run_at_start:
            # Omitted, not None: next_run_time=None would add the job paused.
            options["next_run_time"] = now
        scheduler.add_job(
            _guarded(job, stopping),
            trigger=_with_jitter(job.trigger, jitter),
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=misfire_grace_time,
            **options,
        )

    previous = _install_signal_handlers(received) if install_signal_handlers else {}
    try:
        scheduler.start()
        logger.info(
            "scheduler started",
            extra=log_fields(jobs=",".join(job.name for job in jobs), run_at_start=run_at_start),
        )
        while not stop.is_set() and not received:
            stop.wait(_WAKE_INTERVAL)
    finally:
        _restore_signal_handlers(previous)
        stopping.set()
        if scheduler.running:
            reason = signal.Signals(received[0]).name if received else "stop requested"
            logger.info("stopping; waiting for running jobs", extra=log_fields(reason=reason))
            # Paused first so the scheduler thread cannot submit a due run into an
            # executor that is shutting down.
            scheduler.pause()
            scheduler.shutdown(wait=True)
            logger.info("scheduler stopped")
    return 0


def _check_jobs(jobs: Sequence[Job]) -> None:
    if not jobs:
        raise ValueError("no jobs to schedule")
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            raise ValueError(f"duplicate job name {job.name!r}: names must be unique")
        seen.add(job.name)


def _with_jitter(trigger: BaseTrigger, jitter: float | None) -> BaseTrigger:
    if not jitter or not hasattr(trigger, "jitter"):
        return trigger
    trigger = copy.copy(trigger)
    trigger.jitter = jitter
    return trigger


def _guarded(job: Job, stopping: threading.Event) -> Callable[[], None]:
    """Wrap ``job.run`` so a failure is logged here and never reaches APScheduler."""

    def run() -> None:
        if stopping.is_set():
            logger.info("run skipped: shutting down", extra=log_fields(job=job.name))
            return
        started = time.monotonic()
        try:
            job.run()
        except FeedloomError as e:
            # Expected failures (a feed down, a bad page): the message says it all.
            logger.error(
                "run failed: %s",
                e,
                extra=log_fields(job=job.name, error=type(e).__name__, duration=_since(started)),
            )
        except Exception:
            logger.exception(
                "run failed with an unexpected error",
                extra=log_fields(job=job.name, duration=_since(started)),
            )
        else:
            logger.debug("run finished", extra=log_fields(job=job.name, duration=_since(started)))

    run.__name__ = run.__qualname__ = f"feedloom_job_{job.name}"
    return run


def _since(started: float) -> timedelta:
    return timedelta(seconds=time.monotonic() - started)


_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _install_signal_handlers(received: list[int]) -> dict[int, _Handler]:
    def handle(signum: int, frame: FrameType | None) -> None:
        # Only record it: locks or logging here could deadlock with the
        # interrupted main thread.
        received.append(signum)

    previous: dict[int, _Handler] = {}
    for signum in _STOP_SIGNALS:
        previous[signum] = signal.signal(signum, handle)
    return previous


def _restore_signal_handlers(previous: Mapping[int, _Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
