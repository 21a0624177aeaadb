"""Atomic writes: the new content or the old one, never half of it, and no leftovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinygrad_edu.files import write_atomically


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


def test_a_new_file_gets_the_usual_permissions_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "new.svg", "<svg/>")
        assert (tmp_path / "new.svg").stat().st_mode & 0o777 == 0o644
        (tmp_path / "old.json").write_text("{}", encoding="utf-8")
        (tmp_path / "old.json").chmod(0o640)
        write_atomically(tmp_path / "old.json", "[]")
        assert (tmp_path / "old.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)
