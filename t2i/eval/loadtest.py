"""`python -m t2i loadtest`: the studio as users meet it — start-up time of `python app.py`, then the latency of
one Generate request (4 images) from one client and from several clients at once (p50 / p95), through the
app's HTTP API (as `curl` calls it) against a local server. Results go into results/bench.json under "app"."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
EDIT_PHOTO = REPO / "examples" / "bird_blue_on_water.png"  # an example photo of the Edit tab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env: dict | None = None, timeout: float = 300.0) -> tuple[subprocess.Popen, float]:
    """`python app.py` on 127.0.0.1:port; returns (process, seconds until its page answered)."""
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - t0
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"app.py did not answer on {url} within {timeout:.0f} s")


def _call(url: str, api: str, data: list, timeout: float = 600.0):
    """One request through the app's HTTP API, as `curl` users call it (POST /gradio_api/call/<api>, then its
    event stream): the outputs of the 'complete' event. Light on the client's CPU (about a tenth of gradio_client's
    per request here), which on one machine is CPU the app would otherwise have."""
    req = urllib.request.Request(f"{url}gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        event_id = json.loads(r.read())["event_id"]
    event = None
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=timeout) as r:
        for raw in r:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = line.split(":", 1)[1].strip()
                if event == "error":
                    raise RuntimeError(f"{api} failed: {payload}")
                return json.loads(payload)
    raise RuntimeError(f"{api}: the event stream ended without a result")


def _shown_error(update) -> str:
    """The text of the app's error box when a request made it visible (a gr.update dict), else ''."""
    if isinstance(update, dict) and update.get("visible") is not False and update.get("value"):
        return str(update["value"])
    return ""


def _users(n: int, user, what: str) -> list[float]:
    """`n` users at once, each a thread running user(k) -> the seconds of its requests (raising on a refused one);
    every request's seconds, or a RuntimeError "<what> failed: ..." with the first failure."""
    out: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(k: int):
        try:
            secs = user(k)
        except Exception as e:  # noqa: BLE001 - the app refused the request (e.g. an unknown model)
            errors.append(str(e))
            return
        with lock:
            out.extend(secs)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{what} failed: {errors[0]}")
    return out


def _latencies(url: str, model: str, clients: int, calls: int, caption: str, best_of: int = 1,
               seed_base: int = 0) -> list[float]:
    """Each of `clients` users makes `calls` Generate requests (4 images, best of `best_of` draws each; seeds
    from seed_base, none repeated, so no request is served from the studio's result cache) through the HTTP API;
    every request's seconds."""

    def user(k: int) -> list[float]:
        secs = []
        for j in range(calls):
            t = time.perf_counter()
            res = _call(url, "generate", [caption, model, seed_base + 1000 * k + 10 * j, 4, 0.88, best_of,
                                          None])  # upsampled: None = the app's default
            if _shown_error(res[3]) or not res[0]:
                raise RuntimeError(_shown_error(res[3]) or f"no images: {res[2] or res[3]}")
            secs.append(time.perf_counter() - t)
        return secs

    return _users(clients, user, "Generate")


def _edit_latencies(url: str, clients: int, image: Path, text: str = "this bird has a red belly",
                    steps: int = 50) -> list[float]:
    """`clients` users at once, each one Edit request (an upload, `steps` steps, the tab's defaults otherwise)
    through gradio_client (it uploads the file; its CPU is small beside an edit's); every request's seconds."""
    from gradio_client import Client, handle_file

    api = Client(url, verbose=False, download_files=False).view_api(return_format="dict", print_info=False)
    model = {p["parameter_name"]: p for p in api["named_endpoints"]["/edit"]["parameters"]}["model"]
    if not model.get("parameter_default"):
        raise RuntimeError("Edit failed: the app lists no editing model (CI-GAN) to time")

    def user(k: int) -> list[float]:
        c = Client(url, verbose=False, download_files=False)
        t = time.perf_counter()
        # the rest as the tab's defaults
        res = c.predict(upload=handle_file(str(image)), text=text, steps=steps, api_name="/edit")
        if _shown_error(res[-1]):
            raise RuntimeError(_shown_error(res[-1]))
        return [time.perf_counter() - t]

    return _users(clients, user, "Edit")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def screenshot(url: str, path: str | Path, caption: str, model: str | None = None) -> Path:
    """Headless Chromium (Playwright + Debian's chromium): type `caption`, click Generate, wait for the gallery,
    save the whole page as PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_selector("#generate-btn")
        if model:
            page.locator("#model input").first.click()
            page.get_by_role("option").filter(has_text=model).first.click()  # typed text alone reverts on blur
            page.locator("#caption textarea").click()
            page.wait_for_function("(m) => document.querySelector('#model input').value.includes(m)", arg=model)
            page.wait_for_timeout(1000)  # the choice reaches the app before Generate reads it
        page.locator("#caption textarea").fill(caption)
        page.click("#generate-btn")
        # the page's on-load Generate draws the default caption with the default model: wait for this model's images
        page.wait_for_function("(c) => (document.querySelector('#gen-info') || {}).innerText?.includes(c)",
                               arg=model or caption.split()[-1])
        page.wait_for_selector("#gallery img")
        page.wait_for_timeout(1000)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    return Path(path)


def _stats(ts: list[float]) -> dict:
    return {"n": len(ts), "p50_ms": float(np.percentile(ts, 50) * 1000), "p95_ms": float(np.percentile(ts, 95) * 1000)}


def loadtest(model: str, clients: int = 8, calls: int = 4, single_calls: int = 10,
             caption: str = "a small bird with a red belly and black wings", results: str | Path | None = None,
             env: dict | None = None, screenshot_to: str | Path | None = None, best_of: int = 4,
             edit_clients: int = 0) -> dict:
    """best_of: tries per image as the Generate tab's default (4), 1 = plain draws. edit_clients: also one Edit
    alone and then this many at once (EDIT_PHOTO, 50 steps), when the app can edit."""
    port = _free_port()
    proc, startup = start_app(port, env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _latencies(url, model, 1, 1, caption, best_of, seed_base=2_000_000)  # warm-up: loads the model once
        single = _stats(_latencies(url, model, 1, single_calls, caption, best_of, seed_base=1_000_000))
        t0 = time.perf_counter()
        many = _latencies(url, model, clients, calls, caption, best_of)
        wall = time.perf_counter() - t0
        edits = None
        if edit_clients:
            photo = EDIT_PHOTO
            edit_single = _edit_latencies(url, 1, photo) + _edit_latencies(url, 1, photo)  # the first loads it
            edit_many = _edit_latencies(url, edit_clients, photo)
            edits = {"single": _stats(edit_single[1:]), "concurrent": {**_stats(edit_many), "clients": edit_clients},
                     "steps": 50}
        if screenshot_to:
            screenshot(url, screenshot_to, caption, model=model)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    report = {"model": model, "best_of": best_of, "startup_s": startup, "single": single,
              "concurrent": {**_stats(many), "clients": clients, "requests_per_s": len(many) / wall},
              "concurrency_limit": int((env or {}).get("T2I_CONCURRENCY", os.environ.get("T2I_CONCURRENCY", 2))),
              "cores": os.cpu_count(), "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
              **({"edits": edits} if edits else {})}
    if results:
        path = Path(results)
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.setdefault("app", {})[f"{model} · {clients} clients · best-of {best_of}"] = report
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return report
