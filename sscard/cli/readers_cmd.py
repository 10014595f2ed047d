"""`sscard readers`: the PC/SC readers, their cards, and whether each is a social security card."""

from __future__ import annotations

import click

from sscard import errors
from sscard.cli import output
from sscard.cli.options import current_state, debug_option, reader_ignore
from sscard.errors import ExitCode


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--no-probe",
    is_flag=True,
    help="Do not connect to the cards to ask whether they are social security cards.",
)
@debug_option
def readers(as_json, no_probe) -> int:
    """List the PC/SC readers, their cards and whether each answers as a social security card."""
    from sscard.transport.pcsc import ignored, list_readers

    ignore = reader_ignore()
    rows = []
    for index, reader in enumerate(list_readers()):
        answer = None
        if reader.card_present and not no_probe:
            answer = _probe(reader.name)
        rows.append(
            {
                "index": index,
                "reader": reader.name,
                "card": reader.card_present,
                "atr": reader.atr.hex().upper() if reader.atr else None,
                "social_security_card": answer,
                "ignored": ignored(reader.name, ignore),
            }
        )
    if as_json:
        click.echo(output.dumps(rows, indent=1))
    elif not rows:
        click.echo("no readers / 无读卡器")
    for row in rows if not as_json else ():
        card = f"card / 卡 {row['atr']}" if row["card"] else "no card / 无卡"
        said = row["social_security_card"]
        probe = (
            f"  social security card / 社会保障卡: {_PROBE_WORDS.get(said, said)}"
            if isinstance(said, str) and said
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
        with sscard.open(reader, shared=True, trace=current_state().trace_sink()) as card:
            return card.probe()
    except errors.CardBusy:
        return "unknown (in use by another program)"
    except errors.SscardError as e:
        return f"unknown ({e.message.rstrip('.')})"
