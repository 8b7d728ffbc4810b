"""What literal producers print: `printf` formats and escapes, and decoders run on literal input.

`printf '\x72\x6d -rf /' | sh` and `base64 -d <<< cm0gLXJmIC8= | sh` hide a script in plain sight:
decoding it lets the walker judge the script itself. All of this is bounded string work.
"""

from __future__ import annotations

import base64
import binascii

from railguard.detect.shell._syntax import decode_ansi_c

_DECODERS = frozenset({"base64", "base32", "xxd", "rev", "basenc"})
_MAX_DECODE = 65_536


def printf_output(args: list[str]) -> str:
    """`printf FORMAT ARGS...`: escapes decoded, `%s`/`%b`/`%d` filled, the format reused for extra args."""
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        return ""
    fmt, values = decode_ansi_c(args[0]), args[1:]
    if "%" not in fmt:
        return fmt
    out: list[str] = []
    index = 0
    for _ in range(64):
        piece, index = _format_once(fmt, values, index)
        out.append(piece)
        if index >= len(values):
            break
    return "".join(out)


def _format_once(fmt: str, values: list[str], index: int) -> tuple[str, int]:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%" or i + 1 >= len(fmt):
            out.append(char)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "-+ #0123456789.":
            j += 1
        conversion = fmt[j] if j < len(fmt) else ""
        if conversion == "%":
            out.append("%")
        elif conversion:
            value = values[index] if index < len(values) else ""
            index += 1
            out.append(decode_ansi_c(value) if conversion == "b" else value)
        i = j + 1
    return "".join(out), max(index, 1) if values else len(values)


def decode_literal(name: str, argv: list[str], text: str) -> str | None:
    """Run a decoder on literal input; None when the input does not decode."""
    if len(text) > _MAX_DECODE:
        return None
    try:
        if name == "rev":
            return "\n".join(line[::-1] for line in text.split("\n"))
        if name == "xxd":
            return bytes.fromhex("".join(text.split())).decode("utf-8", "replace")
        compact = "".join(text.split())
        if name == "base32":
            return base64.b32decode(compact + "=" * (-len(compact) % 8)).decode("utf-8", "replace")
        if name in ("base64", "basenc"):
            return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True).decode(
                "utf-8", "replace"
            )
    except (ValueError, binascii.Error):
        return None
    return None
