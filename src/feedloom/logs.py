"""Logging set-up: one line per record on stderr, as text or JSON.

Structured values travel in ``extra={"fields": {...}}`` (or ``extra=log_fields(...)``)::

    logger.info("built", extra=log_fields(feed="news", entries=40, new=0,
                                          duration=timedelta(seconds=0.12)))

renders as ``2026-11-28T12:00:00Z INFO built feed=news entries=40 new=0 duration=0.12s``
or, with ``json``, one object per line (``ts``/``level``/``logger``/``msg``/``exc`` are
reserved; a field with one of those names is written as ``field_<name>``). A
``timedelta`` renders as seconds, a ``datetime`` as ISO 8601; non-ASCII stays as
characters. Kept apart from :mod:`feedloom.schedule` so the CLI can set up logging
without importing APScheduler.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal, TextIO

from feedloom.errors import ConfigError

__all__ = ["configure_logging", "log_fields"]


_HANDLER_MARK = "_feedloom_handler"
_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc", "stack"})


def log_fields(**fields: object) -> dict[str, object]:
    """Build the ``extra`` argument that carries structured fields to the formatters.

    ``logger.info("built", extra=log_fields(feed="news", new=3))`` is the same as
    ``extra={"fields": {"feed": "news", "new": 3}}``.
    """
    return {"fields": fields}


def configure_logging(
    fmt: Literal["text", "json"],
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
) -> None:
    """Send all log records to ``stream`` (stderr) as text or JSON lines.

    Installs one handler on the root logger, replacing one installed by an earlier
    call (other handlers are left alone). APScheduler's per-run chatter is kept at
    WARNING unless ``level`` is DEBUG.

    Raises:
        ConfigError: unknown ``fmt`` or ``level``.
    """
    formatter: logging.Formatter
    if fmt == "text":
        formatter = _TextFormatter()
    elif fmt == "json":
        formatter = _JsonFormatter()
    else:
        raise ConfigError(f"unknown log format {fmt!r}: expected 'text' or 'json'")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else None
    if not isinstance(numeric, int):
        raise ConfigError(
            f"unknown log level {level!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.getLogger("apscheduler").setLevel(
        logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    )


def _record_fields(record: logging.LogRecord) -> Mapping[str, object]:
    fields = getattr(record, "fields", None)
    if fields is None:
        return {}
    if isinstance(fields, Mapping):
        return fields
    return {"fields": fields}


def _timestamp(created: float, *, millis: bool) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _iso(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class _TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <msg> key=value ...``, logfmt-style values."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record.created, millis=False), record.levelname]
        message = record.getMessage()
        if message:
            parts.append(message)
        parts.extend(f"{key}={_text_value(value)}" for key, value in _record_fields(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _text_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.2f}s"
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if not text or any(c.isspace() or c in '"=\\' or not c.isprintable() for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": _timestamp(record.created, millis=True),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _record_fields(record).items():
            data[f"field_{key}" if key in _RESERVED else key] = _json_value(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False)


def _json_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # NaN and infinities are not JSON.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    return str(value)
