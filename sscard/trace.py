"""APDU trace lines with redaction driven by apdu_specs/.

What is hidden is decided from the spec, not by each caller: the body of a command
marked `sensitive` (VERIFY, CHANGE PIN, EXTERNAL AUTHENTICATE) is never shown, and
the value of a READ RECORD answer is shown only when what was *asked* is public: the
spec item of the requested tag, or every item the requested record number can be in the
file (by generation).  The tag the card answers with decides nothing — a card may put a
personal value under a public tag — and a record that is not the one asked for is hidden
and marked.  Anything that cannot be classified is hidden (default deny).
"""

from __future__ import annotations

from collections.abc import Callable

from sscard.codec import tlv
from sscard.codec.apdu import CommandApdu
from sscard.errors import DecodeError
from sscard.spec.model import DataItem, ElementaryFile, Spec

# responses that carry no personal data and help diagnosis
_SHOWN_RESPONSES = {
    "select_by_name",
    "select_by_fid",
    "select_child_ef",
    "get_challenge",
    "verify_tries",
}
_RECORD_READS = {"read_record_by_number", "read_record_by_tag", "read_records_from"}


class Tracer:
    def __init__(self, spec: Spec, sink: Callable[[str], None]) -> None:
        self.spec = spec
        self.sink = sink
        self._context: str | None = None  # command whose data a GET RESPONSE continues
        # records are shown (their public items) only inside the social security application:
        # a bank record or log entry could happen to parse as one and leak its bytes
        self._in_ssse = False
        self._request: CommandApdu | None = None  # the READ RECORD a response answers
        self._ef: ElementaryFile | None = None  # the SSSE file selected last, if known

    def command(self, apdu: bytes) -> None:
        self.sink("> " + self.format_command(apdu))

    def response(self, apdu: bytes, response: bytes) -> None:
        self.sink("< " + self.format_response(apdu, response))

    def format_command(self, apdu: bytes) -> str:
        try:
            parsed = CommandApdu.parse(apdu)
        except DecodeError:
            return f"{apdu[:4].hex().upper()} [{len(apdu) - 4} bytes, unparsed, hidden]"
        found = self.spec.commands.identify(parsed)
        name = found[0].name if found else "unknown"
        if name != "get_response":
            self._context = name
            self._request = parsed
        if name in ("select_by_name", "select_next_by_name"):
            self._in_ssse = parsed.data == self.spec.ssse.name
            self._ef = None
        elif name in ("select_child_ef", "select_by_fid"):
            self._ef = next(
                (
                    f
                    for f in self.spec.ssse.files.values()
                    if f.fid.to_bytes(2, "big") == parsed.data
                ),
                None,
            )
        header = apdu[:4].hex().upper()
        parts = [header]
        if parsed.data:
            parts.append(f"{len(parsed.data):02X}")
            if found is None or found[0].sensitive:
                parts.append(f"[{len(parsed.data)} bytes hidden]")
            else:
                parts.append(parsed.data.hex().upper())
        if parsed.le is not None:
            parts.append(f"{parsed.le:02X}")
        return " ".join(parts) + f"  ({name})"

    def format_response(self, apdu: bytes, response: bytes) -> str:
        if len(response) < 2:
            return f"[{len(response)} bytes: no status word]"
        data, sw = response[:-2], response[-2:].hex().upper()
        status = self.spec.status_words.lookup(int(sw, 16))
        meaning = status.en if status else "unknown status"
        if not data:
            return f"{sw}  ({meaning})"
        return f"{self._format_data(data)} {sw}  ({meaning})"

    def _format_data(self, data: bytes) -> str:
        command = self.spec.commands.commands.get(self._context) if self._context else None
        if command is not None and command.secret_response:
            return f"[{len(data)} bytes hidden]"
        if self._context in _SHOWN_RESPONSES:
            return data.hex().upper()
        if self._context in _RECORD_READS and self._in_ssse:
            return self._format_records(data)
        return f"[{len(data)} bytes hidden]"

    def _format_records(self, data: bytes) -> str:
        try:
            records = tlv.parse_record(data)
        except DecodeError:
            return f"[{len(data)} bytes hidden]"
        out = []
        for position, record in enumerate(records):
            asked = self._asked(position)
            head = f"{record.tag:02X}{len(record.value):02X}"
            if not any(i.tag == record.tag and i.length == len(record.value) for i in asked):
                out.append(f"{head}[{len(record.value)} bytes hidden: not the record asked for]")
            elif all(not i.personal for i in asked):
                out.append(head + record.value.hex().upper())
            else:
                out.append(f"{head}[{len(record.value)} bytes hidden]")
        return " ".join(out)

    def _asked(self, position: int) -> tuple[DataItem, ...]:
        """The spec items the READ RECORD asked for at `position` of its answer (several when
        the record number means different items in different generations); () when it
        cannot be told.  A record is shown only if every one of them is public."""
        request, name = self._request, self._context
        if request is None:
            return ()
        sfi = request.p2 >> 3
        ef = (
            next((f for f in self.spec.ssse.files.values() if f.sfi == sfi), None)
            if sfi
            else self._ef
        )
        if name == "read_record_by_tag":
            files = [ef] if ef is not None else list(self.spec.ssse.files.values())
            return (
                () if position else tuple(i for f in files for i in f.items if i.tag == request.p1)
            )
        if ef is None or (name == "read_record_by_number" and position):
            return ()
        number = request.p1 + position  # read_records_from: P1, P1 + 1, … to the last
        asked = {}
        for generation in ef.generations:
            items = ef.items_for(generation)
            if 1 <= number <= len(items):
                asked[items[number - 1].tag] = items[number - 1]
        return tuple(asked.values())
