"""Just enough of the Redis protocol (RESP2/RESP3) to tell commands and replies apart in a byte stream."""

from __future__ import annotations

from typing import Any

AGGREGATES = {b"*": 1, b"~": 1, b">": 1, b"%": 2, b"|": 2}  # frames per declared element
BLOBS = (b"$", b"!", b"=")
LINES = (b"+", b"-", b":", b"_", b",", b"#", b"(")


class Incomplete(Exception):
    pass


class BadFrame(Exception):
    pass


def parse(buf: bytes, pos: int = 0) -> tuple[int, bytes, Any]:
    """One frame at ``pos``: (end, type byte, value). Raises Incomplete (need more bytes) or BadFrame."""
    if pos >= len(buf):
        raise Incomplete
    kind = buf[pos:pos + 1]
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        if len(buf) - pos > 64 * 1024:
            raise BadFrame("line too long")
        raise Incomplete
    head = buf[pos + 1:eol]
    if kind in LINES:
        return eol + 2, kind, head
    if kind in BLOBS:
        size = _int(head)
        if size < 0:
            return eol + 2, kind, None
        end = eol + 2 + size
        if len(buf) < end + 2:
            raise Incomplete
        return end + 2, kind, buf[eol + 2:end]
    if kind in AGGREGATES:
        count = _int(head)
        if count < 0:
            return eol + 2, kind, None
        items, cursor = [], eol + 2
        for _item in range(count * AGGREGATES[kind]):
            cursor, _kind, value = parse(buf, cursor)
            items.append(value)
        return cursor, kind, items
    # an inline command (telnet style): one line of words
    return eol + 2, b"inline", buf[pos:eol].split()


def _int(text: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadFrame(f"bad length {text[:20]!r}") from None


def command(value: Any) -> list[str] | None:
    """A client frame's words, or None if it is not a command."""
    if not isinstance(value, list) or not value or not all(isinstance(v, bytes) for v in value):
        return None
    return [v.decode("utf-8", "replace") for v in value]


def error(message: str) -> bytes:
    return b"-" + message.encode() + b"\r\n"
