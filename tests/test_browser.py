"""The studio in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright types a
caption, clicks Generate and checks that images appeared (the page is saved to a temporary PNG; the committed
examples/screenshot_generate.png is taken from the real app by `python -m t2i loadtest --screenshot`).

Skipped where Playwright or Chromium is not installed (apt-get install chromium; pip install playwright==1.65.2;
no `playwright install` needed: the system Chromium is used)."""
from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytest.importorskip("playwright")
sync_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def page(studio_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1360, "height": 900})
        pg.set_default_timeout(60_000)
        pg.goto(studio_url)
        pg.wait_for_selector("#generate-btn")
        yield pg
        browser.close()


def test_type_a_caption_and_generate(page, tmp_path):
    box = page.locator("#caption textarea")
    box.fill("a blue bird with brown wings and a white belly")
    page.click("#generate-btn")
    page.wait_for_function(
        "() => (document.querySelector('#gen-info') || {}).innerText?.includes('brown')")
    # the gallery renders its images one by one: wait until all four have loaded (a busy CPU makes this slow)
    page.wait_for_function("() => { const im = [...document.querySelectorAll('#gallery img')];"
                           " return im.length >= 4 && im.every(el => el.complete && el.naturalWidth >= 64); }")
    assert page.locator("#gallery img").count() == 4
    assert "4 images" in page.locator("#gen-info").inner_text()
    shot = tmp_path / "screenshot_generate.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_empty_caption_shows_an_error_box(page):
    page.locator("#caption textarea").fill("")
    page.click("#generate-btn")
    err = page.locator(".block.t2i-error").first
    err.wait_for(state="visible")
    assert "caption is empty" in err.inner_text()
