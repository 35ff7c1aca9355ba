"""An inter-process lock on the state store, so two cron runs never build at once.

The lock is ``flock(2)`` on a file beside the state database (``state.sqlite`` →
``state.sqlite.lock``). The kernel drops an ``flock`` when the last descriptor of
the open file goes away, so a holder that crashes or is killed with SIGKILL never
leaves a stale lock behind, and there is nothing to clean up by hand.

The holder writes its pid into the file. That is only for the error message of a
process that gives up waiting; the pid is never used to decide who holds the lock.

Scope:

* Two :class:`StateLock` objects exclude each other even inside one process,
  because ``flock`` locks belong to the open file description, not the process
  (unlike ``fcntl``/POSIX record locks).
* One :class:`StateLock` object is not re-entrant and not meant to be shared by
  threads: use one object per acquirer.
* A child created with a bare ``fork()`` (no ``exec``) while the lock is held shares
  the descriptor and so keeps the lock alive until it exits as well. Descriptors are
  not inherited across ``exec``, so ``subprocess`` children do not.
* ``flock`` is advisory and local; on NFS it may not exclude processes on other hosts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from feedloom.errors import LockTimeout, StoreError

__all__ = ["StateLock", "lock_path_for"]

# Short enough that a freed lock is picked up promptly, long enough not to spin.
_POLL_INTERVAL = 0.05


def lock_path_for(state_path: Path) -> Path:
    """Return the lock file that guards ``state_path``: the same name plus ``.lock``."""
    state_path = Path(state_path)
    return state_path.with_name(state_path.name + ".lock")


class StateLock:
    """Exclusive lock on a state store, shared by every feedloom process on the host.

    Use as a context manager::

        with StateLock(Path("state/state.sqlite"), wait=10):
            build(...)

    Args:
        state_path: the state database the lock guards. The lock file is created
            beside it (parent directories too); the database itself is not touched.
        wait: seconds to keep trying before giving up with :class:`LockTimeout`.
            ``0`` tries once.

    Raises:
        ValueError: if ``wait`` is negative.
    """

    def __init__(self, state_path: Path, *, wait: float = 10.0) -> None:
        if wait < 0:
            raise ValueError(f"wait must be >= 0 seconds, got {wait!r}")
        self.state_path = Path(state_path)
        self.path = lock_path_for(self.state_path)
        self.wait = wait
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, polling until ``wait`` seconds have passed.

        Raises:
            LockTimeout: another process (or another :class:`StateLock`) held the lock
                for the whole wait; the message names the lock file and the holder's pid.
            StoreError: the lock file cannot be created or locked (permissions, a file
                where a directory should be, a filesystem without ``flock``).
            RuntimeError: this object already holds the lock (it is not re-entrant).
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this StateLock")
        fd = self._open()
        try:
            self._lock(fd)
            # Only the holder writes, so truncating here cannot clobber another pid.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Give the lock up. Does nothing if it is not held, so it is safe in ``finally``."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Empty the file while still holding the lock so a waiter never reads our
            # pid after we are gone. The file itself stays: deleting a lock file lets
            # a late opener lock the old inode while a new opener locks a new one.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "locked" if self.locked else "unlocked"
        return f"<StateLock {str(self.path)!r} {state}>"

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_CLOEXEC is Python's default; spelled out because an inherited
            # descriptor would keep the lock alive in a child process.
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StoreError(
                "cannot create the state lock file (is the state directory writable?)",
                path=str(self.path),
            ) from e

    def _lock(self, fd: int) -> None:
        started = time.monotonic()
        deadline = started + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            except OSError as e:
                raise StoreError(
                    "cannot lock the state lock file (does this filesystem support flock?)",
                    path=str(self.path),
                ) from e
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(_POLL_INTERVAL, remaining))
        waited = time.monotonic() - started
        holder = _read_pid(fd)
        who = f"pid {holder}" if holder is not None else "pid unknown"
        raise LockTimeout(
            f"another feedloom process ({who}) holds the state lock; "
            f"gave up after waiting {waited:.1f} s",
            path=str(self.path),
        )


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote, or ``None`` if it is not (yet) readable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
