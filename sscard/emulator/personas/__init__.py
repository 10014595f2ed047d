"""Packaged personas (synthetic card holders) as TOML files; see sscard.emulator.persona."""
