#!/usr/bin/python3
"""Headless Chromium through Selenium, and a full-page screenshot with it.

    screenshot.py PAGE.html OUT.png     (make site-screenshot: docs/site.png)

The browser tests (tests/site, bench/test_report_browser.py) open their
browser with open_browser(). Debian's python3-selenium, chromium-driver and
chromium (mk/site.mk installs them).
"""

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
    set_viewport(driver, width, driver.execute_script("return document.documentElement.scrollHeight"))
    try:
        if not driver.save_screenshot(path):
            raise RuntimeError("screenshot not written: %s" % path)
    finally:
        set_viewport(driver, width, height)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    browser = open_browser(width=1200)
    try:
        browser.get(file_url(sys.argv[1]))
        save_full_page(browser, sys.argv[2])
    finally:
        browser.quit()
    print("screenshot: %s" % sys.argv[2])
