"""StateLock against real second processes holding a real flock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedloom.errors import LockTimeout, StoreError
from feedloom.lock import StateLock, lock_path_for

# Holds the lock until the parent closes our stdin, then releases and exits.
HOLDER = """
import sys
from pathlib import Path
from feedloom.lock import StateLock

lock = StateLock(Path(sys.argv[1]), wait=5)
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
lock.release()
"""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite"


@pytest.fixture
def holder(state: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate python process that holds the lock on ``state``."""
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-c", HOLDER, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "locked\n", "holder died before locking"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def test_lock_file_sits_beside_the_state_db(tmp_path: Path) -> None:
    assert lock_path_for(tmp_path / "state.sqlite") == tmp_path / "state.sqlite.lock"
    assert StateLock(tmp_path / "x" / "s.db").path == tmp_path / "x" / "s.db.lock"


def test_times_out_naming_lock_file_and_holder(state: Path, holder: subprocess.Popen[str]) -> None:
    lock = StateLock(state, wait=0.5)
    started = time.monotonic()
    with pytest.raises(LockTimeout) as info:
        lock.acquire()
    elapsed = time.monotonic() - started

    assert 0.45 <= elapsed < 3.0
    message = str(info.value)
    assert str(state) + ".lock" in message
    assert f"pid {holder.pid}" in message
    assert "another feedloom process" in message
    assert "0.5 s" in message
    assert info.value.path == str(state) + ".lock"
    assert info.value.exit_code == 75
    assert not lock.locked


def test_acquires_after_holder_exits(state: Path, holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=10) == 0
    with StateLock(state, wait=2) as lock:
        assert lock.locked
        assert lock.path.read_text() == f"{os.getpid()}\n"


def test_acquires_after_holder_is_killed(state: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=10) == -signal.SIGKILL
    # The dead holder could not clean up: its pid is still in the file, which
    # shows the pid is only informative and the kernel released the flock.
    assert lock_path_for(state).read_text() == f"{holder.pid}\n"

    started = time.monotonic()
    with StateLock(state, wait=2):
        assert time.monotonic() - started < 1.8  # not the 2 s wait
        assert lock_path_for(state).read_text() == f"{os.getpid()}\n"


def test_waiter_gets_lock_released_during_its_wait(
    state: Path, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None
    release = threading.Timer(0.3, holder.stdin.close)
    started = time.monotonic()
    release.start()
    try:
        with StateLock(state, wait=5):
            elapsed = time.monotonic() - started
    finally:
        release.cancel()
    assert 0.25 <= elapsed < 3.0


def test_two_locks_in_one_process_exclude_each_other(state: Path) -> None:
    first = StateLock(state)
    second = StateLock(state, wait=0)
    first.acquire()
    try:
        with pytest.raises(LockTimeout, match=f"pid {os.getpid()}"):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    second.release()


def test_context_manager_creates_dirs_writes_pid_and_empties_on_release(
    tmp_path: Path,
) -> None:
    state = tmp_path / "a" / "b" / "state.sqlite"
    with StateLock(state) as lock:
        assert (tmp_path / "a" / "b" / "state.sqlite.lock").read_text() == f"{os.getpid()}\n"
        assert not state.exists()  # the database is not ours to create
    assert not lock.locked
    assert lock.path.exists()
    assert lock.path.read_text() == ""
    lock.release()  # a second release is a harmless no-op


def test_lock_is_released_when_the_body_raises(state: Path) -> None:
    with pytest.raises(KeyError), StateLock(state):
        raise KeyError("boom")
    with StateLock(state, wait=0):
        pass


def test_not_reentrant(state: Path) -> None:
    with StateLock(state) as lock, pytest.raises(RuntimeError, match="already locked"):
        lock.acquire()


def test_uncreatable_lock_file_is_a_store_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(StoreError) as info:
        StateLock(not_a_dir / "state.sqlite").acquire()
    assert str(not_a_dir / "state.sqlite.lock") in str(info.value)
    assert info.value.__cause__ is not None


def test_negative_wait_is_rejected(state: Path) -> None:
    with pytest.raises(ValueError, match="wait"):
        StateLock(state, wait=-1)
