"""Schedules, the scheduler loop (in threads and in a real process) and log formats.

Expected fire times were worked out by hand from a calendar: 2026-11-28 is a
Saturday, so the next Sunday is 11-29, Monday 11-30, Friday 12-04.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feedloom.errors import ConfigError, FetchError
from feedloom.schedule import (
    Job,
    configure_logging,
    log_fields,
    parse_every,
    parse_schedule,
    run_scheduler,
)

SAT_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fire_times(trigger: Any, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``start``, in UTC."""
    times = []
    now = start + timedelta(seconds=1)
    for _ in range(count):
        fire = trigger.get_next_fire_time(None, now)
        times.append(fire.astimezone(UTC))
        now = fire + timedelta(seconds=1)
    return times


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- parse_every


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("45s", timedelta(seconds=45)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        (" 15m ", timedelta(minutes=15)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90m", timedelta(hours=1, minutes=30)),
        ("0h5m", timedelta(minutes=5)),
    ],
)
def test_parse_every(text: str, expected: timedelta) -> None:
    assert parse_every(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("90", "'90' has no unit: write '90s' or '90m'"),
        ("", "invalid duration ''"),
        ("  ", "invalid duration"),
        ("1.5h", "expected a whole number and a unit"),
        ("30m1h", "largest first"),
        ("15min", "invalid duration '15min'"),
        ("10M", "invalid duration '10M'"),
        ("-5m", "invalid duration"),
        ("1h1h", "invalid duration"),
        ("0s", "must be longer than zero"),
        ("0h0m", "must be longer than zero"),
        ("9999999999d", "too long"),
        ("١٠m", "invalid duration"),  # Arabic-Indic digits are not accepted
    ],
)
def test_parse_every_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_every(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_every_rejects_a_number_from_toml() -> None:
    with pytest.raises(ConfigError, match="must be a string with a unit"):
        parse_every(90)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parse_schedule


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("*/15 * * * *", [utc(2026, 11, 28, 12, 15), utc(2026, 11, 28, 12, 30)]),
        ("0 * * * *", [utc(2026, 11, 28, 13), utc(2026, 11, 28, 14)]),
        ("@hourly", [utc(2026, 11, 28, 13), utc(2026, 11, 28, 14)]),
        ("@daily", [utc(2026, 11, 29), utc(2026, 11, 30)]),
        # Crontab weekdays: 0 and 7 are Sunday, 1-5 Monday to Friday.
        ("0 0 * * 0", [utc(2026, 11, 29), utc(2026, 12, 6)]),
        ("0 0 * * 7", [utc(2026, 11, 29), utc(2026, 12, 6)]),
        ("0 0 * * sun", [utc(2026, 11, 29), utc(2026, 12, 6)]),
        ("@weekly", [utc(2026, 11, 29), utc(2026, 12, 6)]),
        ("0 9 * * 1-5", [utc(2026, 11, 30, 9), utc(2026, 12, 1, 9), utc(2026, 12, 2, 9)]),
        ("0 9 * * MON-FRI", [utc(2026, 11, 30, 9), utc(2026, 12, 1, 9), utc(2026, 12, 2, 9)]),
        ("0 0 * * 5-7", [utc(2026, 11, 29), utc(2026, 12, 4), utc(2026, 12, 5)]),
        # */2 is Sunday, Tuesday, Thursday, Saturday in cron.
        ("0 0 * * */2", [utc(2026, 11, 29), utc(2026, 12, 1), utc(2026, 12, 3), utc(2026, 12, 5)]),
        ("0 0 * * 1-5/2", [utc(2026, 11, 30), utc(2026, 12, 2), utc(2026, 12, 4)]),
        ("0 0 * * 1,3", [utc(2026, 11, 30), utc(2026, 12, 2), utc(2026, 12, 7)]),
        # Both day fields restricted: the 13th OR any Friday (Vixie cron).
        ("0 0 13 * 5", [utc(2026, 12, 4), utc(2026, 12, 11), utc(2026, 12, 13), utc(2026, 12, 18)]),
        # A day field starting with "*" counts as unrestricted: odd days that are Sundays.
        ("0 0 */2 * 0", [utc(2026, 11, 29), utc(2026, 12, 13), utc(2026, 12, 27)]),
        ("30 6 1 jan *", [utc(2027, 1, 1, 6, 30), utc(2028, 1, 1, 6, 30)]),
    ],
)
def test_parse_schedule_cron(cron: str, expected: list[datetime]) -> None:
    trigger = parse_schedule(cron, None)
    assert fire_times(trigger, SAT_NOON, len(expected)) == expected


def test_parse_schedule_cron_uses_the_time_zone() -> None:
    trigger = parse_schedule("0 9 * * *", None, timezone="Europe/Berlin")
    # 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    assert fire_times(trigger, SAT_NOON, 1) == [utc(2026, 11, 29, 8)]
    assert fire_times(trigger, utc(2026, 7, 1), 1) == [utc(2026, 7, 1, 7)]


@pytest.mark.parametrize(
    ("every", "default", "expected"),
    [
        ("10m", "15m", timedelta(minutes=10)),
        (None, "15m", timedelta(minutes=15)),
        (None, "1h", timedelta(hours=1)),
        ("2d", "15m", timedelta(days=2)),
    ],
)
def test_parse_schedule_interval(every: str | None, default: str, expected: timedelta) -> None:
    trigger = parse_schedule(None, every, default_every=default, timezone="Asia/Shanghai")
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == expected
    assert trigger.timezone == ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("cron", "every", "timezone", "messages"),
    [
        ("*/15 * * * *", "15m", "UTC", ["both cron '*/15 * * * *' and every '15m'"]),
        ("* * * *", None, "UTC", ["'* * * *'", "got 4 fields, expected 5", "minute hour"]),
        ("* * * * * *", None, "UTC", ["got 6 fields"]),
        ("", None, "UTC", ["got 0 fields"]),
        ("61 * * * *", None, "UTC", ["'61 * * * *'", "minute field '61'", "59"]),
        ("0 24 * * *", None, "UTC", ["hour field '24'"]),
        ("0 0 0 * *", None, "UTC", ["day-of-month field '0'"]),
        ("0 0 * 13 *", None, "UTC", ["month field '13'"]),
        ("*/0 * * * *", None, "UTC", ["minute field '*/0'"]),
        ("0 0 * * 8", None, "UTC", ["day-of-week field '8'", "0-7", "sun-sat"]),
        ("0 0 * * funday", None, "UTC", ["day-of-week field 'funday'"]),
        ("0 0 * * 5-1", None, "UTC", ["low to high"]),
        ("0 0 * * 5/2", None, "UTC", ["a step needs a range"]),
        ("0 0 * * */0", None, "UTC", ["above 0"]),
        ("0 0 * * 1,,2", None, "UTC", ["day-of-week field '1,,2'"]),
        ("0 0 30 2 *", None, "UTC", ["'0 0 30 2 *' never fires"]),
        ("@reboot", None, "UTC", ["unsupported cron macro '@reboot'", "@hourly"]),
        ("*/15 * * * *", None, "Mars/Olympus", ["unknown time zone 'Mars/Olympus'", "IANA"]),
        (None, "15m", "../etc/passwd", ["unknown time zone"]),
        (None, "soon", "UTC", ["invalid duration 'soon'"]),
    ],
)
def test_parse_schedule_rejects(
    cron: str | None, every: str | None, timezone: str, messages: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_schedule(cron, every, timezone=timezone)
    for message in messages:
        assert message in str(info.value)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- run_scheduler

UTC_ZONE = ZoneInfo("UTC")


def every(seconds: float) -> IntervalTrigger:
    return IntervalTrigger(seconds=seconds, timezone=UTC_ZONE)


class SchedulerThread:
    """run_scheduler in a thread, stopped (and joined) by the fixture."""

    def __init__(self, jobs: Sequence[Job], **options: Any) -> None:
        self.stop = threading.Event()
        self.result: int | None = None
        self.error: BaseException | None = None
        self.started_at = time.monotonic()
        self.returned_at: float | None = None
        self.on_return: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._main, args=(jobs, options))
        self._thread.start()

    def _main(self, jobs: Sequence[Job], options: dict[str, Any]) -> None:
        try:
            self.result = run_scheduler(
                jobs, stop_event=self.stop, install_signal_handlers=False, **options
            )
        except BaseException as e:
            self.error = e
        self.returned_at = time.monotonic()
        self.on_return()

    def finish(self, timeout: float = 5.0) -> int | None:
        self.stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "run_scheduler did not return"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def start() -> Iterator[Callable[..., SchedulerThread]]:
    running: list[SchedulerThread] = []

    def start(jobs: Sequence[Job], **options: Any) -> SchedulerThread:
        thread = SchedulerThread(jobs, **options)
        running.append(thread)
        return thread

    yield start
    for thread in running:
        thread.finish()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_runs_at_start_and_repeatedly(start: Callable[..., SchedulerThread]) -> None:
    runs: list[float] = []
    sched = start([Job("count", every(1.0), lambda: runs.append(time.monotonic()))])
    assert wait_until(lambda: len(runs) >= 2, timeout=4.0), runs
    assert sched.finish() == 0
    assert runs[0] - sched.started_at < 0.9  # first run immediately, not after 1 s
    assert runs[1] - runs[0] >= 0.9  # then on the interval


def test_run_at_start_false_waits_for_the_trigger(start: Callable[..., SchedulerThread]) -> None:
    runs: list[float] = []
    sched = start(
        [Job("count", every(1.0), lambda: runs.append(time.monotonic()))], run_at_start=False
    )
    assert wait_until(lambda: len(runs) >= 1, timeout=4.0)
    sched.finish()
    assert runs[0] - sched.started_at >= 0.7


def test_a_slow_job_never_overlaps_itself(start: Callable[..., SchedulerThread]) -> None:
    lock = threading.Lock()
    active = 0
    most_active = 0
    finished = 0

    def slow() -> None:
        nonlocal active, most_active, finished
        with lock:
            active += 1
            most_active = max(most_active, active)
        time.sleep(0.4)  # four intervals
        with lock:
            active -= 1
            finished += 1

    sched = start([Job("slow", every(0.1), slow)])
    assert wait_until(lambda: finished >= 3, timeout=4.0)
    sched.finish()
    assert most_active == 1


def test_a_slow_job_does_not_delay_another(start: Callable[..., SchedulerThread]) -> None:
    fast_runs: list[float] = []
    slow_done = threading.Event()

    def slow() -> None:
        time.sleep(1.0)
        slow_done.set()

    sched = start(
        [Job("slow", every(30), slow), Job("fast", every(0.2), lambda: fast_runs.append(1))]
    )
    assert slow_done.wait(3.0)
    during_slow = len(fast_runs)
    sched.finish()
    assert during_slow >= 3


def test_a_raising_job_is_logged_and_the_schedule_goes_on(
    start: Callable[..., SchedulerThread], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedloom.schedule")
    attempts: list[int] = []

    def broken() -> None:
        attempts.append(1)
        raise RuntimeError(f"boom {len(attempts)}")

    sched = start([Job("broken", every(0.2), broken)])
    assert wait_until(lambda: len(attempts) >= 3, timeout=3.0)
    assert sched.finish() == 0

    failures = [
        r for r in caplog.records if r.name == "feedloom.schedule" and r.levelno == logging.ERROR
    ]
    assert len(failures) >= 2
    assert failures[0].exc_info is not None  # a bug: keep the traceback
    assert "boom 1" in str(failures[0].exc_info[1])
    assert failures[0].fields["job"] == "broken"  # type: ignore[attr-defined]


def test_a_feedloom_error_is_logged_without_traceback(
    start: Callable[..., SchedulerThread], caplog: pytest.LogCaptureFixture
) -> None:
    def down() -> None:
        raise FetchError("HTTP 503", url="http://127.0.0.1:9/feed")

    ran = threading.Event()
    sched = start([Job("remote", every(30), lambda: (ran.set(), down()))])
    assert ran.wait(3.0)
    assert wait_until(lambda: any(r.levelno == logging.ERROR for r in caplog.records), timeout=2.0)
    sched.finish()
    [record] = [
        r for r in caplog.records if r.name == "feedloom.schedule" and r.levelno == logging.ERROR
    ]
    assert record.exc_info is None
    assert "http://127.0.0.1:9/feed: HTTP 503" in record.getMessage()
    assert record.fields["error"] == "FetchError"  # type: ignore[attr-defined]


def test_stop_event_waits_for_the_running_job(start: Callable[..., SchedulerThread]) -> None:
    began = threading.Event()
    finished = threading.Event()
    runs: list[int] = []

    def slow() -> None:
        runs.append(1)
        began.set()
        time.sleep(0.6)
        finished.set()

    sched = start([Job("slow", every(0.1), slow)])
    finished_when_returned: list[bool] = []
    sched.on_return = lambda: finished_when_returned.append(finished.is_set())
    assert began.wait(3.0)
    stop_requested = time.monotonic()
    assert sched.finish() == 0
    assert finished_when_returned == [True]
    assert sched.returned_at is not None
    assert sched.returned_at - stop_requested >= 0.3  # it really waited for the job
    assert runs == [1]  # and started nothing after the stop


def test_jitter_leaves_the_callers_trigger_alone(start: Callable[..., SchedulerThread]) -> None:
    trigger = every(0.2)
    runs: list[int] = []
    sched = start([Job("j", trigger, lambda: runs.append(1))], jitter=0.1)
    assert wait_until(lambda: len(runs) >= 2, timeout=3.0)
    sched.finish()
    assert trigger.jitter is None


@pytest.mark.parametrize(
    ("jobs", "options", "message"),
    [
        ([], {}, "no jobs"),
        ([Job("a", every(1), print), Job("a", every(2), print)], {}, "duplicate job name 'a'"),
        ([Job("a", every(1), print)], {"jitter": -1}, "jitter"),
    ],
)
def test_run_scheduler_rejects_bad_arguments(
    jobs: list[Job], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_scheduler(jobs, install_signal_handlers=False, **options)


def test_signal_handlers_need_the_main_thread() -> None:
    errors: list[BaseException] = []

    def main() -> None:
        try:
            run_scheduler([Job("a", every(1), print)], install_signal_handlers=True)
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "install_signal_handlers=False" in str(errors[0])


# A real process: the job writes a file slowly (temp file + os.replace) and counts
# its runs; the test signals it mid-run.
WRITER = """
import os, sys, time
from pathlib import Path
from zoneinfo import ZoneInfo
from apscheduler.triggers.interval import IntervalTrigger
from feedloom.schedule import Job, configure_logging, run_scheduler

out, runs = Path(sys.argv[1]), Path(sys.argv[2])

def write():
    with runs.open("a") as f:
        f.write("run\\n")
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w") as f:
        for i in range(8):
            f.write(f"line {i}\\n")
            f.flush()
            time.sleep(0.1)
        f.write("end\\n")
    os.replace(tmp, out)

configure_logging("json", "INFO")
trigger = IntervalTrigger(seconds=0.2, timezone=ZoneInfo("UTC"))
sys.exit(run_scheduler([Job("writer", trigger, write)]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_lets_the_running_job_finish_then_exits_0(tmp_path: Path, signum: int) -> None:
    out, runs = tmp_path / "feed.xml", tmp_path / "runs.txt"
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-c", WRITER, str(out), str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(runs.exists, timeout=10.0), "the job never started"
        time.sleep(0.2)  # well inside the 0.8 s write
        assert not out.exists()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert out.read_text() == "".join(f"line {i}\n" for i in range(8)) + "end\n"
    assert runs.read_text() == "run\n"  # no new run after the signal
    assert not (tmp_path / "feed.xml.tmp").exists()

    logs = [json.loads(line) for line in stderr.splitlines()]
    # APScheduler's own warnings (runs skipped while the job is busy) are expected.
    messages = [entry["msg"] for entry in logs if entry["logger"] == "feedloom.schedule"]
    assert messages == [
        "scheduler started",
        "stopping; waiting for running jobs",
        "scheduler stopped",
    ]
    [stopping] = [entry for entry in logs if entry["msg"].startswith("stopping")]
    assert stopping["reason"] == signal.Signals(signum).name
    assert stdout == ""


# --------------------------------------------------------------------------- logging


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Our handler on the root logger, writing to a buffer; root state restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("apscheduler").level)
    yield io.StringIO()
    for handler in list(root.handlers):
        if handler not in saved[0]:
            root.removeHandler(handler)
    root.setLevel(saved[1])
    logging.getLogger("apscheduler").setLevel(saved[2])


def emit(message: str, *args: object, fields: dict[str, object] | None = None) -> None:
    """Log a record stamped 2026-11-28T12:00:00Z through the configured handlers."""
    record = logging.LogRecord("feedloom.build", logging.INFO, __file__, 1, message, args, None)
    record.created = SAT_NOON.timestamp()
    if fields is not None:
        record.fields = fields
    logging.getLogger("feedloom.build").handle(record)


BUILD_FIELDS: dict[str, object] = {
    "feed": "news",
    "entries": 40,
    "new": 0,
    "failed": 0,
    "duration": timedelta(seconds=0.123),
}


def test_text_log_line(log_stream: io.StringIO) -> None:
    configure_logging("text", stream=log_stream)
    emit("", fields=BUILD_FIELDS)
    emit("built %s", "新闻", fields={"title": "中文 标题", "ok": True, "etag": None, "q": 'a"b'})
    assert log_stream.getvalue().splitlines() == [
        "2026-11-28T12:00:00Z INFO feed=news entries=40 new=0 failed=0 duration=0.12s",
        '2026-11-28T12:00:00Z INFO built 新闻 title="中文 标题" ok=true etag=null q="a\\"b"',
    ]


def test_json_log_line(log_stream: io.StringIO) -> None:
    configure_logging("json", stream=log_stream)
    emit(
        "built %s",
        "新闻",
        fields={
            **BUILD_FIELDS,
            "msg": "clash",
            "at": datetime(2026, 11, 28, 11, 59, tzinfo=UTC),
            "ratio": float("nan"),
            "tags": ("a", "b"),
        },
    )
    line = log_stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert "新闻" in line  # characters, not \\u escapes
    assert json.loads(line) == {
        "ts": "2026-11-28T12:00:00.000Z",
        "level": "INFO",
        "logger": "feedloom.build",
        "msg": "built 新闻",
        "feed": "news",
        "entries": 40,
        "new": 0,
        "failed": 0,
        "duration": 0.123,
        "field_msg": "clash",
        "at": "2026-11-28T11:59:00Z",
        "ratio": "nan",
        "tags": ["a", "b"],
    }


def test_log_fields_is_the_extra_convention(log_stream: io.StringIO) -> None:
    configure_logging("json", stream=log_stream)
    logging.getLogger("feedloom.build").info("built", extra=log_fields(feed="news", new=3))
    entry = json.loads(log_stream.getvalue())
    assert (entry["msg"], entry["feed"], entry["new"]) == ("built", "news", 3)


def test_exceptions_are_logged_in_both_formats(log_stream: io.StringIO) -> None:
    log = logging.getLogger("feedloom.build")
    configure_logging("json", stream=log_stream)
    try:
        raise ValueError("bad thing")
    except ValueError:
        log.exception("failed", extra=log_fields(feed="news"))
    entry = json.loads(log_stream.getvalue())
    assert entry["level"] == "ERROR"
    assert entry["exc"].startswith("Traceback")
    assert entry["exc"].endswith("ValueError: bad thing")

    text = io.StringIO()
    configure_logging("text", stream=text)
    try:
        raise ValueError("bad thing")
    except ValueError:
        log.exception("failed", extra=log_fields(feed="news"))
    first, *rest = text.getvalue().splitlines()
    assert first.endswith(" ERROR failed feed=news")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: bad thing"


def test_configure_logging_level_and_replacement(log_stream: io.StringIO) -> None:
    configure_logging("text", "warning", stream=io.StringIO())
    configure_logging("text", "WARNING", stream=log_stream)  # replaces, not adds
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_feedloom_handler", False)]
    assert len(ours) == 1
    log = logging.getLogger("feedloom.build")
    log.info("hidden")
    log.warning("shown")
    assert log_stream.getvalue().splitlines()[0].endswith(" WARNING shown")
    assert len(log_stream.getvalue().splitlines()) == 1
    assert logging.getLogger("apscheduler").level == logging.WARNING

    configure_logging("text", "DEBUG", stream=log_stream)
    assert logging.getLogger("apscheduler").level == logging.DEBUG


@pytest.mark.parametrize(
    ("fmt", "level", "message"),
    [
        ("yaml", "INFO", "unknown log format 'yaml'"),
        ("text", "LOUD", "unknown log level 'LOUD'"),
    ],
)
def test_configure_logging_rejects(
    log_stream: io.StringIO, fmt: str, level: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        configure_logging(fmt, level, stream=log_stream)  # type: ignore[arg-type]


def test_cron_trigger_type_for_simple_expressions() -> None:
    assert isinstance(parse_schedule("*/15 * * * *", None), CronTrigger)
