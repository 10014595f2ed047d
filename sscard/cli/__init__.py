"""The `sscard` command line."""
