"""Library logging that costs nothing unless the application uses `logging`.

sscard logs under the `sscard` logger hierarchy (`sscard.transport`, `sscard.card`,
`sscard.watch`).  Nothing personal is ever logged: readers by name, cards by the keyed
reference of `sscard.privacy` (never an ATR, card number, ID number or name), no PIN, key
or cryptogram, and error messages only from `sscard.errors` (which carry none).

`logging` is not imported by sscard itself: an application that configures logging has
imported it already, and one that has not cannot see the records anyway.  This keeps
`import logging` (~10 ms) off the start-up path of the `sscard` command.
"""

from __future__ import annotations

import sys


def get(name: str):
    """The logger `name` if the application uses logging, else None."""
    logging = sys.modules.get("logging")
    return None if logging is None else logging.getLogger(name)


def info(name: str, message: str, *args) -> None:
    logger = get(name)
    if logger is not None:
        logger.info(message, *args)


def debug(name: str, message: str, *args) -> None:
    logger = get(name)
    if logger is not None:
        logger.debug(message, *args)


def warning(name: str, message: str, *args) -> None:
    logger = get(name)
    if logger is not None:
        logger.warning(message, *args)
