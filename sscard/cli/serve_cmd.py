"""`sscard serve`: the local kiosk service (sscard.service; needs the `sscard[service]` extra).

Only this command imports the web framework: `sscard read` and the others never pay for it.
"""

from __future__ import annotations

import math

import click

from sscard.cli.options import RunState, UsageError, debug_option, pass_state


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback only unless --allow-remote-host).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=12342,
    show_default=True,
    help="TCP port (12342: the port of the national-interface WebSocket "
    "bridges; 0: any free port).",
)
@click.option(
    "--allow-remote-host",
    is_flag=True,
    help="Accept a --host that is not a loopback address (other machines "
    "could then read cards: a warning is printed).",
)
@click.option(
    "--accept-null-origin-risk",
    is_flag=True,
    help="Needed with --allow-origin null: a sandboxed iframe on ANY web site "
    "also sends Origin: null, so every site could then read cards.",
)
@click.option(
    "--allow-origin",
    "origins",
    metavar="ORIGIN",
    multiple=True,
    help="A web origin allowed to use the service, exactly as the browser "
    "sends it: scheme://host[:port] (repeatable); `null` for file:// "
    "pages (with --accept-null-origin-risk).  Pages served by the service "
    "itself are always allowed.",
)
@click.option(
    "-r",
    "--reader",
    "readers",
    metavar="READER",
    multiple=True,
    help="Serve only readers whose name contains READER (repeatable; default: all readers).",
)
@click.option(
    "--keys",
    "keys_choice",
    metavar="FILE|test",
    help="Authenticate cards with software root keys (as `sscard read --keys`; "
    "default: $SSCARD_KEYS_FILE or $SSCARD_KEYS).",
)
@click.option(
    "--psam",
    "psam_reader",
    metavar="READER|emulator",
    help="Authenticate cards with the PSAM in this reader (as `sscard read "
    "--psam`); that reader is not served as a card reader.",
)
@click.option(
    "--allow-bank-records",
    is_flag=True,
    help="Allow POST /v1/status?bank_records=true and the compat "
    "iReadICCardNum: ONE GET PROCESSING OPTIONS each, which CHANGES THE "
    "CARD (the bank application's ATC goes up by one).",
)
@click.option(
    "--hsm-timeout",
    type=click.FloatRange(min=1, max=600),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the card of an HSM Step 1 stays held for its WebSocket "
    "before Step 2 (other clients of that reader get 'busy' meanwhile).",
)
@debug_option
@pass_state
def serve(
    state: RunState,
    host,
    port,
    allow_remote_host,
    accept_null_origin_risk,
    origins,
    readers,
    keys_choice,
    psam_reader,
    allow_bank_records,
    hsm_timeout,
) -> int:
    """Run the local kiosk service: HTTP API, live events, and the national-interface
    compatible WebSocket, on one loopback port.

    \b
    GET  /v1/health, /v1/readers, /v1/identity?reader=R, /v1/status?reader=R
    POST /v1/status?reader=R&bank_records=true   (only with --allow-bank-records)
    GET  /v1/events                              (Server-Sent Events)
    WS   /                                       ({"function":"iReadCardBas","iType":3} …)
    GET  /openapi.json, /kiosk/                  (API document, demo kiosk page)

    Pages from other origins get nothing unless --allow-origin names them.  No raw APDU and
    no PIN ever goes through the service.  SIGTERM or Ctrl-C stops it.
    """
    if keys_choice and psam_reader:
        raise UsageError(
            "--keys and --psam are two key sources: give one",
            "--keys 与 --psam 是两种密钥来源，只能选一种",
        )
    if not math.isfinite(hsm_timeout):  # FloatRange lets nan through
        raise UsageError(
            "--hsm-timeout must be a number of seconds from 1 to 600",
            "--hsm-timeout 必须为 1 到 600 之间的秒数",
        )
    if any(o.strip() == "null" for o in origins) and not accept_null_origin_risk:
        raise UsageError(
            "--allow-origin null lets a sandboxed iframe on any web site read "
            "cards: add --accept-null-origin-risk if the kiosk browser opens no "
            "other site",
            "--allow-origin null 使任何网站的沙箱 iframe 都能读卡："
            "确认自助机浏览器不打开其他网站时，请加 --accept-null-origin-risk",
        )
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        from sscard import errors

        raise errors.InvalidArgument(
            "sscard serve needs the service extra: pip install 'sscard[service]'",
            zh="sscard serve 需要 service 组件：pip install 'sscard[service]'",
        ) from None
    from sscard.service.config import ServiceConfig, parse_origin
    from sscard.service.server import run

    config = ServiceConfig(
        host=host,
        port=port,
        allow_remote=allow_remote_host,
        origins=frozenset(parse_origin(o) for o in origins),
        readers=tuple(readers),
        keys=keys_choice,
        psam=psam_reader,
        allow_bank_records=allow_bank_records,
        hsm_timeout=hsm_timeout,
    )
    return run(config, debug=state.debug)
