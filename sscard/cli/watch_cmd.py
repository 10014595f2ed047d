"""`sscard watch`: card insertions and removals as they happen, each inserted card read."""

from __future__ import annotations

import click

from sscard import errors
from sscard.cli import output
from sscard.cli.options import (
    RunState,
    current_state,
    debug_option,
    pass_state,
    reader_ignore,
    timeout_option,
)
from sscard.errors import ExitCode


@click.command()
@click.option(
    "-r",
    "--reader",
    "reader_filter",
    metavar="READER",
    multiple=True,
    help="Only watch this reader (repeatable): an index or an ATR prefix names one "
    "reader present now; a part of a name every reader that has it, now or "
    "later.  A choice that names no reader present is an error.  Default: "
    "every reader but those $SSCARD_READER_IGNORE names.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--no-read", is_flag=True, help="Only report events; do not read inserted cards.")
@click.option("--reveal", is_flag=True, help="Show personal data unmasked.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    help="Stop after COUNT card insertions (and their reads).",
)
@click.option("--seconds", type=click.FloatRange(min=0), help="Stop after SECONDS.")
@timeout_option
@debug_option
@pass_state
def watch(state: RunState, reader_filter, as_json, no_read, reveal, count, seconds) -> int:
    """Report card insertions and removals; read each inserted card.

    Each event is printed as it happens; the read of an inserted card follows as a
    "read" event.  Every card is read on a worker of its own within --timeout, so a card
    that does not answer never holds up the events or reads of another reader.
    Keeps running through reader unplugs and PC/SC service restarts; Ctrl-C stops.
    """
    import time

    from sscard.transport.watch import INSERTED, READ, CardWatcher

    deadline = None if seconds is None else time.monotonic() + seconds
    counted = INSERTED if no_read else READ  # each insertion ends in exactly one read event
    seen = 0
    trace = state.trace_sink()  # the reads run on workers, outside click's context

    def read(reader, timeout):
        return _read_for_watch(reader, timeout, reveal, trace)

    filters = _watch_filters(reader_filter)
    ignore = () if filters else reader_ignore()
    with CardWatcher(
        filters, read=None if no_read else read, read_timeout=state.timeout, ignore=ignore
    ) as watcher:
        while deadline is None or time.monotonic() < deadline:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = watcher.get(timeout=min(wait, 1.0) if wait is not None else 1.0)
            if event is None:
                continue
            line = event.to_dict()
            if event.kind == READ and event.result is not None:
                line.update(event.result)
            if as_json:
                click.echo(output.dumps(line))
            else:
                click.echo(_watch_line(line))
            if event.kind == counted:
                seen += 1
                if count is not None and seen >= count:
                    break
    return ExitCode.OK


def _watch_filters(choices) -> list[str] | None:
    """-r of `watch`, checked against the readers present: an index or an ATR prefix becomes
    that reader's full name (so `-r 0` is reader 0, not every name with a 0 in it); a part
    of a name stays a part (a reader plugged in later may have it).  A choice that names no
    reader present is a usage error listing them (ReaderNotFound), never a silent watch of
    nothing; an ATR prefix held by several cards is ambiguous (InvalidArgument)."""
    if not choices:
        return None
    from sscard.transport.pcsc import Context, atr_prefix, choose_readers

    try:
        with Context() as ctx:
            names = ctx.readers()
            states = ctx.states(names)
    except errors.ServiceUnavailable:
        names, states = [], []
    if not names:  # no pcscd or no reader yet: a name part can only be waited for
        for choice in choices:
            text = choice.strip()
            if (text.isdigit() and len(text) <= 3) or atr_prefix(text) is not None:
                raise errors.ReaderNotFound(
                    f"-r {text!r} names a reader by index or ATR, and there is no reader now",
                    zh=f"-r {text!r} 按序号或 ATR 指定读卡器，但现在没有读卡器",
                )
        current_state().note(
            "no reader now: watching for readers whose name contains "
            f"{', '.join(repr(c) for c in choices)} / 现在没有读卡器：等待名称匹配的读卡器"
        )
        return [c.strip() for c in choices]
    filters = []
    for choice in choices:
        text = choice.strip()
        if not (text.isdigit() and len(text) <= 3) and any(
            text.lower() in n.lower() for n in names
        ):
            filters.append(text)  # a part of a name: every reader that has it
        else:
            filters.extend(choose_readers(names, states, text))  # raises when none matches
    return filters


def _read_for_watch(reader: str, timeout: float, reveal: bool, trace) -> dict:
    """Read the inserted card (on the watcher's worker for it, never the monitor thread)."""
    import sscard
    from sscard.cli import render
    from sscard.spec import load_spec

    with sscard.open(reader, trace=trace, timeout=timeout) as card:
        identity = card.read_identity()
    source = {"kind": "reader", "name": reader, "description": reader}
    return {"identity": render.to_document(load_spec(), identity, reveal=reveal, source=source)}


_EVENT_WORDS = {
    "inserted": "card inserted / 插入卡片",
    "removed": "card removed / 卡片移除",
    "reader_added": "reader added / 读卡器接入",
    "reader_removed": "reader removed / 读卡器移除",
    "service_lost": "PC/SC service lost / PC/SC 服务中断",
    "service_restored": "PC/SC service back / PC/SC 服务恢复",
}
_HOLDER_WORDS = {
    "read": "holder data read / 持卡人信息已读取",
    "locked": "holder data locked / 持卡人信息受密钥保护",
    "absent": "no holder data / 无持卡人信息",
}


def _watch_line(line: dict) -> str:
    """A human line per event (the --json lines keep the event codes)."""
    event = _EVENT_WORDS.get(line["event"], line["event"])
    text = f"{line['time']}  {event}  {line['reader'] or ''}".rstrip()
    if line.get("atr"):
        text += f"  {line['atr']}"
    if "error" in line:
        text += f"\n    error: {line['error']}"
    identity = line.get("identity")
    if identity:
        issuer, holder = identity["issuer"], identity["holder"] or {}
        status = _HOLDER_WORDS.get(identity["holder_status"], identity["holder_status"])
        text += (
            f"\n    card / 卡号 {issuer['card_number']}  holder / 持卡人 "
            f"{holder.get('name') or '—'} {holder.get('social_security_number') or ''}"
            f"  ({status})"
        )
    return text
