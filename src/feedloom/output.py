"""Atomic, change-only publishing of output files.

A file is rewritten only when its bytes differ, via a temporary file in the same
folder and ``os.replace``: readers of the file see the old or the new complete
version, never a mix, and an unchanged rebuild keeps mtimes (and thus HTTP
ETag/Last-Modified caches) valid.
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

from feedloom.errors import WriteError

__all__ = ["publish"]


def publish(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically if it differs from what is there.

    Returns:
        True when the file was written, False when it already held ``data``.

    Raises:
        WriteError: when the folder or file cannot be written; the old file is intact.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise WriteError(f"cannot read the existing file ({exc.strerror})", path=str(path)) from exc
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            # fsync before rename: after a power cut the name must not point at an empty file.
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would hide feeds from a web server user
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise WriteError(f"cannot write the output file ({exc.strerror})", path=str(path)) from exc
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files a killed earlier build left beside ``path``.

    Builds hold the state lock, so no other writer can own such a file now.
    """
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
