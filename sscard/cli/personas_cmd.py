"""`sscard personas`: the built-in emulated cards; `personas new` (a synthetic persona file from
a seed) and `personas check FILE`."""

from __future__ import annotations

import click

from sscard.errors import ExitCode


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def personas(ctx, as_json) -> int:
    """List the built-in emulated cards; `personas new` writes a synthetic one, `personas
    check FILE` validates a persona file."""
    if ctx.invoked_subcommand is not None:
        return ExitCode.OK
    from sscard.cli import output
    from sscard.emulator.persona import list_personas, load_persona

    rows = [(name, load_persona(name).description) for name in list_personas()]
    if as_json:
        click.echo(output.dumps([{"name": n, "description": d} for n, d in rows]))
    else:
        width = max(len(n) for n, _ in rows)
        for name, description in rows:
            click.echo(f"{name:<{width}}  {description}")
    return ExitCode.OK


@personas.command()
@click.option(
    "--generation",
    type=click.IntRange(1, 3),
    required=True,
    help="Card generation: 1, 2 or 3 (spec 1.00, 2.00, 3.00).",
)
@click.option(
    "--region",
    required=True,
    metavar="CODE",
    help="6-digit administrative division code (e.g. 440300): issuer and birthplace.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), required=True, help="The same seed gives the same person."
)
@click.option(
    "--bank",
    type=click.Choice(["used", "blocked", "expired", "none"]),
    default="used",
    show_default=True,
    help="The UnionPay debit application's state.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the persona to FILE (never over an existing file); default stdout.",
)
def new(generation, region, seed, bank, output) -> int:
    """Write a persona TOML of a synthetic person (valid ID number check digit, a name that
    holds 测试, card number with its check character, a consistent bank application)."""
    import os
    import tempfile

    from sscard.emulator.persona import load_persona
    from sscard.emulator.persona_new import new_persona
    from sscard.errors import InvalidArgument

    text = new_persona(generation, region, seed, bank)
    with tempfile.TemporaryDirectory() as tmp:  # what we write must load
        probe = os.path.join(tmp, "persona.toml")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(text)
        load_persona(probe)
    if output is None:
        click.echo(text, nl=False)
        return ExitCode.OK
    try:
        with open(output, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise InvalidArgument(f"{output} exists; give another name", zh="文件已存在") from None
    except OSError as e:
        raise InvalidArgument(f"cannot write {output}: {e.strerror}", zh="无法写入文件") from None
    click.echo(f"wrote {output} / 已写入", err=True)
    return ExitCode.OK


@personas.command()
@click.argument("file", type=click.Path(dir_okay=False))
def check(file) -> int:
    """Validate a persona file as the emulator loads it (one line: ok, or the error)."""
    from pathlib import Path

    from sscard.emulator.persona import load_persona

    persona = load_persona(Path(file))
    bank = "none" if persona.bank is None else persona.bank.state
    click.echo(
        f"ok: {file}: generation {persona.generation}, layout {persona.layout}, state "
        f"{persona.state}, bank application {bank} / 有效"
    )
    return ExitCode.OK
