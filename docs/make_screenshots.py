"""Take the README's screenshots of the running dashboard (sample study) with headless Chromium.

Usage: python docs/make_screenshots.py [--port 8599] [--only evaluation nomogram]
Starts `streamlit run app.py` on localhost, visits each page, writes docs/screenshots/<page>.png.
Needs Debian's chromium (/usr/bin/chromium) and the playwright package; never downloads a browser.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"home": "", "cohort": "cohort", "features_radiomics": "features_radiomics", "features_deep": "features_deep",
         "selection": "selection", "models": "models", "evaluation": "evaluation", "nomogram": "nomogram",
         "validation": "validation", "subgroups": "subgroups", "new_patient": "new_patient", "external": "external",
         "walkthrough": "walkthrough", "teaching": "teaching"}
# A button pressed before the shot, so the page shows what it is for (a scored patient, an external centre).
ACTIONS = {"new_patient": "Score this patient", "external": "Add the sample's external centre"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTH, FIRST_HEIGHT, MAX_HEIGHT = 1400, 1000, 9000  # px
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
# Streamlit scrolls its main block inside the window, so a "full page" screenshot holds one window: the window is
# made as tall as the page's content instead.
CONTENT_HEIGHT = """() => { const main = document.querySelector('[data-testid="stMain"]') || document.body;
    return Math.max(main.scrollHeight, document.body.scrollHeight); }"""


def shoot(page, url: str, path: Path, action: str | None = None) -> None:
    """Open ``url``, wait until the script has run (press ``action``), grow the window to the content and
    screenshot it."""
    page.set_viewport_size({"width": WIDTH, "height": FIRST_HEIGHT})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=300_000)
    page.wait_for_timeout(2500)
    page.wait_for_selector(IDLE, timeout=300_000)
    if action:
        page.get_by_role("button", name=action).click()
        page.wait_for_timeout(1500)
        page.wait_for_selector(IDLE, timeout=300_000)
        page.wait_for_timeout(1500)
    height = FIRST_HEIGHT
    for _ in range(5):  # a taller window can show (and lay out) more: grow until the content fits
        needed = min(MAX_HEIGHT, int(page.evaluate(CONTENT_HEIGHT)) + 40)
        if needed <= height:
            break
        height = needed
        page.set_viewport_size({"width": WIDTH, "height": height})
        page.wait_for_timeout(1500)  # charts redraw at the new size
    page.screenshot(path=str(path), full_page=True)


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("streamlit did not become healthy")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--only", nargs="*", help="page names to shoot (default: every page)")
    args = parser.parse_args()
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(args.port),
                               "--server.headless", "true", "--server.fileWatcherType", "none"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(args.port)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": WIDTH, "height": FIRST_HEIGHT})
            for name, path in PAGES.items():
                if args.only and name not in args.only:
                    continue
                shoot(page, f"http://localhost:{args.port}/{path}", out / f"{name}.png", ACTIONS.get(name))
                print(f"wrote {out / f'{name}.png'}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
