"""Output that survives any terminal encoding (LANG=en_US.ISO-8859-1, zh_TW.BIG5,
PYTHONIOENCODING=latin-1 …): what the terminal cannot show is replaced, never a crash, and
JSON escapes what it cannot carry (ensure_ascii), so it stays valid and loses nothing."""

from __future__ import annotations

import codecs
import json
import sys

_PROBE = "社会保障卡 – é"  # Chinese, a dash and a Latin letter: all a view prints


def _unicode_safe(stream) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        codecs.lookup(encoding)
        _PROBE.encode(encoding)
    except (LookupError, UnicodeError):
        return False
    return codecs.lookup(encoding).name in ("utf-8", "utf-16", "utf-32", "gb18030", "utf-8-sig")


def survive_the_terminal() -> None:
    """Standard output and error replace what their encoding cannot show (text views)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not _unicode_safe(stream):
            reconfigure(errors="replace")


def dumps(document, *, indent: int | None = None) -> str:
    """JSON for standard output: non-ASCII as is where the output carries all of Unicode,
    escaped (\\uXXXX) elsewhere."""
    return json.dumps(document, ensure_ascii=not _unicode_safe(sys.stdout), indent=indent)
