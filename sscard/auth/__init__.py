"""Authenticating a social security card: the key sources (`keysource`: the protocol and
software root keys; `psam`: a PSAM; `hsm`: a platform HSM's two-step read) and the one
authentication flow they share (`flow`)."""
