#!/usr/bin/env python3
"""Writes the example's photos: tiny baseline JPEGs drawn from code, with the standard library only.

    examples/operator/make-photos.py        (re)writes examples/operator/photos/<subject>/...

The files are committed; this script says where they came from and remakes them byte for byte
(the encoder is deterministic). Each picture is a few dozen pixels wide and well under 2 KiB: a
baseline (SOF0) JFIF with YCbCr 4:4:4, the quantisation and Huffman tables of the JPEG standard's
Annex K at quality 75, so that any decoder opens them.
"""

import math
import os
import struct
import sys

# --- Annex K tables ------------------------------------------------------------------------------

LUMA_Q = [
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
]
CHROMA_Q = [
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32

DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
AC_LUMA = (
    [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
    [
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
        0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
        0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
        0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
        0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
        0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
        0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
        0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
        0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
        0xF9, 0xFA,
    ],
)
AC_CHROMA = (
    [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    [
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
        0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
        0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
        0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
        0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
        0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
        0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
        0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
        0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
        0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
        0xF9, 0xFA,
    ],
)

# Zig-zag order: ZIGZAG[k] is the natural (row-major) index of the k-th coefficient.
ZIGZAG = sorted(range(64), key=lambda i: (i // 8 + i % 8, (i // 8) if (i // 8 + i % 8) % 2 else (i % 8)))

QUALITY = 75


def scaled(table):
    scale = 5000 // QUALITY if QUALITY < 50 else 200 - 2 * QUALITY
    return [min(255, max(1, (q * scale + 50) // 100)) for q in table]


def huffman_codes(bits, values):
    """Canonical codes (JPEG Annex C): symbol -> (code, length)."""
    assert sum(bits) == len(values) == len(set(values))
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[values[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


for bits, values in (DC_LUMA, DC_CHROMA):
    assert sorted(values) == list(range(12))
for bits, values in (AC_LUMA, AC_CHROMA):
    # Every (run, size) symbol a baseline AC coefficient can need, EOB and ZRL: 162 in all.
    assert sorted(values) == sorted({0x00, 0xF0} | {r << 4 | s for r in range(16) for s in range(1, 11)})

# --- encoder -------------------------------------------------------------------------------------

COS = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]


def fdct(block):
    """The 8x8 forward DCT of level-shifted samples (natural order in and out)."""
    out = [0.0] * 64
    for v in range(8):
        for u in range(8):
            s = 0.0
            for y in range(8):
                row = block[y * 8 : y * 8 + 8]
                cy = COS[v][y]
                for x in range(8):
                    s += row[x] * COS[u][x] * cy
            cu = 1 / math.sqrt(2) if u == 0 else 1.0
            cv = 1 / math.sqrt(2) if v == 0 else 1.0
            out[v * 8 + u] = 0.25 * cu * cv * s
    return out


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)  # byte stuffing
                self.acc = 0
                self.n = 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1 bits
        return bytes(self.out)


def magnitude(value):
    """(category, extra bits) of a DC difference or AC coefficient."""
    size = abs(value).bit_length()
    bits = value if value >= 0 else value + (1 << size) - 1
    return size, bits


def encode_block(writer, coefficients, previous_dc, dc_codes, ac_codes):
    diff = coefficients[0] - previous_dc
    size, bits = magnitude(diff)
    writer.put(*dc_codes[size])
    writer.put(bits, size)
    run = 0
    for k in range(1, 64):
        c = coefficients[k]
        if c == 0:
            run += 1
            continue
        while run > 15:
            writer.put(*ac_codes[0xF0])
            run -= 16
        size, bits = magnitude(c)
        writer.put(*ac_codes[(run << 4) | size])
        writer.put(bits, size)
        run = 0
    if run:
        writer.put(*ac_codes[0x00])
    return coefficients[0]


def segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def dht(table_class, table_id, table):
    bits, values = table
    return bytes([table_class << 4 | table_id]) + bytes(bits) + bytes(values)


def encode_jpeg(width, height, pixel, comment):
    """A baseline JFIF of `pixel(x, y) -> (r, g, b)`; width and height are multiples of 8."""
    assert width % 8 == 0 and height % 8 == 0
    qy, qc = scaled(LUMA_Q), scaled(CHROMA_Q)
    tables = [
        (qy, huffman_codes(*DC_LUMA), huffman_codes(*AC_LUMA)),
        (qc, huffman_codes(*DC_CHROMA), huffman_codes(*AC_CHROMA)),
        (qc, huffman_codes(*DC_CHROMA), huffman_codes(*AC_CHROMA)),
    ]
    planes = [[0.0] * (width * height) for _ in range(3)]
    for y in range(height):
        for x in range(width):
            r, g, b = pixel(x, y)
            i = y * width + x
            planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b
            planes[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
            planes[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    writer = BitWriter()
    previous = [0, 0, 0]
    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            for c in range(3):  # one MCU: a Y, a Cb and a Cr block
                block = [planes[c][(by + y) * width + bx + x] - 128 for y in range(8) for x in range(8)]
                q, dc_codes, ac_codes = tables[c]
                dct = fdct(block)
                coefficients = [int(round(dct[ZIGZAG[k]] / q[ZIGZAG[k]])) for k in range(64)]
                previous[c] = encode_block(writer, coefficients, previous[c], dc_codes, ac_codes)
    scan = writer.flush()

    out = bytearray(b"\xff\xd8")
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += segment(0xFE, comment.encode())
    out += segment(0xDB, bytes([0]) + bytes(qy[ZIGZAG[k]] for k in range(64))
                   + bytes([1]) + bytes(qc[ZIGZAG[k]] for k in range(64)))
    out += segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + bytes([1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]))
    out += segment(0xC4, dht(0, 0, DC_LUMA) + dht(1, 0, AC_LUMA) + dht(0, 1, DC_CHROMA) + dht(1, 1, AC_CHROMA))
    out += segment(0xDA, bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]))
    out += scan
    out += b"\xff\xd9"
    return bytes(out)


# --- the pictures --------------------------------------------------------------------------------


def mix(a, b, t):
    t = min(1.0, max(0.0, t))
    return tuple(round(p + (q - p) * t) for p, q in zip(a, b))


def beach_sunset(x, y):  # 48x32
    if (x - 30) ** 2 + (y - 13) ** 2 < 30:
        return (255, 214, 90)  # the sun
    if y < 18:
        return mix((120, 60, 160), (255, 140, 60), y / 17)  # sky
    if y < 26:
        return mix((30, 80, 150), (60, 120, 180), (y - 18) / 8)  # sea
    return (230, 200, 140)  # sand


def shopping_receipt(x, y):  # 24x40
    if x < 2 or x > 21:
        return (90, 90, 100)  # the table under the receipt
    if y % 5 == 3 and 4 <= x <= (19 if y % 10 else 12):
        return (60, 60, 60)  # a printed line
    return (248, 246, 238)


def tomatoes(x, y):  # 32x32
    for cx, cy in ((10, 12), (22, 10), (15, 23)):
        if (x - cx) ** 2 + (y - cy) ** 2 < 28:
            return (210, 40, 35)
    return mix((40, 110, 40), (90, 160, 60), (x + y) / 62)


def bike(x, y):  # 40x24
    for cx in (10, 29):
        d = (x - cx) ** 2 + (y - 15) ** 2
        if 25 <= d < 45:
            return (20, 20, 20)  # tyres
    if 8 <= y <= 9 and 12 <= x <= 27:
        return (0, 90, 200)  # frame
    return (200, 205, 210)


def whiteboard(x, y):  # 32x24
    if x < 2 or x > 29 or y < 2 or y > 21:
        return (150, 150, 155)  # frame
    if y in (6, 11) and 5 <= x <= 24:
        return (30, 60, 200)  # marker
    if y == 16 and 5 <= x <= 14:
        return (200, 30, 30)
    return (252, 252, 250)


PHOTOS = [
    ("u-1001/2024/beach-sunset.jpg", 48, 32, beach_sunset),
    ("u-1001/2025/shopping-receipt.jpg", 24, 40, shopping_receipt),
    ("u-1001/2025/garden/tomatoes.jpg", 32, 32, tomatoes),
    ("u-1002/2024/bike.jpg", 40, 24, bike),
    ("u-1002/2025/whiteboard.jpg", 32, 24, whiteboard),
]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "photos")
    for path, width, height, pixel in PHOTOS:
        data = encode_jpeg(width, height, pixel, f"dataport example: {path}")
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9" and len(data) < 2048, path
        target = os.path.join(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
        print(f"{len(data):5d} bytes  {width}x{height}  photos/{path}")


if __name__ == "__main__":
    sys.exit(main())
