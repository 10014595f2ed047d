"""Reading the files a user hands to sscard (key files, personas, scenarios, recordings)
and parsing them, with bounds.

A path may name anything: a FIFO that never ends (or never opens), a symlink to /dev/zero,
a 700 MB file, a TOML or JSON document nested deeper than the parser's recursion.  So the
file is opened without blocking, must be a regular file (after symlinks), and is read only
up to a limit that is checked before and while reading; a document nested deeper than the
parser's recursion allows is a typed error like any malformed one.  Messages never quote the
content (a key file holds keys).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Callable
from typing import Any

from sscard import errors


def read_regular_file(
    path: str | os.PathLike,
    *,
    limit: int,
    what: str,
    error: Callable[[str], errors.SscardError] = errors.InvalidArgument,
) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; `error(message)` otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(f"cannot read {what}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} is not a regular file")
        if info.st_size > limit:
            raise error(f"{what} is larger than {_size(limit)}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)  # the file may have grown since fstat
    except OSError as e:
        raise error(f"cannot read {what}: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"{what} is larger than {_size(limit)}")
    return data


def read_text_file(path, *, limit: int, what: str, error=errors.InvalidArgument) -> str:
    try:
        return read_regular_file(path, limit=limit, what=what, error=error).decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text") from None


def parse_toml(
    text: str, what: str, error=errors.InvalidArgument, *, invalid: str | None = None
) -> dict[str, Any]:
    """A TOML document; a syntax error, a number too long to convert or too deep a nesting
    is `error`.  `invalid`: the message for a syntax error instead of the parser's (which
    may quote the text: a key file's must not be shown)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(invalid or f"{what}: {e}") from None
    except ValueError:  # int() past its digit limit, raised from inside tomllib
        raise error(invalid or f"{what} holds a number too long to read") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply") from None


def parse_json(text: str, what: str, error=errors.InvalidArgument) -> Any:
    import json  # here: reading a card never needs it

    try:
        return json.loads(text)
    except ValueError:
        raise error(f"{what} is not valid JSON") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply") from None


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
