#!/usr/bin/env python3
"""Checks that a headless-Chromium screenshot of a `kvcsim report` page is not blank: the
browser drew text, tables and the figures' lines, not an empty or error page.

- the image has real variance (grey-level standard deviation above 20 on 0-255),
- a good share of it is not background white (more than 5 % of the pixels),
- the report's figures were drawn: pixels in the first series colour of the plots (Okabe-Ito
  blue, RGB 0, 114, 178, within 40 per channel for anti-aliasing) cover at least 0.02 % (about 0.08 % on the default run's page).

Usage: check_screenshot.py SCREENSHOT.png
"""
import sys

from PIL import Image, ImageStat

FIGURE_BLUE = (0, 114, 178)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    im = Image.open(sys.argv[1]).convert("RGB")
    w, h = im.size
    n = w * h
    grey = im.convert("L")
    stddev = ImageStat.Stat(grey).stddev[0]
    non_white = sum(c for v, c in enumerate(grey.histogram()) if v < 245) / n
    pixels = im.get_flattened_data() if hasattr(im, "get_flattened_data") else im.getdata()
    blue = sum(
        1
        for r, g, b in pixels
        if abs(r - FIGURE_BLUE[0]) <= 40 and abs(g - FIGURE_BLUE[1]) <= 40 and abs(b - FIGURE_BLUE[2]) <= 40
    ) / n
    print(f"{w}x{h}: grey stddev {stddev:.1f}, non-white {non_white:.1%}, figure blue {blue:.2%}")
    problems = []
    if stddev <= 20:
        problems.append(f"grey-level stddev {stddev:.1f} <= 20 (uniform image)")
    if non_white <= 0.05:
        problems.append(f"only {non_white:.1%} of pixels are not white")
    if blue < 0.0002:
        problems.append(f"figure lines cover {blue:.3%} < 0.02 % (no plot drawn)")
    for p in problems:
        print("blank screenshot:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
