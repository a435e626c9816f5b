"""Quoting untrusted text (a file's bytes, its name) in messages without letting it drive a terminal.

A bad file's header or row can hold an escape sequence (`ESC [ 2 J` clears a screen,
`ESC ] 8` makes a hyperlink), a carriage return that overwrites the line before it, or
a bidirectional override that reorders what is shown. Anything quoted from a file goes
through `printable()` before it reaches the console, a log line (text or JSON), an alert
or a reason file: such characters come out as `\\x1b`, `\\r`, `\\u202e`. Ordinary text,
accents and other scripts included, is left alone, so messages stay readable.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable", "printable_bytes"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: categories that never print as themselves: controls, format (bidi, zero-width), line/paragraph
#: separators, surrogates (a lone one is not text), private use and unassigned code points
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: object, limit: int | None = None) -> str:
    """`text` with every control or invisible character escaped; cut to `limit` characters (+ "…")."""
    value = str(text)
    if limit is not None and len(value) > limit:
        value = value[:limit] + "…"
    if value.isprintable():  # the common case: nothing to do
        return value
    return "".join(ch if ch == " " or unicodedata.category(ch) not in _HIDDEN else _escape(ch) for ch in value)


def printable_bytes(data: bytes, encoding: str = "utf-8", limit: int | None = None) -> str:
    """Bytes of a file, decoded (undecodable bytes as `\\xNN`) and escaped as `printable()` does."""
    try:
        text = data.decode(encoding, "backslashreplace")
    except LookupError:
        text = data.decode("utf-8", "backslashreplace")
    return printable(text, limit)
