"""Card emulator built only from apdu_specs/ and persona files (never from the reader's code)."""

from sscard.emulator.card_os import CardOS, SwError
from sscard.emulator.persona import Persona, list_personas, load_persona
from sscard.emulator.ssc_card import SocialSecurityCard

__all__ = ["CardOS", "Persona", "SocialSecurityCard", "SwError", "list_personas", "load_persona"]
