"""Time to open the spec, part by part: what a command pays before its first APDU.

    .venv/bin/python bench/spec_load.py [--repeat N]

`load_spec()` reads the status words, commands, code tables and ATR layout; the ssse, pboc
and psam parts are read on first access (sscard.spec.model.Spec).  Each step is reported in
milliseconds and as a ratio against a baseline measured in the same process: reading and
parsing the same TOML files with tomllib alone, so the ratio is the cost of validating and
building the model and does not depend on how fast the machine is.  `sscard read` pays for
the first two rows only.
"""

from __future__ import annotations

import argparse
import os
import time
import tomllib

from sscard.spec.loader import build_spec, spec_dir

STEPS = {  # step -> the files it reads
    "load_spec()": ("status_words.toml", "commands.toml", "code_tables.toml", "atr.toml"),
    "first .ssse": ("ssse.toml",),
    "first .pboc": ("pboc.toml",),
    "first .psam": ("psam.toml",),
}


def parse_only(files: tuple[str, ...]) -> None:
    for name in files:
        with open(os.path.join(spec_dir(), name), "rb") as f:
            tomllib.load(f)


def one_load() -> dict[str, float]:
    times = {}
    t0 = time.perf_counter()
    spec = build_spec()  # not the per-process cache: a fresh Spec each time
    times["load_spec()"] = time.perf_counter() - t0
    for part in ("ssse", "pboc", "psam"):
        t0 = time.perf_counter()
        getattr(spec, part)
        times[f"first .{part}"] = time.perf_counter() - t0
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args()
    one_load()  # imports and caches warm
    full = dict.fromkeys(STEPS, 0.0)
    base = dict.fromkeys(STEPS, 0.0)
    for _ in range(args.repeat):
        for step, seconds in one_load().items():
            full[step] += seconds
        for step, files in STEPS.items():
            t0 = time.perf_counter()
            parse_only(files)
            base[step] += time.perf_counter() - t0
    print(f"{'step':<14}{'ms':>8}{'TOML only ms':>14}{'ratio':>8}")
    for step in STEPS:
        ms, base_ms = 1e3 * full[step] / args.repeat, 1e3 * base[step] / args.repeat
        print(f"{step:<14}{ms:>8.2f}{base_ms:>14.2f}{full[step] / base[step]:>8.2f}")


if __name__ == "__main__":
    main()
