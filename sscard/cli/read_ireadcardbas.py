"""`sscard read --format ireadcardbas`: one line on stdout, always — the national reader
interface's iReadCardBas string, or `code|message|` on failure."""

from __future__ import annotations

import click

from sscard import errors
from sscard.cli.options import CardSource, RunState, open_card, using
from sscard.cli.read_cmd import close_keys, key_source
from sscard.errors import ExitCode


def read_ireadcardbas(
    state: RunState, source: CardSource, reveal: bool, keys_choice, psam_reader
) -> int:
    from sscard import ireadcardbas

    keys = None
    try:
        keys = key_source(state, keys_choice, psam_reader, source.shared)
        card, _ = open_card(state, source, besides=getattr(keys, "reader", None))
        with using(card):
            identity = card.read_identity(keys=keys)
    except errors.SscardError as e:
        click.echo(ireadcardbas.format_error(*ireadcardbas.code_for(e)))
        raise
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo(ireadcardbas.format_error(*ireadcardbas.INTERRUPTED))
        raise
    finally:
        close_keys(keys)
    terminal = getattr(keys, "terminal_number", None) or ireadcardbas.NO_PSAM_TERMINAL
    code, message = ireadcardbas.code_for(None, identity)
    if code:
        click.echo(ireadcardbas.format_error(code, message))
        return ireadcardbas_exit(identity)
    if not reveal:
        from sscard.cli import render
        from sscard.spec import load_spec

        identity = render.masked(load_spec(), identity)
    click.echo(ireadcardbas_line(identity, terminal_number=terminal))
    return ExitCode.OK


def ireadcardbas_exit(identity) -> int:
    """The exit code for a read the iReadCardBas string cannot carry."""
    if identity.missing:
        return ExitCode.INCOMPLETE
    status = identity.holder_status.value
    if status == "locked":
        return ExitCode.LOCKED
    if status == "absent":  # a social security card without EF06 (Shanghai-style)
        return ExitCode.NOT_OFFERED
    return ExitCode.NOT_SSC  # the card failed its internal authentication


def ireadcardbas_line(identity, **options) -> str:
    """The iReadCardBas string; a value it cannot carry still gives one `code|message|` line."""
    from sscard import ireadcardbas

    try:
        return ireadcardbas.format_identity(identity, **options)
    except errors.SscardError as e:
        click.echo(ireadcardbas.format_error(*ireadcardbas.code_for(e)))
        raise
