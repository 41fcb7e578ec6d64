#!/usr/bin/env python3
"""Render an equivcheck HTML report in headless Chromium and check the screenshot.

    python scripts/screenshot_report.py results/matrix.html results/matrix.png

Checks that the page rendered offline (the PNG is not blank) and that the
verdict matrix's colours (equivcheck.report.render_html.COLOURS) are on it.
Exit status 0 when the checks pass, 1 when they fail, 2 when no Chromium is
found (install Debian's ``chromium`` package, or set $CHROMIUM).

The PNG is decoded here with zlib and NumPy only (8-bit RGB/RGBA, not
interlaced: what Chromium writes), so no imaging library is needed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """$CHROMIUM, else the first Chromium-like browser on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html_path, png_path, width: int = 1400, height: int = 1000, chromium: str | None = None,
               timeout: float = 120) -> Path:
    """Headless Chromium screenshot of a local file, with no network and a throwaway profile."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    with tempfile.TemporaryDirectory(prefix="equivcheck-chromium-") as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                   "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png_path}",
                   f"--window-size={width},{height}", html_path.as_uri()]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if not png_path.exists():
        raise RuntimeError(f"Chromium wrote no screenshot (status {proc.returncode}): {proc.stderr[-500:]}")
    return png_path


def read_png(path) -> np.ndarray:
    """(height, width, 3) uint8 RGB pixels of an 8-bit RGB or RGBA, non-interlaced PNG."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], np.frombuffer(raw, np.uint8, stride, start + 1).astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) & 0xFF
        elif kind in (1, 3, 4):
            row = _sequential(kind, line, previous, channels)
        else:
            raise ValueError(f"bad PNG filter {kind} on row {y}")
        out[y] = row
        previous = row.astype(np.int32)
    return out.reshape(height, width, channels)[:, :, :3]


def _sequential(kind, line, previous, bpp):
    """Sub, Average and Paeth filters depend on the reconstructed byte to the left: one pass per byte."""
    row = [0] * len(line)
    line, previous = line.tolist(), previous.tolist()
    for i in range(len(line)):
        left = row[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            value = left
        elif kind == 3:
            value = (left + up) >> 1
        else:
            upper_left = previous[i - bpp] if i >= bpp else 0
            estimate = left + up - upper_left
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            value = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
        row[i] = (line[i] + value) & 0xFF
    return np.array(row, dtype=np.int32)


def colour_counts(pixels: np.ndarray, colours: dict, tolerance: int = 6) -> dict:
    """Pixels within ``tolerance`` (per channel) of each named #rrggbb colour."""
    counts = {}
    for name, hex_colour in colours.items():
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        counts[name] = int(np.all(np.abs(pixels.astype(int) - rgb) <= tolerance, axis=-1).sum())
    return counts


def check(png_path, required=("holds", "refuted"), minimum_pixels: int = 200) -> tuple[bool, str]:
    """(ok, explanation): the screenshot is not blank and shows the required verdict colours."""
    from equivcheck.report.render_html import COLOURS

    pixels = read_png(png_path)
    distinct = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    counts = colour_counts(pixels, COLOURS)
    problems = []
    if distinct < 20:
        problems.append(f"only {distinct} distinct colours: the page looks blank")
    for name in required:
        if counts.get(name, 0) < minimum_pixels:
            problems.append(f"verdict colour {name} {COLOURS[name]} covers {counts.get(name, 0)} px (< {minimum_pixels})")
    summary = f"{pixels.shape[1]}x{pixels.shape[0]} px, {distinct} distinct colours, verdict colours {counts}"
    return not problems, summary + ("" if not problems else "; " + "; ".join(problems))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html")
    parser.add_argument("png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--require", default="holds,refuted",
                        help="verdict colours that must appear (default holds,refuted)")
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print("no Chromium found: apt-get install chromium (or set $CHROMIUM)", file=sys.stderr)
        return 2
    screenshot(args.html, args.png, args.width, args.height)
    ok, summary = check(args.png, [r for r in args.require.split(",") if r])
    print(("ok: " if ok else "FAILED: ") + summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
