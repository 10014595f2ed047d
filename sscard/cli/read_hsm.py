"""`sscard read --hsm-step1 [--hsm-step2 FILE|-]`: the two-step read with a platform HSM, both
steps in one process and one connection.  A second process cannot take over: pyscard powers
the card off when a connection closes and pcscd powers down a card nobody holds, and either
loses the challenge."""

from __future__ import annotations

import sys

import click

from sscard import errors
from sscard.cli import output
from sscard.cli.options import CardSource, RunState, open_card, using
from sscard.cli.read_cmd import identity_exit, print_identity
from sscard.cli.read_ireadcardbas import ireadcardbas_exit, ireadcardbas_line
from sscard.errors import ExitCode


def read_with_hsm(
    state: RunState,
    source: CardSource,
    output_format: str,
    reveal: bool,
    step2_source: str | None,
) -> int:
    from sscard import ireadcardbas
    from sscard.cli import render
    from sscard.spec import load_spec

    try:
        card, shown = open_card(state, source)
        with using(card):
            step1 = card.hsm_step1()
            displayed = step1
            if not reveal:
                from dataclasses import replace

                displayed = replace(
                    step1,
                    card_identification=render._shown(
                        load_spec(), "card_identification", step1.card_identification, False
                    ),
                )
            line = displayed.to_string()
            click.echo(
                output.dumps({"schema": "sscard.hsm_step1/1", "step1": line})
                if output_format == "json"
                else line
            )
            sys.stdout.flush()  # the HSM client waits for this line
            if step2_source is None:
                return ExitCode.OK
            identity = card.hsm_step2(step1, _hsm_answer(step2_source))
            shown["description"] = card.description
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
            return ireadcardbas_exit(identity)
        click.echo(ireadcardbas_line(identity if reveal else render.masked(load_spec(), identity)))
        return ExitCode.OK
    print_identity(identity, output_format, reveal, shown)
    return identity_exit(identity)


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
