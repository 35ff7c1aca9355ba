"""The SQLite state store: first-seen times, HTTP caching state, entry history, source status.

It lives outside ``output/`` (default ``.feedloom/state.sqlite``). The schema is
versioned with ``PRAGMA user_version``; a file from a newer feedloom is refused
rather than silently altered. All writes of a build happen in one transaction
(:meth:`Store.transaction`), so a killed build leaves the previous state intact.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedloom.errors import StoreError
from feedloom.model import Author, Enclosure, Entry, SourceRef

__all__ = ["SourceStatus", "Store", "entry_from_dict", "entry_to_dict"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    feed TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (feed, entry_id)
);
CREATE TABLE IF NOT EXISTS http_state (
    url TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    source TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (source, entry_id)
);
CREATE TABLE IF NOT EXISTS source_status (
    source TEXT NOT NULL,
    feed TEXT NOT NULL,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    last_attempt TEXT,
    last_success TEXT,
    http_status INTEGER,
    entries INTEGER,
    last_error TEXT,
    next_fetch TEXT,
    PRIMARY KEY (feed, source)
);
"""


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """A JSON-ready dict of ``entry`` (datetimes as ISO 8601)."""
    data: dict[str, Any] = _as_dict(entry)
    data["published"] = _ts(entry.published)
    data["updated"] = _ts(entry.updated)
    return data


# Leaves dataclasses.asdict() would deep-copy although copying them changes nothing.
_IMMUTABLE = (str, int, float, type(None), datetime)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _as_dict(value: Any) -> Any:
    """``dataclasses.asdict(value)``, minus its deep copies of strings, numbers and dates.

    Runs for every entry of every build; asdict's ``copy.deepcopy`` of each leaf was
    most of a history write.
    """
    if isinstance(value, _IMMUTABLE):
        return value
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(value))
        return {name: _as_dict(getattr(value, name)) for name in names}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple, as asdict does
        return cls(*[_as_dict(v) for v in value])
    if isinstance(value, list | tuple):
        return cls(_as_dict(v) for v in value)
    if isinstance(value, dict):
        return cls((_as_dict(k), _as_dict(v)) for k, v in value.items())
    return copy.deepcopy(value)


def entry_from_dict(data: Mapping[str, Any]) -> Entry:
    """The inverse of :func:`entry_to_dict`."""
    source = data.get("source")
    return Entry(
        id=data["id"],
        title=data["title"],
        link=data.get("link"),
        summary=data.get("summary"),
        content=data.get("content"),
        published=_dt(data.get("published")),
        updated=_dt(data.get("updated")),
        authors=tuple(Author(**a) for a in data.get("authors", ())),
        categories=tuple(data.get("categories", ())),
        rank=data.get("rank"),
        source=SourceRef(**source) if source else None,
        also_from=tuple(SourceRef(**s) for s in data.get("also_from", ())),
        enclosures=tuple(Enclosure(**e) for e in data.get("enclosures", ())),
    )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What ``feedloom status`` shows for one source."""

    source: str
    feed: str
    kind: str
    location: str
    last_attempt: datetime | None
    last_success: datetime | None
    http_status: int | None
    entries: int | None
    last_error: str | None
    next_fetch: datetime | None


class Store:
    """A connection to the state file. Use as a context manager; close() when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE) so a
            # build's writes are one unit, never half-applied.
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the state database ({exc})", path=str(path)) from exc
        except OSError as exc:
            raise StoreError(
                f"cannot create the state folder ({exc.strerror})", path=str(path)
            ) from exc

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"state schema version {version} is newer than this feedloom understands "
                f"({SCHEMA_VERSION}); upgrade feedloom",
                path=str(self.path),
            )
        if version < SCHEMA_VERSION:
            # executescript commits any open transaction first, so the script is its own unit.
            self._db.executescript(
                "BEGIN IMMEDIATE;" + _SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes; rolled back on any exception."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- first-seen times -------------------------------------------------

    def first_seen(self, feed: str, ids: Iterable[str]) -> dict[str, datetime]:
        """Known first-seen times of ``ids`` in ``feed``."""
        ids = list(ids)
        found: dict[str, datetime] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT entry_id, first_seen FROM seen WHERE feed = ? AND entry_id IN ({marks})",  # noqa: S608
                [feed, *chunk],
            )
            found.update((eid, datetime.fromisoformat(ts)) for eid, ts in rows)
        return found

    def latest_seen(self, feed: str) -> datetime | None:
        """The newest first-seen time recorded in ``feed`` (a scope), if any."""
        row = self._db.execute(
            "SELECT max(first_seen) FROM seen WHERE feed = ?", (feed,)
        ).fetchone()
        return None if row[0] is None else datetime.fromisoformat(row[0])

    def record_seen(self, feed: str, times: Mapping[str, datetime]) -> None:
        """Record first-seen times; existing rows are never moved."""
        self._db.executemany(
            "INSERT OR IGNORE INTO seen (feed, entry_id, first_seen) VALUES (?, ?, ?)",
            [(feed, eid, _ts(when)) for eid, when in times.items()],
        )

    def forget_seen(self, feed: str, *, keep: Iterable[str], older_than: datetime) -> int:
        """Forget first-seen times in ``feed`` from before ``older_than``, but ``keep``'s.

        Returns:
            How many were forgotten.
        """
        rows = self._db.execute(
            "SELECT entry_id FROM seen WHERE feed = ? AND first_seen < ?",
            (feed, _ts(older_than)),
        ).fetchall()
        keep = set(keep)
        gone = [(feed, eid) for (eid,) in rows if eid not in keep]
        self._db.executemany("DELETE FROM seen WHERE feed = ? AND entry_id = ?", gone)
        return len(gone)

    # -- HTTP caching state -------------------------------------------------

    def http_state(self, url: str) -> dict[str, Any] | None:
        """The stored HTTP state dict of ``url``, if any."""
        row = self._db.execute("SELECT state FROM http_state WHERE url = ?", (url,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_http_state(self, url: str, state: Mapping[str, Any]) -> None:
        """Store the HTTP state dict of ``url``."""
        self._db.execute(
            "INSERT INTO http_state (url, state) VALUES (?, ?) "
            "ON CONFLICT(url) DO UPDATE SET state = excluded.state",
            (url, json.dumps(state, sort_keys=True, default=str)),
        )

    # -- entry history of external sources ----------------------------------

    def history(self, source: str) -> list[Entry]:
        """Every kept entry of ``source``, newest first-seen first."""
        rows = self._db.execute(
            "SELECT entry FROM history WHERE source = ? ORDER BY first_seen DESC, entry_id",
            (source,),
        )
        return [entry_from_dict(json.loads(r[0])) for r in rows]

    def put_history(self, source: str, entries: Iterable[Entry], now: datetime) -> None:
        """Insert or refresh ``entries`` of ``source``, seen at ``now``."""
        stamp = _ts(now)
        self._db.executemany(
            "INSERT INTO history (source, entry_id, entry, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(source, entry_id) DO UPDATE SET "
            "entry = excluded.entry, last_seen = excluded.last_seen",
            [
                (
                    source,
                    e.id,
                    json.dumps(entry_to_dict(e), ensure_ascii=False, sort_keys=True),
                    stamp,
                    stamp,
                )
                for e in entries
            ],
        )

    def prune_history(self, source: str, *, keep: int, older_than: datetime | None) -> int:
        """Drop entries beyond the newest ``keep`` or last seen before ``older_than``."""
        cur = self._db.execute(
            "DELETE FROM history WHERE source = ? AND entry_id NOT IN ("
            " SELECT entry_id FROM history WHERE source = ? "
            " ORDER BY last_seen DESC, first_seen DESC, entry_id LIMIT ?)",
            (source, source, keep),
        )
        removed = cur.rowcount
        if older_than is not None:
            cur = self._db.execute(
                "DELETE FROM history WHERE source = ? AND last_seen < ?", (source, _ts(older_than))
            )
            removed += cur.rowcount
        return removed

    # -- source status -------------------------------------------------------

    def put_status(self, status: SourceStatus) -> None:
        """Record the outcome of the last attempt at a source."""
        self._db.execute(
            "INSERT OR REPLACE INTO source_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                status.source,
                status.feed,
                status.kind,
                status.location,
                _ts(status.last_attempt),
                _ts(status.last_success),
                status.http_status,
                status.entries,
                status.last_error,
                _ts(status.next_fetch),
            ),
        )

    def status(self, feed: str, source: str) -> SourceStatus | None:
        """The recorded status of one source of one feed."""
        rows = [s for s in self.statuses(feed=feed) if s.source == source]
        return rows[0] if rows else None

    def statuses(self, *, feed: str | None = None) -> list[SourceStatus]:
        """Recorded statuses, by feed then source."""
        sql = "SELECT * FROM source_status"
        args: tuple[Any, ...] = ()
        if feed is not None:
            sql += " WHERE feed = ?"
            args = (feed,)
        rows = self._db.execute(sql + " ORDER BY feed, source", args).fetchall()
        return [
            SourceStatus(
                source=r[0],
                feed=r[1],
                kind=r[2],
                location=r[3],
                last_attempt=_dt(r[4]),
                last_success=_dt(r[5]),
                http_status=r[6],
                entries=r[7],
                last_error=r[8],
                next_fetch=_dt(r[9]),
            )
            for r in rows
        ]

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``'s answer (``ok`` when healthy)."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
