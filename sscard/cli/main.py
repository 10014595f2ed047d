"""`sscard` — read the PRC social security card from the terminal.

Errors print one line `error: …` (English / Chinese) and exit non-zero; a
traceback only with -d/--debug.  Exit codes: see `sscard.errors.ExitCode`.
"""

from __future__ import annotations

import sys
import traceback

import click

from sscard import errors
from sscard.errors import ExitCode

_state = {"debug": False}

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  runtime failure
  2  usage error (bad option, bad input file)
  3  no reader / PC/SC service unavailable
  4  no card in the reader
  5  not a social security card
  6  card or application blocked
  7  data locked (needs a key or PIN not provided)
  8  card removed or reset during the operation
  9  communication error (malformed or unexpected answer)
"""


def _debug_option(f):
    def remember(ctx, param, value):
        _state["debug"] = _state["debug"] or value
        return value
    return click.option("-d", "--debug", is_flag=True, expose_value=False, callback=remember,
                        is_eager=True,
                        help="Print a redacted APDU trace (and tracebacks) to stderr.")(f)


def _trace_sink():
    if not _state["debug"]:
        return None
    return lambda line: click.echo(line, err=True)


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sscard", prog_name="sscard")
@_debug_option
def cli() -> None:
    """Read the PRC social security card (社会保障卡)."""


def _open_card(emulator: str | None, emulator_fallback: str | None, reader: str | None):
    import sscard
    trace = _trace_sink()
    if emulator:
        return sscard.open_emulator(emulator, trace=trace), {"kind": "emulator", "name": emulator}
    try:
        card = sscard.open(reader, trace=trace)
        return card, {"kind": "reader", "name": card.description}
    except (errors.NoReader, errors.ServiceUnavailable, errors.NoCard) as e:
        if not emulator_fallback:
            raise
        click.echo(f"note: {e.message}; reading the built-in emulated card "
                   f"'{emulator_fallback}' instead / 未找到实体卡，改读内置模拟卡", err=True)
        return (sscard.open_emulator(emulator_fallback, trace=trace),
                {"kind": "emulator", "name": emulator_fallback})


@cli.command()
@click.option("--emulator", metavar="PERSONA",
              help="Read a built-in emulated card (see `sscard personas`) instead of a reader.")
@click.option("--emulator-fallback", metavar="PERSONA",
              help="Read this emulated card when no reader or no card is present.")
@click.option("-r", "--reader", metavar="READER",
              help="Reader index or name substring (default: the first reader holding a card).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (schema sscard.identity/1).")
@click.option("--reveal", is_flag=True, help="Show personal data unmasked.")
@_debug_option
def read(emulator, emulator_fallback, reader, as_json, reveal) -> int:
    """Read identity data from the social security application.

    Issuer data (EF05) is always read; holder data (EF06) too unless the card
    needs a key for it (generation-3 cards: RKSSSE), in which case it is
    reported as locked and the exit code is 7.
    """
    from sscard.cli import render
    from sscard.spec import load_spec

    if emulator and (emulator_fallback or reader):
        raise click.UsageError("--emulator cannot be combined with --reader or --emulator-fallback")
    card, source = _open_card(emulator, emulator_fallback, reader)
    with card:
        identity = card.read_identity()
        source["description"] = card.description
    spec = load_spec()
    document = render.to_document(spec, identity, reveal=reveal, source=source)
    click.echo(render.to_json(document) if as_json else render.to_text(spec, document))
    return ExitCode.LOCKED if identity.holder_status.value == "locked" else ExitCode.OK


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def personas(as_json) -> int:
    """List the built-in emulated cards."""
    import json

    from sscard.emulator.persona import list_personas, load_persona
    rows = [(name, load_persona(name).description) for name in list_personas()]
    if as_json:
        click.echo(json.dumps([{"name": n, "description": d} for n, d in rows], ensure_ascii=False))
    else:
        width = max(len(n) for n, _ in rows)
        for name, description in rows:
            click.echo(f"{name:<{width}}  {description}")
    return ExitCode.OK


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never prints a raw traceback
    unless -d was given)."""
    _state["debug"] = False
    try:
        code = cli.main(args=argv, prog_name="sscard", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted / 已中止", err=True)
        return ExitCode.FAILURE
    except errors.SscardError as e:
        if _state["debug"]:
            traceback.print_exc()
        click.echo(f"error: {e.bilingual()}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted / 已中断", err=True)
        return 130
    except Exception as e:  # a bug: say so in one line, details only with -d
        if _state["debug"]:
            traceback.print_exc()
        click.echo(f"error: internal error ({type(e).__name__}); run with -d for details "
                   "/ 内部错误", err=True)
        return ExitCode.FAILURE
    return code if isinstance(code, int) else ExitCode.OK


if __name__ == "__main__":
    main()
