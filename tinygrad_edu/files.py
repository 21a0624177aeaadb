"""Atomic file writes, shared by model saving, rendering and plotting."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike[str], content: bytes | str) -> Path:
    """Write ``content`` to ``path`` so that a reader never sees a half-written file.

    The bytes go to a temporary file beside ``path``, are flushed to disk, and then the
    temporary file is renamed over ``path`` (an atomic step on one file system). On any
    error the temporary file is removed and ``path`` keeps its old content.
    """
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _mode_for(target: Path) -> int:
    """The existing file's permissions, or 0o666 minus the umask for a new file."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it is to set it; restored at once
        os.umask(umask)
        return 0o666 & ~umask
