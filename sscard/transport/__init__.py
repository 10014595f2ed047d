"""Transports: the one bytes-in/bytes-out seam between the library and a card."""

from sscard.transport.base import Transport

__all__ = ["Transport"]
