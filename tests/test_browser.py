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
def browser():
    with sync_api.sync_playwright() as p:  # one Playwright per module: a second one inside it is refused
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, studio_url):
    pg = browser.new_page(viewport={"width": 1360, "height": 900})
    pg.set_default_timeout(60_000)
    pg.goto(studio_url)
    pg.wait_for_selector("#generate-btn")
    yield pg
    pg.close()


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


def _tab(page, name):
    """Open a tab, also on a phone where the last tabs sit in the '…' menu."""
    tab = page.get_by_role("tab", name=name).first
    if tab.is_visible():
        tab.click()
    else:
        page.locator(".overflow-menu button").first.click()
        page.locator(".overflow-dropdown button", has_text=name).first.click()


def _loaded(page, selector, n=1):
    page.wait_for_function("([sel, n]) => { const im = [...document.querySelectorAll(sel)];"
                           " return im.length >= n && im.every(el => el.complete && el.naturalWidth > 0); }",
                           arg=[selector, n])


def test_enter_generates(page):
    box = page.locator("#caption textarea")
    box.fill("a small bird with a green crown")
    box.press("Enter")
    page.wait_for_function("() => (document.querySelector('#gen-info') || {}).innerText?.includes('green')")
    assert box.input_value() == "a small bird with a green crown"  # Enter did not add a new line


def test_each_image_shows_its_seed_and_a_click_reuses_it(page):
    page.locator("#caption textarea").fill("a bird with a red belly and black wings")
    page.locator("#seed input").fill("7")
    page.click("#generate-btn")
    page.wait_for_function("() => (document.querySelector('#gen-info') || {}).innerText?.includes('seeds 7–10')")
    _loaded(page, "#gallery img", 4)
    labels = page.locator("#gallery .caption-label").all_inner_texts()
    assert labels == ["#1 · seed 7", "#2 · seed 8", "#3 · seed 9", "#4 · seed 10"]
    page.locator("#gallery img").nth(2).click()
    page.wait_for_function("() => document.querySelector('#seed input').value === '9'")
    assert page.locator("#look-btn").inner_text() == "Look inside seed 9"


# --- the app over the shipped models (checkpoints/), in its own process -------------------------------------------
@pytest.fixture(scope="module")
def shipped(browser, tmp_path_factory):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "T2I_MODELS": ""}
    env.pop("T2I_CHECKPOINTS", None)
    log = open(tmp_path_factory.mktemp("shipped") / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(repo / "app.py")], cwd=repo, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"app.py exited: see {log.name}")
                time.sleep(1)
        yield browser, url
    finally:
        proc.terminate()
        proc.wait(30)


def _open(shipped, width=1360, height=900):
    browser, url = shipped
    pg = browser.new_page(viewport={"width": width, "height": height})
    pg.set_default_timeout(120_000)
    pg.goto(url)
    pg.wait_for_selector("#generate-btn")
    return pg


def test_shipped_latent_space_opens_with_figures_and_edit_examples_are_single_birds(shipped):
    pg = _open(shipped)
    _tab(pg, "Latent space")
    _loaded(pg, ".t2i-gallery img", 2)
    _tab(pg, "Edit")
    srcs = pg.locator("#edit-examples img").evaluate_all("els => els.map(e => e.src)")
    assert len(srcs) >= 3 and all("bird_" in s for s in srcs)
    pg.close()


def test_shipped_model_cards_have_no_broken_image(shipped):
    pg = _open(shipped)
    _tab(pg, "Models")
    for name in ("csagan-synthbirds-64", "cigan-synthbirds-64"):
        pg.locator("#models-card-picker input").fill(name)
        pg.locator("#models-card-picker input").press("Enter")
        pg.wait_for_function("n => (document.querySelector('#model-card') || {}).innerText?.includes(n)", arg=name)
        _loaded(pg, "#model-figures img")
        broken = pg.locator("#model-card img").evaluate_all("els => els.filter(e => !e.naturalWidth).length")
        assert broken == 0, name
        assert pg.locator("#model-card").bounding_box()["height"] < 2500, name
    pg.close()


def test_shipped_page_fits_a_phone(shipped):
    pg = _open(shipped, 390, 844)
    pg.wait_for_function("() => document.querySelectorAll('#gallery img').length >= 1")
    for name in ("Generate", "Look inside", "Compare", "Edit", "Latent space", "Models"):
        _tab(pg, name)
        pg.wait_for_timeout(800)
        assert pg.evaluate("() => document.documentElement.scrollWidth") <= 390, name
    pg.close()
