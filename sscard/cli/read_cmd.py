"""`sscard read`: the identity data of the social security application (text, JSON, or the
iReadCardBas string), with optional card authentication (--keys, --psam) or an HSM (two steps)."""

from __future__ import annotations

import click

from sscard.cli.options import (
    CardSource,
    RunState,
    UsageError,
    debug_option,
    emulator_option,
    open_card,
    pass_state,
    reader_options,
    record_options,
    takes_card_source,
    using,
)
from sscard.errors import ExitCode


@click.command()
@emulator_option("Read a built-in emulated card (see `sscard personas`) instead of a reader.")
@click.option(
    "--emulator-fallback",
    metavar="PERSONA",
    help="Read this emulated card when no reader or no card is present.",
)
@reader_options
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
@record_options
@debug_option
@pass_state
@takes_card_source
def read(
    state: RunState,
    source: CardSource,
    as_json,
    output_format,
    reveal,
    keys_choice,
    psam_reader,
    hsm_step1=False,
    hsm_step2=None,
) -> int:
    """Read identity data from the social security application.

    Issuer data (EF05) is always read; holder data (EF06) too unless the card
    needs a key for it (generation-3 cards: RKSSSE), in which case it is
    reported as locked and the exit code is 7.  Reading changes nothing on the card.
    """
    if source.emulator and (source.emulator_fallback or source.reader or source.wait is not None):
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
    if as_json:
        output_format = "json"
    if hsm_step1:
        if keys_choice or psam_reader:
            raise UsageError(
                "--hsm-step1 cannot be combined with --keys or --psam",
                "--hsm-step1 不能与 --keys 或 --psam 同时使用",
            )
        from sscard.cli.read_hsm import read_with_hsm

        return read_with_hsm(state, source, output_format, reveal, hsm_step2)
    if output_format == "ireadcardbas":
        from sscard.cli.read_ireadcardbas import read_ireadcardbas

        return read_ireadcardbas(state, source, reveal, keys_choice, psam_reader)
    keys = key_source(state, keys_choice, psam_reader, source.shared)
    try:
        card, shown = open_card(state, source, besides=getattr(keys, "reader", None))
        with using(card):
            identity = card.read_identity(keys=keys)
            shown["description"] = card.description
    finally:
        close_keys(keys)
    if psam_reader:
        shown["psam"] = {"description": keys.description, "terminal_number": keys.terminal_number}
    print_identity(identity, output_format, reveal, shown)
    return identity_exit(identity)


def print_identity(identity, output_format: str, reveal: bool, shown: dict) -> None:
    """The identity as text or as the sscard.identity/1 JSON document."""
    from sscard.cli import render  # only now: nothing of it is needed before the first APDU
    from sscard.cli.textwidth import terminal_width
    from sscard.spec import load_spec

    spec = load_spec()
    document = render.to_document(spec, identity, reveal=reveal, source=shown)
    click.echo(
        render.to_json(document)
        if output_format == "json"
        else render.to_text(spec, document, terminal_width())
    )


def identity_exit(identity) -> int:
    """An incomplete identity (a required item absent or empty) is never a success; then a
    holder part that needs a key."""
    if identity.missing:
        return ExitCode.INCOMPLETE
    return ExitCode.LOCKED if identity.holder_status.value == "locked" else ExitCode.OK


def key_source(state: RunState, keys_choice: str | None, psam_reader: str | None, shared: bool):
    """--keys (software keys) or --psam (a PSAM in a reader, or the built-in one)."""
    if psam_reader is None:
        from sscard.auth.keysource import load_keys

        return load_keys(keys_choice)
    from sscard.auth import psam

    if psam_reader == psam.EMULATOR:
        return psam.open_psam_emulator(trace=state.trace_sink())
    return psam.open_psam(psam_reader, shared=shared, trace=state.trace_sink())


def close_keys(keys) -> None:
    close = getattr(keys, "close", None)  # a PSAM holds its reader
    if close is not None:
        close()
