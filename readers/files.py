"""Reading a user's file with bounds: regular files only, at most a given size.

A path could name a FIFO (reading blocks forever), a device (endless) or a huge file; each
is one clear error instead. The file is opened without blocking and checked on the open
descriptor, so what is read is what was checked.
"""

from __future__ import annotations

import os
import stat

from infscale.engine.errors import InfscaleError

MAX_LOG_BYTES = 256 * 1024 * 1024
"""The largest eval log read (256 MiB): its rows are held in memory while they are parsed."""


def check_regular_file(path: str, limit: int | None = None) -> int:
    """The size of `path` if it is a regular file of at most `limit` bytes (default
    MAX_LOG_BYTES); else InfscaleError."""
    fd = _open(path)
    try:
        return _checked_size(path, os.fstat(fd), MAX_LOG_BYTES if limit is None else limit)
    finally:
        os.close(fd)


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """The contents of a regular file of at most `limit` bytes (default MAX_LOG_BYTES)."""
    limit = MAX_LOG_BYTES if limit is None else limit
    fd = _open(path)
    try:
        _checked_size(path, os.fstat(fd), limit)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # the file grew after the check
                raise InfscaleError(f"{path}: larger than the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InfscaleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str, limit: int | None = None) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InfscaleError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _open(path: str) -> int:
    """A read-only descriptor; O_NONBLOCK so that opening a FIFO with no writer returns at once."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InfscaleError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _checked_size(path: str, info: os.stat_result, limit: int) -> int:
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a pipe" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise InfscaleError(f"{path}: {kind}; an eval log must be a regular file")
    if info.st_size > limit:
        raise InfscaleError(f"{path}: {info.st_size} bytes, larger than the limit of {limit} bytes")
    return info.st_size
