"""`sscard status`: is each application of the card present, usable, blocked, expired?
(The views are in sscard.cli.status_view.)"""

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
    psam_is_no_card,
    reader_options,
    record_options,
    takes_card_source,
    using,
)


@click.command()
@emulator_option("Use a built-in emulated card (see `sscard personas`) instead of a reader.")
@reader_options
@click.option(
    "--bank-records",
    is_flag=True,
    help="Also read the bank application's records (PAN, dates, name, ID "
    "number). This sends ONE GET PROCESSING OPTIONS, which CHANGES THE "
    "CARD: the bank application's transaction counter (ATC) goes up by "
    "one.  Never repeated.",
)
@click.option(
    "--logs",
    is_flag=True,
    help="Also read the bank application's usage data: e-cash amounts and "
    "the transaction and load logs (no verdict needs them; each costs "
    "APDUs on a slow card).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sscard.status/1 JSON document.")
@click.option("--reveal", is_flag=True, help="Show personal data unmasked.")
@record_options
@debug_option
@pass_state
@takes_card_source
def status(state: RunState, source: CardSource, bank_records, logs, as_json, reveal) -> int:
    """Show the state of the social security and bank applications.

    \b
    Per application: present, usable, blocked, expired; PIN tries left (social
    security PIN: an empty VERIFY, which spends no try; bank PIN: GET DATA 9F17,
    never a VERIFY); for the bank application a usage hint (transaction counters;
    with --logs also e-cash amounts and the logs).  Cross-checks the social
    security number, name and expiry against the bank application when its
    records were read (--bank-records).
    Without --bank-records nothing on the card changes.
    Whether the bank activated the account, and whether the social security
    bureau enabled the card, is not recorded on the chip: sscard says where to ask.

    \b
    Exit codes: 0 usable; 5 not a social security card; 6 the card, an
    application or a PIN is blocked; 15 the bank application's ID number or
    name is not the holder's; 13 none of these, but an application is expired;
    other codes as for every command (sscard --help).
    """
    if source.emulator and (source.reader or source.wait is not None):
        raise UsageError(
            "--emulator cannot be combined with --reader or --wait",
            "--emulator 不能与 --reader 或 --wait 同时使用",
        )
    card, shown = open_card(state, source)
    with using(card):
        result = card.read_status(bank_records=bank_records, logs=logs)
        if result.ssse.state.value == "absent" and result.bank.state.value == "absent":
            psam_is_no_card(card)  # a PSAM chosen by default is no card
        shown["description"] = card.description
    from sscard.cli import output
    from sscard.cli.status_view import to_document, to_text
    from sscard.cli.textwidth import terminal_width
    from sscard.spec import load_spec

    document = to_document(load_spec().pboc, result, reveal=reveal, source=shown)
    click.echo(output.dumps(document, indent=1) if as_json else to_text(document, terminal_width()))
    return result.exit_code
