"""`python -m t2i loadtest`: the studio as users meet it — start-up time of `python app.py`, then the latency of
one Generate request (4 images) from one client and from several clients at once (p50 / p95), through
gradio_client against a local server. Results go into results/bench.json under "app"."""
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


def _latencies(url: str, model: str, clients: int, calls: int, caption: str, best_of: int = 1) -> list[float]:
    """Each of `clients` threads (own gradio_client) makes `calls` Generate requests (4 images, best of
    `best_of` draws each); every request's seconds."""
    from gradio_client import Client

    out: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def worker(k: int):
        c = Client(url, verbose=False, download_files=False)
        for j in range(calls):
            t = time.perf_counter()
            try:
                res = c.predict(caption, model, 1000 * k + j, 4, 0.88, best_of, api_name="/generate")
            except Exception as e:  # noqa: BLE001 - the app refused the request (e.g. an unknown model)
                errors.append(str(e))
                return
            dt = time.perf_counter() - t
            err = res[3]
            if isinstance(err, dict) and err.get("visible") is not False and err.get("value"):
                errors.append(str(err.get("value")))
            with lock:
                out.append(dt)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"Generate failed: {errors[0]}")
    return out


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
            page.locator("#model input").first.fill(model)
            page.keyboard.press("Enter")
        page.locator("#caption textarea").fill(caption)
        page.click("#generate-btn")
        page.wait_for_function("(c) => (document.querySelector('#gen-info') || {}).innerText?.includes(c)",
                               arg=caption.split()[-1])
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
             env: dict | None = None, screenshot_to: str | Path | None = None, best_of: int = 4) -> dict:
    """best_of: tries per image as the Generate tab's default (4), 1 = plain draws."""
    port = _free_port()
    proc, startup = start_app(port, env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _latencies(url, model, 1, 1, caption, best_of)  # warm-up: loads the model (and the reranker) once
        single = _stats(_latencies(url, model, 1, single_calls, caption, best_of))
        t0 = time.perf_counter()
        many = _latencies(url, model, clients, calls, caption, best_of)
        wall = time.perf_counter() - t0
        if screenshot_to:
            screenshot(url, screenshot_to, caption)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    report = {"model": model, "best_of": best_of, "startup_s": startup, "single": single,
              "concurrent": {**_stats(many), "clients": clients, "requests_per_s": len(many) / wall},
              "concurrency_limit": int((env or {}).get("T2I_CONCURRENCY", os.environ.get("T2I_CONCURRENCY", 2))),
              "cores": os.cpu_count(), "updated": time.strftime("%Y-%m-%d %H:%M:%S")}
    if results:
        path = Path(results)
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.setdefault("app", {})[f"{model} · {clients} clients · best-of {best_of}"] = report
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return report
