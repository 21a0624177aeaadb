"""The one writer and the one bounded reader for every file the package touches (SPEC §2.1).

``write_atomically`` writes models, pictures, plots, pages and benchmark results: a reader
sees the old content or the new one, never half of it. ``check_writable`` tells up front,
without writing, whether the writer would refuse a path. ``read_text_limited`` reads a file
the package loads, refusing pipes, devices and files over a size limit before reading them.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

__all__ = ["check_writable", "read_text_limited", "write_atomically"]

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_TEMPORARY_NAME_ATTEMPTS = 100  # a clash needs another file named like a random 64-bit token


def write_atomically(path: str | os.PathLike[str], content: bytes | str) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` so a reader never sees half a file.

    The bytes go to a temporary file beside the destination, are flushed to disk, and the
    temporary file is then renamed over the destination, an atomic step on one file system.
    A symlink is followed: the file it points to is replaced and the link stays a link.
    A path that exists and is not a regular file (a folder, FIFO, device, socket) raises
    ``ValueError`` and is left untouched. A new file gets the mode a plain
    ``open(path, "w")`` would give under the umask; an existing file keeps its mode. Every
    error names ``path``, never the temporary file; after one, nothing has changed.
    Returns ``path``.
    """
    if not isinstance(content, bytes | str):
        raise TypeError(f"content must be str or bytes, not {type(content).__name__}")
    data = content.encode("utf-8") if isinstance(content, str) else content
    user_path = Path(path)
    destination, existing_mode = _inspect_destination(user_path)
    temporary, handle = _create_temporary_beside(destination, user_path)
    try:
        with os.fdopen(handle, "wb") as file:
            if existing_mode is not None:
                os.fchmod(file.fileno(), existing_mode)  # replacing a file keeps its mode
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, destination)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _naming(user_path, error) from None
    except BaseException:  # Ctrl-C mid-write: leave no temporary file behind
        temporary.unlink(missing_ok=True)
        raise
    return user_path


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Raise what ``write_atomically(path, ...)`` would raise up front; write nothing.

    Refused, with the writer's own error type and wording: a path that exists and is not a
    regular file (``ValueError``), a missing folder (``FileNotFoundError``), a folder that
    is not writable (``PermissionError``). Returns ``path``. A full disk can only be found
    by writing.

    NOTE: the folder is tried by creating (and at once removing) the writer's temporary
    file, since ``os.access`` answers yes to root even for a read-only or immutable folder.
    """
    user_path = Path(path)
    destination, _ = _inspect_destination(user_path)
    temporary, descriptor = _create_temporary_beside(destination, user_path)
    os.close(descriptor)
    temporary.unlink()
    return user_path


def read_text_limited(path: str | os.PathLike[str], limit_bytes: int) -> str:
    """The UTF-8 text of the regular file ``path``, refused if over ``limit_bytes`` bytes.

    A path that is not a regular file (a folder, FIFO, device) raises ``ValueError`` before
    anything is read, so a pipe never blocks and a device never streams forever; so does a
    file over the limit (the message gives both sizes), a file that grows while it is read,
    and text that is not UTF-8. A missing file raises ``FileNotFoundError``. Memory: the
    file's bytes and its text, nothing more.
    """
    user_path = Path(path)
    _check_readable(user_path, os.stat(user_path), limit_bytes)  # before open: a socket fails it
    # O_NONBLOCK: if a FIFO is swapped in after the check, opening it must not hang.
    descriptor = os.open(user_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())  # of the open file: what is checked is what is read
        _check_readable(user_path, status, limit_bytes)
        # read(n) allocates n bytes up front, so ask for the size, not the limit; one byte
        # more tells whether the file grew after fstat.
        data = file.read(status.st_size + 1)
    if len(data) > status.st_size:
        raise ValueError(f"{user_path}: changed while it was read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{user_path}: not UTF-8 text (byte {data[error.start]:#04x} at {error.start})"
        ) from None


def _check_readable(user_path: Path, status: os.stat_result, limit_bytes: int) -> None:
    """Refuse a file that is not regular or is larger than ``limit_bytes``."""
    if not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode), "a special file")
        raise ValueError(f"{user_path}: is {kind}, not a regular file")
    if status.st_size > limit_bytes:
        raise ValueError(
            f"{user_path}: is {status.st_size} bytes, more than the limit of {limit_bytes}"
        )


def _inspect_destination(user_path: Path) -> tuple[Path, int | None]:
    """The file a write to ``user_path`` replaces (symlinks followed), and its mode if it exists.

    Raises what the writer refuses: a non-regular file, a missing or unwritable folder.
    """
    destination = Path(os.path.realpath(user_path))
    try:
        status = destination.stat()
    except FileNotFoundError:
        status = None
    except OSError as error:  # a symlink loop; a path through a file (NotADirectoryError)
        raise _naming(user_path, error) from None
    if status is not None and not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode), "a special file")
        raise ValueError(f"cannot write {user_path}: it is {kind}, not a regular file")
    folder = destination.parent
    if status is None and not folder.is_dir():
        raise _os_error(FileNotFoundError, errno.ENOENT, user_path, "folder does not exist")
    # The temporary file is created in the folder, even to replace an existing file.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _os_error(PermissionError, errno.EACCES, user_path, "folder is not writable")
    return destination, None if status is None else status.st_mode & 0o777


def _create_temporary_beside(destination: Path, user_path: Path) -> tuple[Path, int]:
    """A new, empty temporary file in the destination's folder, and its open descriptor.

    Created with mode 0o666 so the kernel applies the umask, exactly as ``open(path, "w")``
    does; reading the umask would mean setting it, which other threads would see.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for _ in range(_TEMPORARY_NAME_ATTEMPTS):
        # A short prefix of the name: a name near the length limit must still leave room.
        name = f".{destination.name[:32]}.{secrets.token_hex(8)}.tmp"
        temporary = destination.with_name(name)
        try:
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as error:
            raise _naming(user_path, error) from None
    raise _os_error(FileExistsError, errno.EEXIST, user_path, "no free temporary name")


def _naming(user_path: Path, error: OSError) -> OSError:
    """``error``, of the same type, with a message naming the user's path, not a temporary file."""
    return _os_error(type(error), error.errno, user_path, error.strerror or str(error))


def _os_error(kind: type[OSError], number: int | None, user_path: Path, reason: str) -> OSError:
    """``kind("cannot write PATH: reason")`` carrying ``errno`` without the ``[Errno N]`` prefix."""
    error = kind(f"cannot write {user_path}: {reason}")
    error.errno = number  # set after construction, so str(error) is the message alone
    return error
