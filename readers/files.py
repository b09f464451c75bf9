"""Reading a user's file with bounds: regular files only, at most a given size, UTF-8 text.

A path could name a FIFO (reading blocks forever), a device (endless) or a huge file; each is
one clear error naming the file instead. The file is opened without blocking and checked on
the open descriptor, so what is read is what was checked; no message echoes its content.
Every reader of a user's file (sweeps, catalogs, price maps, pass rates, eval logs) comes here.
"""

from __future__ import annotations

import os
import stat

from infscale.engine.errors import SpecError

MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest sweep, catalog, price or pass-rate file (LiteLLM's whole price map is ~1.5 MB)."""

MAX_SPEC_BYTES = 8 * 1024 * 1024
"""The largest sweep or catalog file: 20,000 inline scenarios take about 2 MB."""

MAX_LOG_BYTES = 256 * 1024 * 1024
"""The largest eval log read (256 MiB): its rows are held in memory while they are parsed."""


def check_regular_file(path: str, what: str = "eval log", limit: int | None = None) -> int:
    """The size of `path` if it is a regular file of at most `limit` bytes (default
    MAX_LOG_BYTES); else a `SpecError` naming the file."""
    fd = _open(path, what)
    try:
        return _checked_size(path, os.fstat(fd), what, MAX_LOG_BYTES if limit is None else limit)
    finally:
        os.close(fd)


def read_bytes(path: str | os.PathLike, what: str = "file", limit: int | None = None) -> bytes:
    """The contents of the regular file `path`, of at most `limit` bytes (default: MAX_LOG_BYTES
    for an eval log, MAX_FILE_BYTES for anything else); `what` names it in errors."""
    path = str(path)
    limit = limit if limit is not None else MAX_LOG_BYTES if what == "eval log" else MAX_FILE_BYTES
    fd = _open(path, what)
    try:
        _checked_size(path, os.fstat(fd), what, limit)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # the file grew after the check
                raise SpecError(path, "", f"larger than the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise SpecError(path, "", f"cannot read {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, what: str = "file", limit: int | None = None) -> str:
    """The UTF-8 text (a byte-order mark allowed) of a regular file, as `read_bytes` bounds it."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), "", f"{what} is not UTF-8 text (byte {exc.start})") from None


def _open(path: str, what: str) -> int:
    """A read-only descriptor; O_NONBLOCK so that opening a FIFO with no writer returns at once."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read {what}: {exc.strerror or exc}") from None


def _checked_size(path: str, info: os.stat_result, what: str, limit: int) -> int:
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a pipe" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        article = "an" if what[0] in "aeiou" else "a"
        raise SpecError(path, "", f"{kind}; {article} {what} must be a regular file")
    if info.st_size > limit:
        raise SpecError(path, "", f"{info.st_size} bytes, larger than the limit of {limit} bytes")
    return info.st_size
