"""Take the README's screenshots of the running dashboard (sample study) with headless Chromium.

Usage: python docs/make_screenshots.py [--port 8599]
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
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, path in PAGES.items():
                page.goto(f"http://localhost:{args.port}/{path}")
                page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60000)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print(f"wrote {out / f'{name}.png'}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
