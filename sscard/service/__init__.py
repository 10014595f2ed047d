"""`sscard serve`: the local kiosk service (needs the `sscard[service]` extra).

One loopback port, three faces: a JSON API with an OpenAPI document (/v1/…), live card
events (Server-Sent Events, /v1/events), and at `/` a WebSocket that speaks the JSON of the
national-interface bridges deployed kiosk pages already use.  The security model (Host and
Origin allow-lists, loopback only, no raw APDU, no PIN) is in sscard.service.guard; one worker
thread per reader in sscard.service.workers.
"""
