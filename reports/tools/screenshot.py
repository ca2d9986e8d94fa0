#!/usr/bin/python3
"""Full-page screenshot of a page in headless Chromium, through Selenium.

    screenshot.py PAGE.html OUT.png [--width 1200] [--dark]

`make site-screenshot` uses it for docs/site.png (the README's picture);
tests/site/browser_test.py opens its browser with open_browser() and saves
its screenshot with save_full_page(). Debian's python3-selenium,
chromium-driver and chromium (mk/site.mk installs them).
"""

import argparse
import os
import sys
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Debian's chromedriver, not a driver that Selenium would try to download.
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio")


def open_browser(width=1280, height=900, logs=False):
    """Headless Chromium on a fresh profile with a width x height viewport.
    logs: keep the performance (network) and browser (console) logs."""
    opts = webdriver.ChromeOptions()
    for flag in FLAGS:
        opts.add_argument(flag)
    if logs:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width, height):
    """The inner (viewport) size, whatever the window's frame takes."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


def emulate(driver, **features):
    """CSS media features, e.g. prefers_color_scheme="dark" (WebDriver has no
    command for them; Selenium passes this one to Chromium's DevTools)."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": k.replace("_", "-"), "value": v} for k, v in features.items()]})


def file_url(path):
    return "file://" + urllib.parse.quote(os.path.abspath(path))


def save_full_page(driver, path):
    """A PNG of the whole page: the viewport grown to the page's height for
    the shot, then put back."""
    width, height = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    full = driver.execute_script("return document.documentElement.scrollHeight")
    set_viewport(driver, width, full)
    try:
        if not driver.save_screenshot(path):
            raise RuntimeError("screenshot not written: %s" % path)
    finally:
        set_viewport(driver, width, height)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--dark", action="store_true")
    args = ap.parse_args()
    driver = open_browser(width=args.width)
    try:
        if args.dark:
            emulate(driver, prefers_color_scheme="dark")
        driver.get(file_url(args.page))
        save_full_page(driver, args.out)
    finally:
        driver.quit()
    print("screenshot: %s" % args.out)


if __name__ == "__main__":
    sys.exit(main())
