"""What a user waits for, measured in a real browser: the dashboard on the sample study, driven by Debian's
chromium through playwright (never ``playwright install``).

    python bench/browser.py [--json PATH] [--sessions 3]

Starts its own server (``streamlit run app.py``, the README's first command) on a free port with an empty
workspace, so the server is cold; then times, from the click or key press until Streamlit reports the
script idle again (and the page shows no spinner): Home on the cold server; the first visit of the Guided
tour (its numbers are stored with the sample: no fit), Selection, Models, Evaluation and Nomogram; a
redundancy-threshold change and a p-threshold change on Selection;
Models after that change; one step of the Evaluation cut-off slider; one Nomogram input changed. Then it
opens ``--sessions`` browser sessions at once on the sample study and reports the server's memory (RSS,
with its children). Prints a table; ``--json`` writes the rows for bench/run_all.py. ``--tour-only`` times
Home and the Guided tour's first visit and stops there.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import results  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TARGETS = {"home": 5.0, "tour": 3.0, "first": 2.0, "selection": 1.0, "models": 2.0, "cutoff": 0.3, "nomogram": 0.2}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (MiB), from /proc."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


_OBSERVER = """() => {
  if (window.__radnomoRuns) return;
  window.__radnomoRuns = [];
  const app = document.querySelector("[data-testid='stApp']");
  const record = () => window.__radnomoRuns.push({state: app.getAttribute("data-test-script-state"),
                                                   t: performance.now()});
  new MutationObserver(record).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""

_DONE = """([t0]) => {
  const runs = window.__radnomoRuns || [];
  const started = runs.findIndex(r => r.t >= t0 && r.state === "running");
  if (started < 0) return false;
  const ended = runs.slice(started).find(r => r.state === "notRunning");
  if (!ended || document.querySelector('[data-testid="stSpinner"]')) return false;
  return ended.t - t0;
}"""


def _timed(page, action, timeout: float = 600) -> float:
    """Seconds from ``action`` until the run it triggers has ended and no spinner shows, in the browser's
    own clock (a MutationObserver records every change of Streamlit's script state)."""
    page.evaluate(_OBSERVER)
    t0 = page.evaluate("() => performance.now()")
    action()
    handle = page.wait_for_function(_DONE, arg=[t0], timeout=timeout * 1000, polling=10)
    return float(handle.json_value()) / 1000


def _go(page, title: str, link: str | None = None) -> float:
    """Seconds to open the page whose menu entry is ``link`` (``title`` by default) until it shows ``title``."""
    entry = page.get_by_role("link", name=link or title, exact=True).first
    seconds = _timed(page, entry.click)
    page.get_by_role("heading", name=title).first.wait_for()
    return seconds


def _enter(page, label: str, value: str) -> float:
    box = page.get_by_label(label, exact=True).first
    box.fill(value)
    return _timed(page, lambda: box.press("Enter"))


def measure(sessions: int, tour_only: bool = False) -> list[dict]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    workspace = tempfile.mkdtemp(prefix="radnomo-browser-bench-")
    env = {**os.environ, "RADNOMO_WORKSPACE": workspace}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    rows, times = [], {}
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.1)
            if time.perf_counter() - started > 120:
                raise RuntimeError("the dashboard did not start")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(url)
            page.get_by_text("1001 patients").first.wait_for(timeout=300_000)
            page.wait_for_selector(IDLE, timeout=300_000)
            times["Home, cold server (from the server's start)"] = time.perf_counter() - started
            # Before any other page: the tour's first visit on a server that has fitted nothing yet.
            times["first visit: Guided tour"] = _go(page, "Guided tour of the study", link="Guided tour")
            if tour_only:
                browser.close()
                return _report(times, ["home", "tour"], rows)
            for title in ("Selection", "Models", "Evaluation", "Nomogram"):
                times[f"first visit: {title}"] = _go(page, title)
            _go(page, "Selection")
            times["Selection: redundancy |r| 0.7 -> 0.8"] = _enter(page, "Redundancy: |r| >", "0.80")
            times["Selection: p 0.05 -> 0.01"] = _enter(page, "Keep p <", "0.0100")
            times["Models, after the threshold change"] = _go(page, "Models")
            _go(page, "Evaluation")
            slider = page.get_by_role("slider").first
            slider.focus()
            times["Evaluation: one step of the cut-off slider"] = _timed(page, lambda: slider.press("ArrowRight"))
            _go(page, "Nomogram")
            times["Nomogram: one input changed"] = _enter(page, "CEA (ng/mL)", "25")
            # Memory: this session plus sessions - 1 more, each opening the sample study's pages.
            others = [browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                      for _ in range(sessions - 1)]
            for other in others:
                other.goto(url)
                other.get_by_text("1001 patients").first.wait_for(timeout=300_000)
                other.wait_for_selector(IDLE, timeout=300_000)
                for title in ("Selection", "Models", "Evaluation", "Nomogram"):
                    _go(other, title)
            memory = _rss_mib(server.pid)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    kinds = ["home", "tour", "first", "first", "first", "first", "selection", "selection", "models", "cutoff",
             "nomogram"]
    _report(times, kinds, rows)
    print(f"server memory with {sessions} sessions on the sample study: {memory:.0f} MiB")
    rows.append(results.row(f"browser: server memory, {sessions} sessions on the sample study", memory, "MiB"))
    return rows


def _report(times: dict[str, float], kinds: list[str], rows: list[dict]) -> list[dict]:
    """Print the timings against their targets and add them to ``rows`` (returned)."""
    print("| action | seconds | target |\n|---|---|---|")
    for (name, seconds), kind in zip(times.items(), kinds, strict=True):
        target = TARGETS[kind]
        print(f"| {name} | {seconds:.2f} | {target:g} s {'met' if seconds <= target else 'NOT met'} |")
        rows.append(results.row(f"browser: {name} (target {target:g} s)", seconds, "s"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--json", help="also write the result rows here")
    parser.add_argument("--tour-only", action="store_true", help="time Home and the Guided tour's first visit only")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        print(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    results.write(args.json, measure(args.sessions, args.tour_only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
