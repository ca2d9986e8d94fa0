#!/usr/bin/python3
"""Full-page screenshot of a page in headless Chromium.

    screenshot.py PAGE.html OUT.png [--width 1200] [--dark]
"""
import argparse
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--dark", action="store_true")
    args = ap.parse_args()
    b = cdp.Browser()
    try:
        p = cdp.Page(b, width=args.width, height=900)
        if args.dark:
            p.media(prefers_color_scheme="dark")
        p.goto("file://" + urllib.parse.quote(os.path.abspath(args.page)))
        p.screenshot(args.out, full=True)
    finally:
        b.close()
    print("screenshot: %s" % args.out)


if __name__ == "__main__":
    main()
