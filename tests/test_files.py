"""The one writer and the bounded reader (SPEC §2.1): whole files or none, never the wrong one."""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tinygrad_edu.files import check_writable, read_text_limited, write_atomically


def test_writes_text_and_bytes(tmp_path: Path) -> None:
    assert write_atomically(tmp_path / "a.txt", "héllo") == tmp_path / "a.txt"
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    write_atomically(tmp_path / "a.txt", b"\x89PNG")
    assert (tmp_path / "a.txt").read_bytes() == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.json"
    target.write_text("old", encoding="utf-8")

    def broken_replace(source: str, destination: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


# ---- what is refused, and left untouched ------------------------------------------------


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()  # the socket file stays on disk
    return path


NOT_REGULAR: dict[str, tuple[Callable[[Path], Path], Callable[[int], bool], str]] = {
    "folder": (_folder, stat.S_ISDIR, "a folder"),
    "fifo": (_fifo, stat.S_ISFIFO, "a FIFO"),
    "socket": (_socket, stat.S_ISSOCK, "a socket"),
}


@pytest.mark.parametrize("kind", NOT_REGULAR)
@pytest.mark.parametrize("through_a_symlink", [False, True], ids=["direct", "symlink"])
def test_a_path_that_is_not_a_regular_file_is_refused_and_left_untouched(
    tmp_path: Path, kind: str, through_a_symlink: bool
) -> None:
    make, is_still_that_kind, described = NOT_REGULAR[kind]
    node = make(tmp_path / "n")  # short: a socket path has a length limit
    path = node
    if through_a_symlink:
        path = tmp_path / "link.json"
        path.symlink_to(node)
    before = sorted(p.name for p in tmp_path.iterdir())
    attempts: list[Callable[[], object]] = [
        lambda: write_atomically(path, "x"),
        lambda: check_writable(path),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError) as error:
            attempt()
        assert str(error.value) == f"cannot write {path}: it is {described}, not a regular file"
    assert is_still_that_kind(os.lstat(node).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary left either


def test_a_symlink_is_followed_and_its_target_replaced_beside_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = _folder(tmp_path / "elsewhere")
    target = elsewhere / "model.json"
    target.write_text("old", encoding="utf-8")
    link = _folder(tmp_path / "here") / "model.json"
    link.symlink_to(target)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording_replace(source: str, destination: str) -> None:
        renames.append((str(source), str(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    assert write_atomically(link, "new") == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text(encoding="utf-8") == "new"
    # The temporary sat beside the target (one file system, so the rename is atomic).
    [(source, destination)] = renames
    assert Path(source).parent == elsewhere and Path(destination) == target
    assert [p.name for p in elsewhere.iterdir()] == ["model.json"]


def test_a_dangling_symlink_creates_its_target_as_open_would(tmp_path: Path) -> None:
    link = tmp_path / "link.svg"
    link.symlink_to(tmp_path / "drawn.svg")
    write_atomically(link, "<svg/>")
    assert link.is_symlink()
    assert (tmp_path / "drawn.svg").read_text(encoding="utf-8") == "<svg/>"


def test_a_symlink_loop_is_an_os_error_naming_the_path(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OSError) as error:
        write_atomically(loop, "x")
    assert error.value.errno == errno.ELOOP
    assert str(error.value).startswith(f"cannot write {loop}: ")
    assert loop.is_symlink()


# ---- permissions, without touching the umask ---------------------------------------------


def test_a_new_file_gets_the_mode_open_gives_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o027)
    try:
        with open(tmp_path / "control", "w"):
            pass
        write_atomically(tmp_path / "new.svg", "<svg/>")
        (tmp_path / "old.json").write_text("{}", encoding="utf-8")
        (tmp_path / "old.json").chmod(0o604)
        write_atomically(tmp_path / "old.json", "[]")
    finally:
        os.umask(previous)
    assert (tmp_path / "control").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "new.svg").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "old.json").stat().st_mode & 0o777 == 0o604


def test_the_writer_never_reads_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask called: other threads would see it changed")

    monkeypatch.setattr(os, "umask", forbidden)
    write_atomically(tmp_path / "new.json", "{}")
    check_writable(tmp_path / "other.json")


def test_no_other_thread_ever_sees_the_umask_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread saves new files over and over; another opens files and checks their mode.

    A writer that sets the umask to read it leaves a window of a few hundred nanoseconds;
    a umask that sleeps after each change widens any such window to a millisecond, so one
    save is enough to show it. A writer that never touches the umask is not slowed at all.
    """
    saved, opened = _folder(tmp_path / "saved"), _folder(tmp_path / "opened")
    real_umask = os.umask

    def slow_umask(mask: int) -> int:
        previous = real_umask(mask)
        time.sleep(0.001)
        return previous

    stop = threading.Event()

    def save_new_files() -> None:
        while not stop.is_set():
            write_atomically(saved / "m.json", "{}")  # a new file every time: see unlink
            (saved / "m.json").unlink()

    previous_umask = real_umask(0o077)
    monkeypatch.setattr(os, "umask", slow_umask)
    saver = threading.Thread(target=save_new_files)
    saver.start()
    modes_seen: set[int] = set()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not modes_seen - {0o600}:
            with open(opened / "f", "w"):
                pass
            modes_seen.add((opened / "f").stat().st_mode & 0o777)
            (opened / "f").unlink()
    finally:
        stop.set()
        saver.join()
        real_umask(previous_umask)
    assert modes_seen == {0o600}, f"modes the umask 0o077 forbids: {sorted(map(oct, modes_seen))}"


# ---- every error names the user's path ---------------------------------------------------


def test_a_full_disk_is_reported_on_the_users_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")

    def disk_full(descriptor: int) -> None:
        # What the kernel reports: the error as seen on the file being written.
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/x/.plot.png.1234.tmp")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as error:
        write_atomically(target, b"new")
    assert error.value.errno == errno.ENOSPC
    assert str(error.value) == f"cannot write {target}: No space left on device"
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_a_temporary_file_that_cannot_be_created_is_reported_on_the_users_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def read_only_file_system(path: str, flags: int, mode: int = 0o777, **kwargs: int) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", read_only_file_system)
    target = tmp_path / "page.html"
    with pytest.raises(OSError) as error:
        write_atomically(target, "<html/>")
    assert error.value.errno == errno.EROFS
    assert str(error.value) == f"cannot write {target}: Read-only file system"


def _missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tmp_path / "no such folder" / "m.json"


def _folder_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "file").write_text("", encoding="utf-8")
    return tmp_path / "file" / "m.json"


def _unwritable_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str | None = None
) -> Path:
    folder = _folder(tmp_path / "read-only")
    if existing is not None:
        (folder / "m.json").write_text(existing, encoding="utf-8")
    folder.chmod(0o555)
    # Root may write anywhere, so report the folder as a normal user would see it.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != folder and real_access(p, mode))
    return folder / "m.json"


def _fifo_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _fifo(tmp_path / "pipe.svg")


REFUSED: dict[str, tuple[Callable[[Path, pytest.MonkeyPatch], Path], type[Exception], str]] = {
    "missing folder": (_missing_folder, FileNotFoundError, "folder does not exist"),
    "folder is a file": (_folder_is_a_file, NotADirectoryError, "Not a directory"),
    "unwritable folder": (_unwritable_folder, PermissionError, "folder is not writable"),
    "fifo": (_fifo_in, ValueError, "it is a FIFO, not a regular file"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_check_writable_refuses_what_the_writer_refuses_in_the_same_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    make, error_type, reason = REFUSED[case]
    path = make(tmp_path, monkeypatch)
    with pytest.raises(error_type) as checked:
        check_writable(path)
    with pytest.raises(error_type) as written:
        write_atomically(path, "x")
    assert str(checked.value) == str(written.value) == f"cannot write {path}: {reason}"


def test_replacing_a_file_in_an_unwritable_folder_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _unwritable_folder(tmp_path, monkeypatch, existing="old")
    for attempt in (check_writable, lambda p: write_atomically(p, "new")):
        with pytest.raises(PermissionError, match="folder is not writable"):
            attempt(path)
    assert path.read_text(encoding="utf-8") == "old"


def test_a_name_at_the_length_limit_can_be_written(tmp_path: Path) -> None:
    path = tmp_path / ("n" * 250 + ".json")  # 255 bytes, the usual limit for one name
    write_atomically(path, "{}")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_check_writable_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("old", encoding="utf-8")
    assert check_writable(tmp_path / "new.json") == tmp_path / "new.json"
    assert check_writable(str(tmp_path / "old.json")) == tmp_path / "old.json"
    assert [p.name for p in tmp_path.iterdir()] == ["old.json"]
    assert (tmp_path / "old.json").read_text(encoding="utf-8") == "old"


def test_content_must_be_text_or_bytes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="content must be str or bytes, not list"):
        write_atomically(tmp_path / "x", [1, 2])  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ---- the bounded reader ------------------------------------------------------------------


def test_read_text_limited_reads_up_to_the_limit_and_refuses_one_byte_more(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.json"
    path.write_text("é" * 5, encoding="utf-8")  # 10 bytes
    assert read_text_limited(path, 10) == "é" * 5
    with pytest.raises(ValueError) as error:
        read_text_limited(path, 9)
    assert str(error.value) == f"{path}: is 10 bytes, more than the limit of 9"


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_read_text_limited_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    make, _, described = NOT_REGULAR[kind]
    path = make(tmp_path / "n")
    # A FIFO with no writer would block an open() for reading forever: it must not be opened.
    with pytest.raises(ValueError) as error:
        read_text_limited(path, 100)
    assert str(error.value) == f"{path}: is {described}, not a regular file"


def test_read_text_limited_refuses_a_file_that_grows_while_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing.json"
    path.write_text("{}", encoding="utf-8")
    real_fstat = os.fstat

    def grow_after_fstat(descriptor: int) -> os.stat_result:
        status = real_fstat(descriptor)
        with open(path, "a", encoding="utf-8") as file:
            file.write(" " * 1000)  # a writer appends between the check and the read
        return status

    monkeypatch.setattr(os, "fstat", grow_after_fstat)
    with pytest.raises(ValueError, match="changed while it was read"):
        read_text_limited(path, 100)


def test_read_text_limited_missing_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_text_limited(tmp_path / "missing.json", 100)
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(ValueError, match=r"not UTF-8 text \(byte 0xe9 at 7\)"):
        read_text_limited(tmp_path / "latin1.json", 100)
