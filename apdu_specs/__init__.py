"""Declarative specification of the social security card.

TOML data; installed as sscard.apdu_specs."""
