"""`sscard replay FILE`: the command a --record FILE holds, run again on its recorded answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sscard import errors
from sscard.cli import output
from sscard.cli.options import RunState, debug_option, pass_state
from sscard.ssse.results import Identity

if TYPE_CHECKING:
    from sscard.status import Status

REPLAYABLE = ("read", "status")  # the commands that take --record


@click.command()
@click.argument("recording", metavar="FILE", type=click.Path(dir_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Machine-readable output, as the recorded command's --json.",
)
@click.option("--reveal", is_flag=True, help="Show personal data unmasked.")
@debug_option
@pass_state
def replay(state: RunState, recording, as_json, reveal) -> int:
    """Run a --record FILE again: the recorded command (read or status) on the recorded
    answers, no card needed.  A command the recording does not hold next is an error
    (exit 9); an answer recorded as a wildcard (a cryptogram) ends the replay there."""
    from sscard.card import Card
    from sscard.cli.textwidth import terminal_width
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
    with Card(transport, trace=state.trace_sink()) as card:
        result: Identity | Status
        if name == "read":
            result = card.read_identity()
        else:
            result = card.read_status(
                bank_records=bool(command.get("bank_records")), logs=bool(command.get("logs"))
            )
    left = transport.remaining
    if left:
        state.note(
            f"the recording holds {left} more exchanges than this replay used "
            f"/ 记录中还有 {left} 条交互未被本次回放使用"
        )
    if isinstance(result, Identity):  # name "read"
        from sscard.cli.read_cmd import identity_exit, print_identity

        print_identity(result, "json" if as_json else "text", reveal, source)
        return identity_exit(result)
    from sscard.cli import status_view

    document = status_view.to_document(load_spec().pboc, result, reveal=reveal, source=source)
    click.echo(
        output.dumps(document, indent=1)
        if as_json
        else status_view.to_text(document, terminal_width())
    )
    return result.exit_code
