"""Terminal columns for mixed Chinese and English text, and wrapping to the terminal width.

A CJK character takes two columns (East Asian Wide / Fullwidth); textwrap counts one per
character and breaks only at spaces, which Chinese text has none of, so we wrap here:
between words, or between any two CJK characters, never before closing punctuation.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata

_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_CLOSING = "，。、；：？！）》」』】"
# a space run, one CJK character with the closing punctuation that must stay with it, or a
# run of anything else (an English word with its punctuation)
_TOKENS = re.compile(rf"\s+|[{_CJK}][{_CLOSING}]*|[^\s{_CJK}]+[{_CLOSING}]*")
MIN_WIDTH = 40  # narrower than this, wrapping helps nobody


def columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def terminal_width(stream=None) -> int | None:
    """The width to wrap to: $COLUMNS, else the terminal's; None when the output is not a
    terminal (a pipe or a file keeps one item per line, for grep)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns)
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _split_long(token: str, room: int) -> tuple[str, str]:
    """The longest head of `token` that fits `room` columns (at least one character)."""
    used = 0
    for i, ch in enumerate(token):
        used += columns(ch)
        if used > room:
            return token[: max(i, 1)], token[max(i, 1) :]
    return token, ""


def wrap(line: str, width: int | None, hanging: int = 2) -> list[str]:
    """`line` as lines of at most `width` columns; continuation lines are indented like the
    first line plus `hanging` columns.  width None: the line unchanged."""
    if width is None or columns(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    follow = " " * (indent + hanging)
    tokens = _TOKENS.findall(line[indent:])
    lines: list[str] = []
    current, used, empty = " " * indent, indent, True
    i = 0
    while i < len(tokens):  # each pass places a token, or a part of one, or ends a line
        token = tokens[i]
        if token.isspace():
            if not empty:  # kept as they are (a label's padding); dropped at a line end
                current, used = current + token, used + len(token)
            i += 1
            continue
        size = columns(token)
        if used + size <= width:
            current, used, empty = current + token, used + size, False
            i += 1
            continue
        if empty:  # longer than a whole line: cut it
            head, tokens[i] = _split_long(token, width - used)
            current += head
        lines.append(current.rstrip())
        current, used, empty = follow, len(follow), True
    if not empty:
        lines.append(current.rstrip())
    return lines


def wrap_text(text: str, width: int | None, hanging: int = 2) -> str:
    return "\n".join(out for line in text.split("\n") for out in wrap(line, width, hanging))
