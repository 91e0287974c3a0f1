"""Checking an uploaded photo by its content, without decoding it.

A file is accepted only when its bytes are, structurally, a JPEG, PNG or WebP image: the container is
walked (PNG chunks with their CRC, JPEG segments up to the frame header and the end marker, the WebP
RIFF size and frame header), its dimensions read and bounded. The name and the type the browser sent
are ignored. Metadata that may locate or identify (JPEG EXIF/XMP/IPTC and comments, PNG text and EXIF
chunks) is dropped from what is stored; the pixels are left as they are."""

from __future__ import annotations

import dataclasses
import struct
import zlib

MAX_SIDE = 8000


class NotAnImage(ValueError):
    """The bytes are not a JPEG, PNG or WebP image this module accepts."""


@dataclasses.dataclass(frozen=True)
class CheckedImage:
    content_type: str
    width: int
    height: int
    data: bytes


def check_image(data: bytes) -> CheckedImage:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        found = _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        found = _jpeg(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        found = _webp(data)
    else:
        raise NotAnImage("unknown format")
    if not (0 < found.width <= MAX_SIDE and 0 < found.height <= MAX_SIDE):
        raise NotAnImage("dimensions")
    return found


_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


def _png(data: bytes) -> CheckedImage:
    pos, out, width, height, first = 8, [data[:8]], 0, 0, True
    while True:
        if pos + 12 > len(data):
            raise NotAnImage("truncated chunk")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise NotAnImage("truncated chunk")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise NotAnImage("bad CRC")
        if first:
            if kind != b"IHDR" or length != 13:
                raise NotAnImage("no header")
            width, height = struct.unpack(">II", body[:8])
            first = False
        if kind not in _PNG_DROP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return CheckedImage("image/png", width, height, b"".join(out))


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_DROP = {0xE1, 0xED, 0xFE}  # EXIF/XMP, IPTC, comments


def _jpeg(data: bytes) -> CheckedImage:
    pos, out, size = 2, [data[:2]], None
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise NotAnImage("bad segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise NotAnImage("truncated segment")
        if marker in _SOF:
            if length < 8:
                raise NotAnImage("short frame header")
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        if marker not in _JPEG_DROP:
            out.append(data[pos:end])
        pos = end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the end marker
            break
    if size is None:
        raise NotAnImage("no frame header")
    rest = data[pos:].rstrip(b"\x00")
    if not rest.endswith(b"\xff\xd9") or len(rest) < 4:
        raise NotAnImage("no end marker")
    out.append(rest)
    return CheckedImage("image/jpeg", size[0], size[1], b"".join(out))


def _webp(data: bytes) -> CheckedImage:
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 != len(data) or len(data) < 30:
        raise NotAnImage("bad RIFF size")
    kind, body = data[12:16], data[20:]
    if kind == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise NotAnImage("bad VP8 start code")
        w, h = struct.unpack("<HH", body[6:10])
        width, height = w & 0x3FFF, h & 0x3FFF
    elif kind == b"VP8L":
        if body[0] != 0x2F:
            raise NotAnImage("bad VP8L signature")
        bits = int.from_bytes(body[1:5], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif kind == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
    else:
        raise NotAnImage("unknown WebP chunk")
    return CheckedImage("image/webp", width, height, data)
