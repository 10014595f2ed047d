"""What every card command shares: the run's settings (in click's context), the card options
as one `CardSource`, and opening the one `Card` a command uses."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
from typing import Any

import click

from sscard import errors


@dataclasses.dataclass
class RunState:
    """One run of `sscard`: what -d, -v, -q and --timeout asked for, and what run() finishes
    after the command (the log handler, a --record file).  It is click's ctx.obj, which every
    subcommand's context shares: run() passes it in and keeps it for the error handling."""

    debug: bool = False
    verbose: int = 0
    quiet: bool = False
    timeout: float | None = None
    log: tuple | None = None  # (handler, the "sscard" logger's level before)
    recording: tuple | None = None  # (RecordingTransport, path, overwrite): written by run()

    def note(self, text: str) -> None:
        """A note on stderr (what sscard did instead, and why); -q silences it."""
        if not self.quiet:
            click.echo(f"note: {text}", err=True)

    def trace_sink(self):
        """Where the redacted APDU trace goes: stderr with -d or -vv, else nowhere."""
        if not (self.debug or self.verbose >= 2):
            return None
        return lambda line: click.echo(line, err=True)

    def log_to_stderr(self) -> None:
        """-d/-v: the library's log records (no personal data, see sscard.log) go to stderr,
        for this run only (run() takes the handler away: the CLI may run inside a program)."""
        import logging

        if self.log is not None:  # -d and -v together: one handler
            return
        logger = logging.getLogger("sscard")

        class CurrentStderr(logging.StreamHandler):
            def emit(self, record):  # whatever sys.stderr is now (tests replace it)
                self.stream = sys.stderr
                super().emit(record)

        handler = CurrentStderr()
        handler.setFormatter(logging.Formatter("log: %(name)s: %(message)s"))
        self.log = (handler, logger.level)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

    def stop_logging_to_stderr(self) -> None:
        if self.log is not None:
            import logging

            handler, level = self.log
            logger = logging.getLogger("sscard")
            logger.removeHandler(handler)
            logger.setLevel(level)
            self.log = None

    def save_recording(self) -> str | None:
        """Write the pending --record file; the error line when that fails."""
        pending, self.recording = self.recording, None
        if pending is None:
            return None
        transport, path, overwrite = pending
        try:
            transport.save(path, overwrite=overwrite)
        except errors.SscardError as e:
            return e.bilingual()
        return None


pass_state = click.make_pass_decorator(RunState, ensure=True)


def _state(ctx: click.Context) -> RunState:
    return ctx.ensure_object(RunState)


def current_state() -> RunState:
    """The run's state, from the click context of the command running on this thread (the
    defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    return RunState() if ctx is None else _state(ctx)


class UsageError(click.UsageError):
    """A usage error of ours, with its Chinese text."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


# --- the options ---------------------------------------------------------------------------


def debug_option(f):
    """-d, -v (repeatable) and -q, which every command takes (and `sscard` itself)."""

    def debug(ctx, param, value):
        state = _state(ctx)
        if value:
            state.log_to_stderr()
        state.debug = state.debug or value
        return value

    def verbose(ctx, param, value):
        state = _state(ctx)
        if value:
            state.log_to_stderr()
        state.verbose = max(state.verbose, value or 0)
        return value

    def quiet(ctx, param, value):
        state = _state(ctx)
        state.quiet = state.quiet or value
        return value

    f = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=quiet,
        is_eager=True,
        help="No notes on stderr (an error still prints its one line).",
    )(f)
    f = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=verbose,
        is_eager=True,
        help="More on stderr, repeatable: -v the library's log "
        "(no personal data), -vv also the redacted APDU "
        "trace (-d adds tracebacks).",
    )(f)
    return click.option(
        "-d",
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=debug,
        is_eager=True,
        help="Print a redacted APDU trace (and tracebacks) to stderr.",
    )(f)


def timeout_option(f):
    """--timeout SECONDS: the deadline of each operation on the card (sscard.budget)."""
    from sscard.budget import DEFAULT_TIMEOUT

    def remember(ctx, param, value):
        _state(ctx).timeout = value
        return value

    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True, max=3600),
        metavar="SECONDS",
        expose_value=False,
        callback=remember,
        help=f"Give up on a card that has not finished an operation within "
        f"SECONDS (default {DEFAULT_TIMEOUT:g}); exit code 20.",
    )(f)


def reader_options(f):
    """-r, --wait, --shared and --timeout: every command that talks to a card in a reader."""
    f = timeout_option(f)
    f = click.option(
        "--shared",
        is_flag=True,
        help="Share the card with other programs (default: exclusive access).",
    )(f)
    f = click.option(
        "--wait",
        type=float,
        is_flag=False,
        flag_value=float("inf"),
        default=None,
        metavar="[SECONDS]",
        help="Wait for a card to be inserted, and meanwhile for the reader and "
        "the PC/SC service if they are not there yet (for ever without "
        "SECONDS).",
    )(f)
    return click.option(
        "-r",
        "--reader",
        metavar="READER",
        envvar="SSCARD_READER",
        help="Reader index, part of its name, or ATR prefix (hex); default: "
        "$SSCARD_READER, else the first reader holding a card whose name "
        "contains no part of $SSCARD_READER_IGNORE (parts separated by ;).",
    )(f)


def emulator_option(help: str):
    """--emulator PERSONA (its help says what the command does with the card)."""
    return click.option("--emulator", metavar="PERSONA", help=help)


def record_options(f):
    """--record FILE and --overwrite-record (read, status)."""
    f = click.option(
        "--overwrite-record",
        is_flag=True,
        help="Replace FILE of --record if it exists (otherwise an error).",
    )(f)
    return click.option(
        "--record",
        metavar="FILE",
        help="Write the APDU exchanges to FILE (created 0600) as a replayable "
        "trace, after the result: PIN and key material are never written; "
        "the card's answers are, so keep the file private.",
    )(f)


# --- the card ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CardSource:
    """Where a command's card comes from: its card options, as one value."""

    emulator: str | None = None  # a built-in persona (or a persona file) instead of a reader
    emulator_fallback: str | None = None  # read this persona when no reader or card is there
    reader: str | None = None  # -r: index, part of a name, or ATR prefix
    wait: float | None = None  # seconds to wait for the card (inf: for ever)
    shared: bool = False
    record: str | None = None  # --record FILE
    overwrite_record: bool = False


_SOURCE_FIELDS = tuple(f.name for f in dataclasses.fields(CardSource))


def takes_card_source(f):
    """The command receives its card options as one CardSource, `source=` (the options
    themselves are declared by the decorators above, where --help lists them)."""

    @functools.wraps(f)
    def command(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in _SOURCE_FIELDS if name in kwargs}
        return f(*args, source=CardSource(**given), **kwargs)

    return command


def open_card(state: RunState, source: CardSource, *, besides: str | None = None):
    """The one Card of a command, and the "source" its documents show.  `besides`: the reader
    of the PSAM, which is not the card's (when no -r names one)."""
    import sscard

    if source.record:  # before the card: no GPO for nothing
        _check_record_path(source.record, source.overwrite_record)
    options = {
        "trace": state.trace_sink(),
        "timeout": state.timeout,
        "record": bool(source.record),
    }
    if source.emulator:
        card = sscard.open_emulator(source.emulator, **options)
        shown = {"kind": "emulator", "name": source.emulator}
    else:
        try:
            exclude = (besides,) if besides is not None and source.reader is None else ()
            card = sscard.open(
                source.reader,
                wait=source.wait,
                shared=source.shared,
                ignore=reader_ignore(),
                exclude=exclude,  # the PSAM's reader
                **options,
            )
            shown = {"kind": "reader", "name": card.description}
        except (errors.NoReader, errors.ServiceUnavailable, errors.NoCard) as e:
            fallback = source.emulator_fallback
            if not fallback:
                raise
            state.note(
                f"{e.message.rstrip('.')} — reading the built-in emulated card "
                f"'{fallback}' instead / {e.zh.rstrip('。')} — 改读内置模拟卡 '{fallback}'"
            )
            card = sscard.open_emulator(fallback, **options)
            shown = {"kind": "emulator", "name": fallback}
    if source.record:
        recorder: Any = card.transport  # a RecordingTransport (record=True)
        recorder.command = _recorded_command()
        state.recording = (recorder, source.record, source.overwrite_record)
    return card, shown


def reader_ignore() -> tuple[str, ...]:
    """$SSCARD_READER_IGNORE: name parts (separated by ;) of readers a default choice passes
    over, as GlobalPlatformPro's GP_READER_IGNORE (e.g. the SAM slot of a kiosk reader)."""
    import os

    return tuple(
        p.strip() for p in os.environ.get("SSCARD_READER_IGNORE", "").split(";") if p.strip()
    )


def _recorded_command() -> dict | None:
    """What `sscard replay` needs to run the same command again: its name and the options
    that change what is sent (status --bank-records)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    name = ctx.command_path.split(" ", 1)[1] if " " in ctx.command_path else ctx.command_path
    return {
        "name": name,
        "bank_records": bool(ctx.params.get("bank_records")),
        "logs": bool(ctx.params.get("logs")),
    }


def _check_record_path(path: str, overwrite: bool) -> None:
    """--record FILE must be writable, and not an existing file unless --overwrite-record,
    before anything is sent to the card (the file itself is written at the end, 0600)."""
    import os
    import stat

    def unwritable(e: OSError):
        return errors.InvalidArgument(
            f"cannot write the recording to {path}: {e.strerror}",
            zh=f"无法写入 APDU 记录文件 {path}（{e.strerror}）",
        )

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise unwritable(e) from None
    if mode is not None and stat.S_ISREG(mode) and not overwrite:
        raise errors.InvalidArgument(
            f"the recording file {path} exists: give --overwrite-record to replace it",
            zh=f"记录文件 {path} 已存在：如需覆盖请加 --overwrite-record",
        )
    try:
        if mode is None:  # can it be created?  (removed again: written at the end)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(path)
        else:  # a device or pipe (non-blocking: a pipe without a reader is an error)
            nofollow = os.O_NOFOLLOW if stat.S_ISREG(mode) else 0  # never through a symlink
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK | nofollow))
    except OSError as e:
        raise unwritable(e) from None


@contextlib.contextmanager
def using(card):
    """The card for one command: closed at the end; a PSAM chosen by default is no card.
    (--record FILE is written by run() when the command has ended, after its result.)"""
    with card:
        try:
            yield card
        except errors.NotSocialSecurityCard:
            psam_is_no_card(card)
            raise


def psam_is_no_card(card) -> None:
    """The one card present, chosen by default, is a PSAM (a kiosk's security module in its
    slot, and no user card yet): that is "no card" (NoCard), not "not a social security
    card".  Asked only of a card that is not a social security card."""
    transport = card.transport
    if not getattr(getattr(transport, "inner", transport), "chosen_by_default", False):
        return
    from sscard.auth import psam

    try:
        found = card.operation(lambda: psam.is_psam(card.session), read_only=True)
    except errors.SscardError:
        return  # the card's own answer stands
    if found:
        raise errors.NoCard(
            f"no card to read: the only card, in {card.description!r}, is a "
            "PSAM (the terminal's security module)",
            zh=f"无可读的卡：唯一的卡（{card.description}）是 PSAM 卡（终端安全模块）",
        ) from None
