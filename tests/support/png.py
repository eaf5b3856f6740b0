"""PNG pixels with the standard library alone (zlib): enough to look at a browser's screenshot."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type: RGB, RGBA (8 bits each, what browsers write)


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: tuple[bytes, ...]  # one per line, unfiltered: width x channels bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The RGB colour at ``(x, y)`` (alpha left out)."""
        at = x * self.channels
        r, g, b = self.rows[y][at : at + 3]
        return r, g, b

    def colours(self) -> dict[tuple[int, int, int], int]:
        """Every RGB colour in the image, with its count of pixels."""
        found: dict[tuple[int, int, int], int] = {}
        for row in self.rows:
            for x in range(0, len(row), self.channels):
                colour = (row[x], row[x + 1], row[x + 2])
                found[colour] = found.get(colour, 0) + 1
        return found


def decode(data: bytes) -> Image:
    """An 8-bit, non-interlaced RGB or RGBA PNG's pixels; ValueError for anything else."""
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file")
    at, chunks, header = 8, [], b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if (
            zlib.crc32(kind + body)
            != struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0]
        ):
            raise ValueError(f"chunk {kind!r}: bad CRC")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(
            f"depth {depth}, colour type {colour}, interlace {interlace}: not read here"
        )
    channels = CHANNELS[colour]
    stride = width * channels
    raw = zlib.decompress(b"".join(chunks))
    if len(raw) != (stride + 1) * height:
        raise ValueError(f"{len(raw)} bytes of pixels for {width} x {height}")
    rows: list[bytes] = []
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prior, channels
        )
        rows.append(bytes(line))
        prior = line
    return Image(width, height, channels, tuple(rows))


def _unfilter(kind: int, line: bytearray, prior: bytearray, step: int) -> bytearray:
    """Undo one line's filter (PNG spec, section 9.2) in place."""
    if kind == 1:  # Sub
        for x in range(step, len(line)):
            line[x] = (line[x] + line[x - step]) & 0xFF
    elif kind == 2:  # Up
        for x in range(len(line)):
            line[x] = (line[x] + prior[x]) & 0xFF
    elif kind == 3:  # Average
        for x in range(len(line)):
            left = line[x - step] if x >= step else 0
            line[x] = (line[x] + ((left + prior[x]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for x in range(len(line)):
            a = line[x - step] if x >= step else 0
            b, c = prior[x], prior[x - step] if x >= step else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    elif kind != 0:
        raise ValueError(f"filter type {kind}")
    return line
