"""`sscard` — read the PRC social security card from the terminal.

Errors print one line `error: …` (English / Chinese) and exit non-zero; a
traceback only with -d/--debug.  Exit codes: see `sscard.errors.ExitCode`.
"""

from __future__ import annotations

import contextlib
import sys

import click

from sscard import errors
from sscard.cli import output
from sscard.errors import ExitCode

_state = {"debug": False, "timeout": None}


def _exit_codes_help() -> str:
    """The epilog of `sscard --help`: errors.EXIT_CODES, the table README.md also shows."""
    rows = [f"  {code:<4}{en}\n      {zh}" for code, en, zh in errors.EXIT_CODES]
    return "\b\nExit codes / 退出码:\n" + "\n".join(rows) + "\n"


EXIT_CODES_HELP = _exit_codes_help()


def _debug_option(f):
    """-d, -v (repeatable) and -q, which every command takes (and `sscard` itself)."""

    def remember(ctx, param, value):
        if value and not _state["debug"]:
            _log_to_stderr()
        _state["debug"] = _state["debug"] or value
        return value

    def verbose(ctx, param, value):
        if value:
            _log_to_stderr()
        _state["verbose"] = max(_state.get("verbose", 0), value or 0)
        return value

    def quiet(ctx, param, value):
        _state["quiet"] = _state.get("quiet", False) or value
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
        callback=remember,
        is_eager=True,
        help="Print a redacted APDU trace (and tracebacks) to stderr.",
    )(f)


def _timeout_option(f):
    """--timeout SECONDS: the deadline of each operation on the card (sscard.budget)."""
    from sscard.budget import DEFAULT_TIMEOUT

    def remember(ctx, param, value):
        _state["timeout"] = value
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


def _log_to_stderr() -> None:
    """-d: the library's log records (no personal data, see sscard.log) go to stderr, for this
    run only (run() takes the handler away again: the CLI may run inside another program)."""
    import logging

    if "log" in _state:  # -d and -v together: one handler
        return
    logger = logging.getLogger("sscard")

    class CurrentStderr(logging.StreamHandler):
        def emit(self, record):  # whatever sys.stderr is now (tests replace it)
            self.stream = sys.stderr
            super().emit(record)

    handler = CurrentStderr()
    handler.setFormatter(logging.Formatter("log: %(name)s: %(message)s"))
    _state["log"] = (handler, logger.level)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _stop_logging_to_stderr() -> None:
    handler, level = _state.pop("log", (None, None))
    if handler is not None:
        import logging

        logger = logging.getLogger("sscard")
        logger.removeHandler(handler)
        logger.setLevel(level)


def _trace_sink():
    if not (_state["debug"] or _state.get("verbose", 0) >= 2):
        return None
    return lambda line: click.echo(line, err=True)


class _LazyGroup(click.Group):
    """Commands that live in their own module are imported only when named (or listed), so
    that `sscard read` does not pay for building `status` or `emulate`."""

    lazy = {
        "emulate": "sscard.cli.emulate_cmd",
        "status": "sscard.cli.status_cmd",
        "serve": "sscard.cli.serve_cmd",
    }

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            from importlib import import_module

            self.add_command(
                import_module(self.lazy[name]).command(_reader_options, _debug_option), name
            )
        return super().get_command(ctx, name)


@click.group(
    cls=_LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="sscard", prog_name="sscard")
@_debug_option
def cli() -> None:
    """Read the PRC social security card (社会保障卡)."""


def _open_card(
    emulator: str | None,
    emulator_fallback: str | None,
    reader: str | None,
    wait: float | None = None,
    shared: bool = False,
    record: str | None = None,
    besides: str | None = None,
    overwrite_record: bool = False,
):
    import sscard
    from sscard.card import Card

    trace = _trace_sink()
    if record:
        _check_record_path(record, overwrite_record)  # before the card: no GPO for nothing
    if emulator:
        card = sscard.open_emulator(emulator)
        source = {"kind": "emulator", "name": emulator}
    else:
        try:
            exclude = (besides,) if besides is not None and reader is None else ()  # the PSAM's
            card = sscard.open(
                reader, wait=wait, shared=shared, ignore=_reader_ignore(), exclude=exclude
            )
            source = {"kind": "reader", "name": card.description}
        except (errors.NoReader, errors.ServiceUnavailable, errors.NoCard) as e:
            if not emulator_fallback:
                raise
            _note(
                f"{e.message.rstrip('.')} — reading the built-in emulated card "
                f"'{emulator_fallback}' instead / {e.zh.rstrip('。')} — 改读内置模拟卡 "
                f"'{emulator_fallback}'"
            )
            card = sscard.open_emulator(emulator_fallback)
            source = {"kind": "emulator", "name": emulator_fallback}
    transport = card.transport
    if record:
        from sscard.transport.recording import RecordingTransport

        transport = RecordingTransport(transport)
        transport.command = _recorded_command()
        _state["recording"] = (transport, record, overwrite_record)
    return Card(transport, trace=trace, timeout=_state["timeout"]), source


REPLAYABLE = ("read", "status")  # the commands that take --record


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


def _reader_ignore() -> tuple[str, ...]:
    """$SSCARD_READER_IGNORE: name parts (separated by ;) of readers a default choice passes
    over, as GlobalPlatformPro's GP_READER_IGNORE (e.g. the SAM slot of a kiosk reader)."""
    import os

    return tuple(
        p.strip() for p in os.environ.get("SSCARD_READER_IGNORE", "").split(";") if p.strip()
    )


def _note(text: str) -> None:
    """A note on stderr (what sscard did instead, and why); -q silences it."""
    if not _state.get("quiet"):
        click.echo(f"note: {text}", err=True)


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
def _using(card, record: str | None = None):
    """The card for one command.  (--record FILE is written by run() when the command has
    ended, after its result or error is printed.)"""
    with card:
        try:
            yield card
        except errors.NotSocialSecurityCard:
            _psam_is_no_card(card)
            raise


def _psam_is_no_card(card) -> None:
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


def _save_recording() -> str | None:
    """Write the pending --record file; the error line when that fails."""
    pending = _state.pop("recording", None)
    if pending is None:
        return None
    transport, path, overwrite = pending
    try:
        transport.save(path, overwrite=overwrite)
    except errors.SscardError as e:
        return e.bilingual()
    return None


def _key_source(keys_choice: str | None, psam_reader: str | None, shared: bool):
    """--keys (software keys) or --psam (a PSAM in a reader, or the built-in one)."""
    if psam_reader is None:
        from sscard.auth.keysource import load_keys

        return load_keys(keys_choice)
    from sscard.auth import psam

    if psam_reader == psam.EMULATOR:
        return psam.open_psam_emulator(trace=_trace_sink())
    return psam.open_psam(psam_reader, shared=shared, trace=_trace_sink())


def _close_keys(keys) -> None:
    close = getattr(keys, "close", None)  # a PSAM holds its reader
    if close is not None:
        close()


def _record_options(f):
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


def _reader_options(f):
    """The options every command that talks to a card shares."""
    f = _timeout_option(f)
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
    f = click.option(
        "-r",
        "--reader",
        metavar="READER",
        envvar="SSCARD_READER",
        help="Reader index, part of its name, or ATR prefix (hex); default: "
        "$SSCARD_READER, else the first reader holding a card whose name "
        "contains no part of $SSCARD_READER_IGNORE (parts separated by ;).",
    )(f)
    return f


@cli.command()
@click.option(
    "--emulator",
    metavar="PERSONA",
    help="Read a built-in emulated card (see `sscard personas`) instead of a reader.",
)
@click.option(
    "--emulator-fallback",
    metavar="PERSONA",
    help="Read this emulated card when no reader or no card is present.",
)
@_reader_options
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "ireadcardbas"]),
    default="text",
    show_default=True,
    help="json: schema sscard.identity/1; ireadcardbas: the national reader "
    "interface's iReadCardBas string (errors as `code|message|`).",
)
@click.option("--reveal", is_flag=True, help="Show personal data unmasked.")
@click.option(
    "--keys",
    "keys_choice",
    metavar="FILE|test",
    help="Authenticate the card with software root keys from a key file (default: "
    "$SSCARD_KEYS_FILE, or the key file's text in $SSCARD_KEYS); 'test' = the "
    "emulator's published test keys.  Opens EF06 on generation-3 cards (one "
    "EXTERNAL AUTHENTICATE try, never repeated) and reports whether the card is "
    "authentic.  Key bytes are never taken on the command line.",
)
@click.option(
    "--psam",
    "psam_reader",
    metavar="READER|emulator",
    help="Authenticate the card with the social security PSAM in this reader (index, "
    "part of its name, or ATR prefix, like -r); 'emulator' = the built-in software "
    "PSAM with the published test keys.  Like --keys, and the PSAM's terminal "
    "number goes into --format ireadcardbas.",
)
@click.option(
    "--hsm-step1",
    is_flag=True,
    help="Two-step read with a platform HSM: print the iReadCardBas_HSM_Step1 line "
    "(in --format json: a one-line JSON object) for the HSM.  Alone, the read "
    "ends there (the card's challenge is dropped).",
)
@click.option(
    "--hsm-step2",
    metavar="FILE|-",
    help="With --hsm-step1: then read the HSM's answer (pKey, one line) from FILE, "
    "e.g. a named pipe, or from standard input (-), and complete the read in "
    "this same process (the challenge lives only in this connection).",
)
@_record_options
@_debug_option
def read(
    emulator,
    emulator_fallback,
    reader,
    wait,
    shared,
    as_json,
    output_format,
    reveal,
    keys_choice,
    psam_reader,
    record,
    overwrite_record,
    hsm_step1=False,
    hsm_step2=None,
) -> int:
    """Read identity data from the social security application.

    Issuer data (EF05) is always read; holder data (EF06) too unless the card
    needs a key for it (generation-3 cards: RKSSSE), in which case it is
    reported as locked and the exit code is 7.  Reading changes nothing on the card.
    """
    if emulator and (emulator_fallback or reader or wait is not None):
        raise UsageError(
            "--emulator cannot be combined with --reader, --wait or --emulator-fallback",
            "--emulator 不能与 --reader、--wait 或 --emulator-fallback 同时使用",
        )
    if keys_choice and psam_reader:
        raise UsageError(
            "--keys and --psam are two key sources: give one",
            "--keys 与 --psam 是两种密钥来源，只能选一种",
        )
    if hsm_step2 is not None and not hsm_step1:
        raise UsageError(
            "--hsm-step2 needs --hsm-step1 in the same command: the card's "
            "challenge lives only as long as this process's connection",
            "--hsm-step2 须与 --hsm-step1 在同一命令中使用",
        )
    if hsm_step1:
        if keys_choice or psam_reader:
            raise UsageError(
                "--hsm-step1 cannot be combined with --keys or --psam",
                "--hsm-step1 不能与 --keys 或 --psam 同时使用",
            )
        return _read_hsm(
            (emulator, emulator_fallback, reader, wait, shared, record),
            "json" if as_json else output_format,
            reveal,
            hsm_step2,
            overwrite_record,
        )
    if as_json:
        output_format = "json"
    if output_format == "ireadcardbas":
        return _read_ireadcardbas(
            emulator,
            emulator_fallback,
            reader,
            wait,
            shared,
            reveal,
            record,
            keys_choice,
            psam_reader,
            overwrite_record,
        )
    keys = _key_source(keys_choice, psam_reader, shared)
    try:
        card, source = _open_card(
            emulator,
            emulator_fallback,
            reader,
            wait,
            shared,
            record,
            besides=getattr(keys, "reader", None),
            overwrite_record=overwrite_record,
        )
        with _using(card, record):
            identity = card.read_identity(keys=keys)
            source["description"] = card.description
    finally:
        _close_keys(keys)
    if psam_reader:
        source["psam"] = {"description": keys.description, "terminal_number": keys.terminal_number}
    from sscard.cli import render  # only now: nothing of it is needed before the first APDU
    from sscard.spec import load_spec

    spec = load_spec()
    document = render.to_document(spec, identity, reveal=reveal, source=source)
    click.echo(
        render.to_json(document)
        if output_format == "json"
        else render.to_text(spec, document, _width())
    )
    return _identity_exit(identity)


def _identity_exit(identity) -> int:
    """An incomplete identity (a required item absent or empty) is never a success; then a
    holder part that needs a key."""
    if identity.missing:
        return ExitCode.INCOMPLETE
    return ExitCode.LOCKED if identity.holder_status.value == "locked" else ExitCode.OK


def _width() -> int | None:
    from sscard.cli.textwidth import terminal_width

    return terminal_width()


def _read_ireadcardbas(
    emulator,
    emulator_fallback,
    reader,
    wait,
    shared,
    reveal,
    record,
    keys_choice,
    psam_reader,
    overwrite_record=False,
) -> int:
    """One line on stdout, always: the iReadCardBas string, or `code|message|` on failure."""
    from sscard import ireadcardbas

    keys = None
    try:
        keys = _key_source(keys_choice, psam_reader, shared)
        card, _ = _open_card(
            emulator,
            emulator_fallback,
            reader,
            wait,
            shared,
            record,
            besides=getattr(keys, "reader", None),
            overwrite_record=overwrite_record,
        )
        with _using(card, record):
            identity = card.read_identity(keys=keys)
    except errors.SscardError as e:
        click.echo(ireadcardbas.format_error(*ireadcardbas.code_for(e)))
        raise
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo(ireadcardbas.format_error(*ireadcardbas.INTERRUPTED))
        raise
    finally:
        _close_keys(keys)
    terminal = getattr(keys, "terminal_number", None) or ireadcardbas.NO_PSAM_TERMINAL
    code, message = ireadcardbas.code_for(None, identity)
    if code:
        click.echo(ireadcardbas.format_error(code, message))
        return _ireadcardbas_exit(identity)
    if not reveal:
        from sscard.cli import render
        from sscard.spec import load_spec

        identity = render.masked(load_spec(), identity)
    click.echo(_ireadcardbas_line(identity, terminal_number=terminal))
    return ExitCode.OK


def _ireadcardbas_exit(identity) -> int:
    """The exit code for a read the iReadCardBas string cannot carry."""
    if identity.missing:
        return ExitCode.INCOMPLETE
    status = identity.holder_status.value
    if status == "locked":
        return ExitCode.LOCKED
    if status == "absent":  # a social security card without EF06 (Shanghai-style)
        return ExitCode.NOT_OFFERED
    return ExitCode.NOT_SSC  # the card failed its internal authentication


def _ireadcardbas_line(identity, **options) -> str:
    """The iReadCardBas string; a value it cannot carry still gives one `code|message|` line."""
    from sscard import ireadcardbas

    try:
        return ireadcardbas.format_identity(identity, **options)
    except errors.SscardError as e:
        click.echo(ireadcardbas.format_error(*ireadcardbas.code_for(e)))
        raise


def _read_hsm(
    card_args: tuple,
    output_format: str,
    reveal: bool,
    step2_source: str | None,
    overwrite_record: bool = False,
) -> int:
    """--hsm-step1 [--hsm-step2 FILE|-]: both steps in one process, one connection.  A
    second process cannot take over: pyscard powers the card off when a connection closes
    and pcscd powers down a card nobody holds, and either loses the challenge."""
    from sscard import ireadcardbas
    from sscard.cli import render
    from sscard.spec import load_spec

    record = card_args[-1]
    try:
        card, source = _open_card(*card_args, overwrite_record=overwrite_record)
        with _using(card, record):
            step1 = card.hsm_step1()
            shown = step1
            if not reveal:
                from dataclasses import replace

                shown = replace(
                    step1,
                    card_identification=render._shown(
                        load_spec(), "card_identification", step1.card_identification, False
                    ),
                )
            line = shown.to_string()
            click.echo(
                output.dumps({"schema": "sscard.hsm_step1/1", "step1": line})
                if output_format == "json"
                else line
            )
            sys.stdout.flush()  # the HSM client waits for this line
            if step2_source is None:
                return ExitCode.OK
            identity = card.hsm_step2(step1, _hsm_answer(step2_source))
            source["description"] = card.description
    except errors.SscardError as e:
        if output_format == "ireadcardbas":
            click.echo(ireadcardbas.format_error(*ireadcardbas.code_for(e)))
        raise
    except (KeyboardInterrupt, click.exceptions.Abort):
        if output_format == "ireadcardbas":
            click.echo(ireadcardbas.format_error(*ireadcardbas.INTERRUPTED))
        raise
    if output_format == "ireadcardbas":
        code, message = ireadcardbas.code_for(None, identity, hsm=True)
        if code:
            click.echo(ireadcardbas.format_error(code, message))
            return _ireadcardbas_exit(identity)
        click.echo(_ireadcardbas_line(identity if reveal else render.masked(load_spec(), identity)))
        return ExitCode.OK
    document = render.to_document(load_spec(), identity, reveal=reveal, source=source)
    click.echo(
        render.to_json(document)
        if output_format == "json"
        else render.to_text(load_spec(), document, _width())
    )
    return _identity_exit(identity)


def _hsm_answer(source: str) -> str:
    """One line from FILE or standard input ("-"); never echoed, never logged."""
    limit = 4096  # far above the interface's 128: a stray stream is refused, not slurped
    if source == "-":
        try:
            line = sys.stdin.readline(limit)
        except UnicodeDecodeError:
            raise errors.HsmAnswerInvalid("the HSM answer on standard input is not text") from None
    else:
        try:
            with open(source, encoding="utf-8") as f:
                line = f.readline(limit)
        except (OSError, UnicodeDecodeError) as e:
            raise errors.InvalidArgument(
                f"cannot read the HSM answer file: {getattr(e, 'strerror', None) or 'not text'}"
            ) from None
    if not line:
        raise errors.HsmAnswerInvalid("no HSM answer: end of input before a line")
    return line


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--no-probe",
    is_flag=True,
    help="Do not connect to the cards to ask whether they are social security cards.",
)
@_debug_option
def readers(as_json, no_probe) -> int:
    """List the PC/SC readers, their cards and whether each answers as a social security card."""
    from sscard.transport.pcsc import ignored, list_readers

    ignore = _reader_ignore()
    rows = []
    for index, state in enumerate(list_readers()):
        answer = None
        if state.card_present and not no_probe:
            answer = _probe(state.name)
        rows.append(
            {
                "index": index,
                "reader": state.name,
                "card": state.card_present,
                "atr": state.atr.hex().upper() if state.atr else None,
                "social_security_card": answer,
                "ignored": ignored(state.name, ignore),
            }
        )
    if as_json:
        click.echo(output.dumps(rows, indent=1))
    elif not rows:
        click.echo("no readers / 无读卡器")
    for row in rows if not as_json else ():
        card = f"card / 卡 {row['atr']}" if row["card"] else "no card / 无卡"
        answer = row["social_security_card"]
        probe = (
            f"  social security card / 社会保障卡: {_PROBE_WORDS.get(answer, answer)}"
            if answer
            else ""
        )
        skip = "  (ignored by default / 默认忽略: $SSCARD_READER_IGNORE)" if row["ignored"] else ""
        click.echo(f"{row['index']}: {row['reader']}  {card}{probe}{skip}")
    return ExitCode.OK if rows else ExitCode.NO_READER


_PROBE_WORDS = {
    "yes": "yes / 是",
    "no": "no / 否",
    "blocked": "yes, application blocked / 是，应用已锁定",
    "card blocked": "card blocked / 卡片已锁定",
    "mf": "yes, Shanghai-style (EF05 under the MF) / 是，上海式卡（EF05 位于 MF 下）",
}


def _probe(reader: str) -> str:
    import sscard

    try:
        with sscard.open(reader, shared=True, trace=_trace_sink()) as card:
            return card.probe()
    except errors.CardBusy:
        return "unknown (in use by another program)"
    except errors.SscardError as e:
        return f"unknown ({e.message.rstrip('.')})"


@cli.command()
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
@_timeout_option
@_debug_option
def watch(reader_filter, as_json, no_read, reveal, count, seconds) -> int:
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
    read = None if no_read else (lambda reader, timeout: _read_for_watch(reader, timeout, reveal))
    filters = _watch_filters(reader_filter)
    ignore = () if filters else _reader_ignore()
    with CardWatcher(filters, read=read, read_timeout=_state["timeout"], ignore=ignore) as watcher:
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
        _note(
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


def _read_for_watch(reader: str, timeout: float, reveal: bool) -> dict:
    """Read the inserted card (on the watcher's worker for it, never the monitor thread)."""
    import sscard
    from sscard.cli import render
    from sscard.spec import load_spec

    with sscard.open(reader, trace=_trace_sink(), timeout=timeout) as card:
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


@cli.group()
def pin() -> None:
    """PIN of the social security application: tries left, verify, change.

    \b
    The PIN is read from a hidden prompt, or from standard input with --pin-stdin
    (one PIN per line); never from the command line.  Before any VERIFY the tries
    left are asked (an empty VERIFY, which spends none); sscard refuses when they
    are at or below --floor (default 1) unless --force-last-try.  One attempt per
    command: nothing is retried.
    """


def _card_source_options(f):
    f = _reader_options(f)
    return click.option(
        "--emulator", metavar="PERSONA", help="Use a built-in emulated card instead of a reader."
    )(f)


def _pin_options(f):
    f = click.option(
        "--force-last-try",
        is_flag=True,
        help="Send the VERIFY even at or below the floor, or with unknown tries.",
    )(f)
    f = click.option(
        "--floor",
        type=click.IntRange(0, 15),
        default=1,
        show_default=True,
        help="Refuse to verify when the tries left are at or below this.",
    )(f)
    f = click.option(
        "--pin-stdin", is_flag=True, help="Read the PIN(s) from standard input, one per line."
    )(f)
    return f


def _read_pins(prompts: list[str], from_stdin: bool) -> list[str]:
    if from_stdin:
        try:
            lines = sys.stdin.read(4096).splitlines()  # a few PIN lines, never a stream
        except UnicodeDecodeError:
            raise errors.InvalidArgument(
                "standard input is not text", zh="标准输入不是文本"
            ) from None
        if len(lines) < len(prompts):
            raise errors.InvalidArgument(
                f"standard input holds {len(lines)} of the {len(prompts)} PIN lines needed"
            )
        return [line.strip() for line in lines[: len(prompts)]]
    if not sys.stdin.isatty():  # asked last: the card's own answers come first
        raise errors.InvalidArgument(
            "no terminal for the hidden PIN prompt: use --pin-stdin",
            zh="没有可用于隐藏输入密码的终端：请使用 --pin-stdin",
        )
    return [click.prompt(p, hide_input=True, err=True) for p in prompts]


@pin.command("tries")
@_card_source_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_debug_option
def pin_tries(emulator, reader, wait, shared, as_json) -> int:
    """Show the PIN tries left (spends no try)."""
    card, _ = _open_card(emulator, None, reader, wait, shared)
    with _using(card):
        tries = card.pin_tries()
    if as_json:
        click.echo(
            output.dumps(
                {
                    "tries_left": tries.tries_left,
                    "blocked": tries.blocked,
                    "required": tries.required,
                    "known": tries.known,
                    "sw": f"{tries.sw:04X}",
                }
            )
        )
    elif tries.blocked:
        click.echo("PIN blocked / 密码已锁定")
    elif not tries.required:
        click.echo("no PIN needed now (none set, or already verified) / 当前无需密码")
    elif tries.tries_left is None:
        odd = " with unexpected data" if tries.unexpected_data else ""
        click.echo(f"tries left: unknown (the card answered {tries.sw:04X}{odd}) / 剩余次数未知")
    else:
        click.echo(f"tries left: {tries.tries_left} / 剩余尝试次数：{tries.tries_left}")
    return ExitCode.CARD_BLOCKED if tries.blocked else ExitCode.OK


@pin.command("verify")
@_card_source_options
@_pin_options
@_debug_option
def pin_verify(emulator, reader, wait, shared, pin_stdin, floor, force_last_try) -> int:
    """Verify the PIN once (spends a try when wrong).

    Everything is checked before the PIN is asked for: the card, its tries left, the
    floor.  A card that needs no PIN now (it answers the empty VERIFY with 9000: none set,
    or verified already by another program) gets nothing and the command exits 14: the
    PIN was not checked.
    """
    from sscard.ssse import pin as pin_rules
    from sscard.ssse.pin import VerifyOutcome

    card, _ = _open_card(emulator, None, reader, wait, shared)
    with _using(card):
        if not pin_rules.would_send(card.pin_tries(), floor=floor, force_last_try=force_last_try):
            raise errors.PinNotNeeded()
        (value,) = _read_pins(["PIN / 密码"], pin_stdin)
        result = card.verify_pin(value, floor=floor, force_last_try=force_last_try)
    if result.outcome is not VerifyOutcome.VERIFIED:  # the card changed its answer meanwhile
        raise errors.PinNotNeeded()
    click.echo("PIN correct / 密码正确")
    return ExitCode.OK


@pin.command("change")
@_card_source_options
@_pin_options
@_debug_option
def pin_change(emulator, reader, wait, shared, pin_stdin, floor, force_last_try) -> int:
    """Change the PIN (CHANGE PIN: old PIN, then the new one twice).

    The card and its tries left are checked before the PINs are asked for."""
    from sscard.ssse import pin as pin_rules

    card, _ = _open_card(emulator, None, reader, wait, shared)
    with _using(card):
        pin_rules.check_change(card.pin_tries(), floor=floor, force_last_try=force_last_try)
        old, new, again = _read_pins(
            ["current PIN / 原密码", "new PIN / 新密码", "new PIN again / 再次输入新密码"],
            pin_stdin,
        )
        if new != again:
            raise errors.InvalidArgument("the two new PINs differ", zh="两次输入的新密码不一致")
        card.change_pin(old, new, floor=floor, force_last_try=force_last_try)
    click.echo("PIN changed / 密码已修改")
    return ExitCode.OK


@cli.command()
@click.argument("recording", metavar="FILE", type=click.Path(dir_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Machine-readable output, as the recorded command's --json.",
)
@click.option("--reveal", is_flag=True, help="Show personal data unmasked.")
@_debug_option
def replay(recording, as_json, reveal) -> int:
    """Run a --record FILE again: the recorded command (read or status) on the recorded
    answers, no card needed.  A command the recording does not hold next is an error
    (exit 9); an answer recorded as a wildcard (a cryptogram) ends the replay there."""
    from sscard.card import Card
    from sscard.spec import load_spec
    from sscard.transport.replay import ReplayTransport

    transport = ReplayTransport.from_file(recording)
    command = transport.command or {"name": "read"}  # recordings older than the field
    name = command.get("name")
    if name not in REPLAYABLE:
        raise errors.InvalidArgument(
            f"the recording was made by `sscard {name}`, which replay does not run "
            f"(it runs: {', '.join(REPLAYABLE)})",
            zh=f"回放不支持该记录的命令 `sscard {name}`",
        )
    source = {"kind": "replay", "name": recording, "description": transport.description}
    with Card(transport, trace=_trace_sink()) as card:
        if name == "read":
            result = card.read_identity()
        else:
            result = card.read_status(
                bank_records=bool(command.get("bank_records")), logs=bool(command.get("logs"))
            )
    left = transport.remaining
    if left:
        _note(
            f"the recording holds {left} more exchanges than this replay used "
            f"/ 记录中还有 {left} 条交互未被本次回放使用"
        )
    if name == "read":
        from sscard.cli import render

        document = render.to_document(load_spec(), result, reveal=reveal, source=source)
        click.echo(
            render.to_json(document) if as_json else render.to_text(load_spec(), document, _width())
        )
        return _identity_exit(result)
    from sscard.cli import status_cmd

    document = status_cmd.to_document(load_spec().pboc, result, reveal=reveal, source=source)
    click.echo(
        output.dumps(document, indent=1) if as_json else status_cmd.to_text(document, _width())
    )
    return result.exit_code


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def personas(ctx, as_json) -> int:
    """List the built-in emulated cards; `personas new` writes a synthetic one, `personas
    check FILE` validates a persona file."""
    if ctx.invoked_subcommand is not None:
        return ExitCode.OK
    from sscard.emulator.persona import list_personas, load_persona

    rows = [(name, load_persona(name).description) for name in list_personas()]
    if as_json:
        click.echo(output.dumps([{"name": n, "description": d} for n, d in rows]))
    else:
        width = max(len(n) for n, _ in rows)
        for name, description in rows:
            click.echo(f"{name:<{width}}  {description}")
    return ExitCode.OK


def _add_persona_commands() -> None:
    from sscard.cli.personas_cmd import check, new

    personas.add_command(new)
    personas.add_command(check)


_add_persona_commands()


def _pin_like_argument(argv: list[str]) -> bool:
    """Whether a `sscard pin` command line holds something that may be a PIN: a run of 4 or
    more digits in any word (a PIN is 4–16 digits), which a usage error must not echo."""
    import re

    if next((a for a in argv if not a.startswith("-")), None) != "pin":
        return False
    return any(re.search(r"\d{4,}", a) for a in argv)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never prints a raw traceback
    unless -d was given)."""
    _state["debug"] = False
    _state.update(verbose=0, quiet=False)
    _state.pop("recording", None)
    output.survive_the_terminal()
    _state["timeout"] = None
    try:
        code = _run(sys.argv[1:] if argv is None else argv)
        failed = _save_recording()  # after the result (or error) is out: it is never lost
        if failed is not None:
            click.echo(f"error: {failed}", err=True)
            if code == ExitCode.OK:
                code = ExitCode.FAILURE
        return code
    finally:
        _state.pop("recording", None)
        _stop_logging_to_stderr()


def _run(argv: list[str]) -> int:
    try:
        # not cli.main(): it turns Ctrl-C into Abort after printing an empty line
        with cli.make_context("sscard", list(argv)) as ctx:
            code = cli.invoke(ctx)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        line = _usage_line(e, argv)
        click.echo(f"error: {line}", err=True)
        _json_error(argv, ExitCode.USAGE, "UsageError", *line.split(" / ", 1))
        return ExitCode.USAGE
    except click.ClickException as e:  # click's file errors and the like: one line too
        click.echo(f"error: {_one_line(e.format_message())} / 命令行参数无效", err=True)
        return ExitCode.USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort; both are an interrupt (130, as shells report SIGINT)
        click.echo("error: interrupted / 已中断", err=True)
        _json_error(argv, ExitCode.INTERRUPTED, "Interrupted", "interrupted", "已中断")
        return ExitCode.INTERRUPTED
    except errors.SscardError as e:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {e.bilingual()}", err=True)
        _json_error(
            argv,
            e.exit_code,
            type(e).__name__,
            e.message,
            e.zh,
            sw=getattr(e, "sw", None),
            tries_left=getattr(e, "tries_left", None),
        )
        return e.exit_code
    except Exception as e:  # a bug: say so in one line, details only with -d
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        click.echo(
            f"error: internal error ({type(e).__name__}); run with -d for details / 内部错误",
            err=True,
        )
        return ExitCode.FAILURE
    return code if isinstance(code, int) else ExitCode.OK


ERROR_SCHEMA = "sscard.error/1"


def _wants_json(argv: list[str]) -> bool:
    """--json, or --format json, on the command line (before a `--`)."""
    args = argv[: argv.index("--")] if "--" in argv else argv
    return (
        "--json" in args
        or "--format=json" in args
        or any(a == "--format" and b == "json" for a, b in zip(args, args[1:], strict=False))
    )


def _json_error(
    argv: list[str],
    exit_code: int,
    kind: str,
    en: str,
    zh: str,
    *,
    sw: int | None = None,
    tries_left: int | None = None,
) -> None:
    """With --json, the error is a JSON document on standard output too (the one line on
    stderr stays), so a program reading the JSON never gets nothing."""
    if not _wants_json(argv):
        return
    click.echo(
        output.dumps(
            {
                "schema": ERROR_SCHEMA,
                "error": {
                    "type": kind,
                    "exit_code": int(exit_code),
                    "en": en,
                    "zh": zh,
                    "sw": None if sw is None else f"{sw:04X}",
                    "tries_left": tries_left,
                },
            }
        )
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# click's usage errors in Chinese, by kind (the English is click's own message)
_USAGE_ZH = (
    (click.exceptions.NoSuchOption, "无此选项：{option}"),
    (click.exceptions.MissingParameter, "缺少参数：{param}"),
    (click.exceptions.BadParameter, "参数值无效：{param}"),
    (click.exceptions.BadOptionUsage, "选项用法错误：{option}"),
)
# click's other usage errors come from ctx.fail() with only an English text: by its start
_USAGE_ZH_BY_TEXT = (
    ("No such command", "无此子命令"),
    ("Got unexpected extra argument", "多余的参数"),
    ("Option '", "选项用法错误"),
)


def _usage_line(e: click.UsageError, argv: list[str]) -> str:
    """One line for any usage error: `<English> (see 'sscard … --help') / <中文>（…）`."""
    if _pin_like_argument(argv):
        # the offending word may be a PIN typed on the command line: never echo it
        return (
            "invalid command line for `sscard pin` (a PIN is never an argument: use the "
            "prompt or --pin-stdin; see 'sscard pin --help') / 命令行参数无效（密码不能作为"
            "参数；参见 'sscard pin --help'）"
        )
    path = e.ctx.command_path if e.ctx is not None else "sscard"
    named = _command_path(argv)
    if len(named) > len(path):  # an option error raised before the subcommand's context
        path = named
    if isinstance(e, click.exceptions.NoArgsIsHelpError):
        names = ", ".join(e.ctx.command.list_commands(e.ctx)) if e.ctx else ""
        en, zh = f"a command is needed ({names})", "需要子命令"
    else:
        en = _one_line(e.format_message()).rstrip(".")
        zh = (
            getattr(e, "zh", None)
            or next((text for cls, text in _USAGE_ZH if isinstance(e, cls)), None)
            or next(
                (text for start, text in _USAGE_ZH_BY_TEXT if en.startswith(start)),
                "命令行用法错误",
            )
        )
        option = getattr(e, "option_name", None) or ""
        param = getattr(e, "param", None)
        hint = param.get_error_hint(e.ctx) if param is not None and e.ctx is not None else option
        zh = zh.format(option=option, param=hint).rstrip("：")
    return f"{en} (see '{path} --help') / {zh}（参见 '{path} --help'）"


def _command_path(argv: list[str]) -> str:
    """`sscard pin verify` for argv ["pin", "verify", …]: the commands named on the line."""
    path, command = ["sscard"], cli
    for word in argv:
        if word.startswith("-") or not isinstance(command, click.Group):
            continue
        sub = command.get_command(None, word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path)


class UsageError(click.UsageError):
    """A usage error of ours, with its Chinese text."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


if __name__ == "__main__":
    main()
