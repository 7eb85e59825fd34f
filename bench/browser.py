"""What a user waits for, measured in a real browser: the dashboard on the sample study, driven by Debian's
chromium through playwright (never ``playwright install``).

    python bench/browser.py [--json PATH] [--sessions 10] [--tour-only]

Starts its own server (``streamlit run app.py``, the README's first command) on a free port with an empty
workspace, so the server is cold. Each action is timed in the browser's own clock from the input (the first
pointer, key or input event after the bench armed its watch) until the NEW VALUE IS SHOWN: the first animation
frame in which the action's own element is on the page, no longer stale (Streamlit dims what a run has not
reached yet) and different from before:

- Home on the cold server (from the server's start until "1001 patients" shows; Python's clock);
- the first visit of the Guided tour (its numbers are stored with the sample: no fit), Selection, Models,
  Evaluation and Nomogram, until the page's main content shows (its first figure, its calculator);
- a redundancy-threshold and a p-threshold change on Selection, until the funnel shows the new counts;
- Models after that change, until the refitted models show (the scores' coefficient figures, the fused model);
- one step of the Evaluation cut-off slider, until the threshold explorer's metrics table shows its values (the
  bench first steps until a step changes them, then times the step back, so the timed step changes them);
- one Nomogram input changed, until the calculator's displayed risk changes (``#risk`` in the calculator
  component's shadow root; the old ``number_input`` path where the page has no component yet, said in the row).

Where a run follows, the time until Streamlit reports the script idle (and no spinner shows) is the second
column. Then it clicks downloads (Nomogram's points CSV and A4 PNG, Evaluation's Table 2) and counts the script
runs a click starts (none is the target; the row's value is the seconds until the file arrived), prints the
browser's big downloads (the scripts of an element kind, loaded when a page first shows one), and keeps
``--sessions`` browser sessions open at once on the sample study (opened one after another, each visiting
Selection, Models, Evaluation and Nomogram) and reports the server's memory (RSS of the server and all its
children). Prints a table; ``--json`` writes the rows for bench/run_all.py. ``--tour-only`` times Home and the
Guided tour's first visit and stops there.
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
VIEWPORT = {"width": 1400, "height": 900}
#: Issue 29's targets: seconds until the new value is shown (memory in MiB).
TARGETS = {"nomogram": 0.1, "cutoff": 0.2, "home": 3.0, "first": 1.5, "selection": 1.0, "models": 2.0,
           "memory": 2048.0}
#: Seconds to wait after a download click for a script run it might start.
RERUN_WINDOW = 2.0
#: Seconds after the script went idle to wait for a value that did not change before calling it unchanged.
UNCHANGED_AFTER_IDLE = 5.0
#: Seconds after the script went idle to wait for a page's content that is not there before calling it missing.
MISSING_AFTER_IDLE = 30.0

# ---------------------------------------------------------------------------------------------
# In the page: a record of Streamlit's script runs and a watch that notes when a probe's value is shown
# ---------------------------------------------------------------------------------------------

#: A probe names what shows an action's result: ``css`` selectors that must each match a visible element (the
#: visible matches not stale; each one's text and data-* attributes make its value), ``shadow`` = [host, selector]
#: for an element in an open shadow root, ``text`` = [selector, substring] for an element of that selector
#: containing the substring; ``any`` = [probe, ...]: the first of them that is shown.
_LIBRARY = r"""() => {
  if (window.__rn) return;
  const rn = window.__rn = {runs: [], watch: null};
  const app = document.querySelector("[data-testid='stApp']");
  const record = () => rn.runs.push({state: app.getAttribute('data-test-script-state'), t: performance.now()});
  new MutationObserver(record).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const fresh = (el) => {
    const box = el.closest('[data-testid="stElementContainer"]');
    return !box || box.getAttribute('data-stale') !== 'true';
  };
  // Shown on screen: its element's box has a size (an accessible table's own box may be clipped to nothing).
  const visible = (el) => {
    const r = (el.closest('[data-testid="stElementContainer"]') || el).getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const valueOf = (el) => (el.textContent || '') + '|' + Object.entries(el.dataset).join(';');
  // The probe's value (a string) when all of it is shown, else null.
  rn.read = (probe) => {
    if (probe.any) {
      for (const one of probe.any) { const value = rn.read(one); if (value !== null) return value; }
      return null;
    }
    const shown = [], checked = [];
    for (const css of probe.css || []) {
      const found = Array.from(document.querySelectorAll(css)).filter(visible);  // not in a closed expander
      if (!found.length) return null;
      shown.push(...found); checked.push(...found);
    }
    if (probe.shadow) {
      const host = document.querySelector(probe.shadow[0]);
      const inner = host && host.shadowRoot && host.shadowRoot.querySelector(probe.shadow[1]);
      if (!inner) return null;
      shown.push(inner); checked.push(host);
    }
    if (probe.text) {
      const found = Array.from(document.querySelectorAll(probe.text[0]))
        .filter((el) => (el.textContent || '').includes(probe.text[1]));
      if (!found.length) return null;
      shown.push(...found); checked.push(...found);
    }
    for (const el of checked) if (!fresh(el) || !visible(el)) return null;
    return shown.map(valueOf).join('||');
  };
  const spinning = () => document.querySelector('[data-testid="stSpinner"]') !== null;
  // The end of the first script run that started at or after t0 (null while none has ended).
  const idleAfter = (w) => {
    const started = rn.runs.findIndex((r, i) => i >= w.run0 && r.t >= w.t0 && r.state === 'running');
    if (started < 0) return null;
    const ended = rn.runs.slice(started).find((r) => r.state === 'notRunning');
    return ended && !spinning() ? ended.t : null;
  };
  // Watch from the next input event: every animation frame reads the probe until its value differs from now's.
  rn.arm = (probe) => {
    const w = rn.watch = {probe, base: probe ? rn.read(probe) : null, t0: null, shown: null, idle: null,
                          run0: rn.runs.length, armed: performance.now()};
    const first = () => { if (w.t0 === null) w.t0 = performance.now(); };
    for (const type of ['pointerdown', 'mousedown', 'keydown', 'input', 'change']) {
      window.addEventListener(type, first, {capture: true, once: true});
    }
    const frame = () => {
      if (rn.watch !== w) return;
      if (w.t0 !== null) {
        if (w.shown === null && probe) {
          const now = rn.read(probe);
          if (now !== null && now !== w.base) w.shown = performance.now();
        }
        if (w.idle === null) w.idle = idleAfter(w);
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  };
  // Seconds from the input to shown / idle; done once what `need`s is there (or, for a value that was there and
  // never changed, `unchangedMs` after the run ended).
  rn.result = (need, unchangedMs, missingMs) => {
    const w = rn.watch;
    if (!w || w.t0 === null) return null;
    const seconds = (t) => (t === null ? null : (t - w.t0) / 1000);
    const since = rn.runs.slice(w.run0).filter((r) => r.state === 'running' && r.t >= w.t0);
    const out = {shown: seconds(w.shown), idle: seconds(w.idle), runs: since.length,
                 started: since.length ? seconds(since[0].t) : null};
    if (need.every((k) => w[k] !== null)) return out;
    // A value that was there before may stay as it was (given up `unchangedMs` after the run ended); one that was
    // not (a page's content) may come later (drawn after the run), given up `missingMs` after it (an error shown).
    const after = w.base !== null ? unchangedMs : missingMs;
    if (w.idle !== null && w.shown === null && performance.now() - w.idle > after) return out;
    return null;
  };
}"""

_BIDI = 'div[data-testid="stBidiComponentIsolated"]'
#: What shows each page's main content (a page-specific element), for first visits.
PAGE_CONTENT = {
    "Guided tour of the study": {"text": ['[data-testid="stMarkdownContainer"]', "RadNomo, sample study"]},
    "Selection": {"css": [".st-key-sel_funnel_chart .main-svg"]},
    "Models": {"css": ['[class*="st-key-mod_coef_"] .main-svg', ".st-key-mod_dl_fused"]},
    "Evaluation": {"css": ['[class*="st-key-ev_roc_"] .main-svg']},
}
#: The Nomogram page before the calculator component: its first metric (the predicted risk).
NOMOGRAM_FALLBACK = {"css": ['.st-key-nom_result [data-testid="stMetricValue"]']}
#: The Nomogram calculator's risk: in the browser calculator (a streamlit.components.v2 component), else the old
#: number_input path's.
PAGE_CONTENT["Nomogram"] = {"any": [{"shadow": [_BIDI, ".calc[data-ready='1'] #risk"]}, NOMOGRAM_FALLBACK]}
#: The Selection funnel (figure and table): its counts.
FUNNEL = {"css": [".st-key-sel_funnel_chart .main-svg",
                  '[data-testid="stVerticalBlock"]:has(> .st-key-sel_dl_funnel) [data-testid="stDataFrame"] table']}
#: The Evaluation threshold explorer's metrics table (beside the confusion matrix).
METRICS = {"css": ['[data-testid="stVerticalBlock"]:has(> .st-key-ev_confusion) [data-testid="stDataFrame"] table']}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue += [int(p) for p in subprocess.run(["pgrep", "-P", str(current)], capture_output=True,
                                                 text=True).stdout.split()]
    return found


def _memory_mib(pid: int) -> tuple[float, float]:
    """Resident memory (MiB) of a process and all its descendants now, and the process's own peak (VmHWM)."""
    total = peak = 0
    for p in _descendants(pid):
        status = Path(f"/proc/{p}/status")
        try:
            lines = status.read_text().splitlines()
        except OSError:  # it ended meanwhile
            continue
        for line in lines:
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
            elif line.startswith("VmHWM:") and p == pid:
                peak = int(line.split()[1])
    return total / 1024, peak / 1024


def _timed(page, action, probe: dict | None, need: tuple[str, ...] = ("shown", "idle"),
           timeout: float = 600) -> dict:
    """Run ``action`` and return seconds from its first input event until ``probe``'s value changed on the page
    (``shown``) and until the script run it started ended (``idle``; None where it started none), in the browser's
    clock; ``runs``: how many script runs started meanwhile, ``started``: when the first began. A value that never
    changes (or content that never comes) is None (``shown``)."""
    page.evaluate(_LIBRARY)
    page.evaluate("(probe) => window.__rn.arm(probe)", probe)
    action()
    handle = page.wait_for_function("([need, unchanged, missing]) => window.__rn.result(need, unchanged, missing)",
                                    arg=[list(need), UNCHANGED_AFTER_IDLE * 1000, MISSING_AFTER_IDLE * 1000],
                                    timeout=timeout * 1000, polling=20)
    return handle.json_value()


def _go(page, title: str, link: str | None = None) -> dict:
    """Open the page whose menu entry is ``link`` (``title`` by default): until its main content shows and
    until idle."""
    entry = page.get_by_role("link", name=link or title, exact=True).first
    timing = _timed(page, entry.click, PAGE_CONTENT[title])
    page.get_by_role("heading", name=title).first.wait_for()
    return timing


def _enter(page, label: str, value: str, probe: dict | None) -> dict:
    """Type ``value`` into the number input labelled ``label``; timed from the Enter that commits it."""
    box = page.get_by_label(label, exact=True).first
    box.fill(value)
    return _timed(page, lambda: box.press("Enter"), probe)


def _nomogram_input(page) -> tuple[str, dict, dict | None]:
    """One calculator input changed by a noticeable amount, until the displayed risk changes; then its commit
    (the value sent to the server: a fragment rerun, off the critical path) until idle. Returns the row's label,
    the input's timing and the commit's (None on the old path, where the input is the commit)."""
    host = page.locator(_BIDI)
    if host.count():
        calculator = page.locator(f"{_BIDI} .calc[data-ready='1']").first
        calculator.wait_for()
        # CEA where the model has it (the old bench's input), else its first clinical number, else any number.
        for css in ("[data-var='cea_ng_ml']", ":not([data-var$='_score'])", ""):
            box = page.locator(f"{_BIDI} input[type=number]{css}")
            if box.count():
                break
        box = box.first
        name = box.get_attribute("data-var")
        before = float(box.input_value())
        after = before + max(abs(before), 10.0)  # far enough to move the risk's last shown digit
        risk = {"shadow": [_BIDI, "#risk"]}
        typed = _timed(page, lambda: box.fill(f"{after:g}"), risk, need=("shown",), timeout=60)
        committed = _timed(page, lambda: box.press("Enter"), None, need=("idle",), timeout=120)
        return f"Nomogram: one input changed ({name} {before:g} -> {after:g}; the risk)", typed, committed
    risk = NOMOGRAM_FALLBACK
    timing = _enter(page, "CEA (ng/mL)", "25", risk)
    return ("Nomogram: one input changed (CEA -> 25; the risk; the old number_input path: no calculator "
            "component)"), timing, None


def _cutoff_step(page) -> dict:
    """One keyboard step of the Evaluation cut-off slider, until the explorer's metrics table shows its values.
    A 0.001 step often leaves every count as it was, so the bench first steps right (untimed) until a step changes
    the table, then times the step back (which changes it back)."""
    slider = page.get_by_role("slider").first
    slider.focus()
    read = "(probe) => window.__rn.read(probe)"
    page.evaluate(_LIBRARY)
    present = "(probe) => window.__rn.read(probe) !== null"
    page.wait_for_function(present, arg=METRICS)  # the table drawn (its script is loaded on first use)
    for _ in range(60):
        page.evaluate(_LIBRARY)
        before = page.evaluate(read, METRICS)
        step = _timed(page, lambda: slider.press("ArrowRight"), METRICS, need=("idle",), timeout=120)
        page.wait_for_function(present, arg=METRICS)
        if step["shown"] is not None or page.evaluate(read, METRICS) != before:
            break
    else:
        raise RuntimeError("60 steps of the cut-off slider did not change the explorer's metrics")
    return _timed(page, lambda: slider.press("ArrowLeft"), METRICS)


def _download(page, key: str) -> dict:
    """Click the download button ``key``: seconds (Python's clock) until the file arrives and the script runs the
    click started (in the ``RERUN_WINDOW`` s after it)."""
    page.evaluate(_LIBRARY)
    page.evaluate("() => window.__rn.arm(null)")
    button = page.locator(f".st-key-{key} button").first
    started = time.perf_counter()
    with page.expect_download(timeout=120_000) as waiting:
        button.click()
    download = waiting.value
    download.path()  # the whole file
    seconds = time.perf_counter() - started
    page.wait_for_timeout(RERUN_WINDOW * 1000)
    runs = page.evaluate("() => window.__rn.runs.slice(window.__rn.watch.run0)"
                         ".filter((r) => r.state === 'running').length")
    return {"shown": seconds, "idle": None, "runs": runs, "file": download.suggested_filename}


def _print_big_downloads(page, smallest: int = 300_000) -> None:
    """Print the browser's downloads of at least ``smallest`` bytes (the dashboard's scripts, loaded on first use
    of an element kind: where a first figure or table waits) with when they started and how long they took."""
    entries = page.evaluate("""(smallest) => performance.getEntriesByType('resource')
        .filter((e) => e.encodedBodySize >= smallest)
        .map((e) => [e.name.split('/').pop(), e.encodedBodySize, e.startTime / 1000, e.duration / 1000])""",
                            smallest)
    for name, size, start, duration in entries:
        print(f"downloaded {name}: {size / 1e6:.1f} MB at {start:.1f} s of the page's life, in {duration:.2f} s")


def _cold_home(page, url: str, started: float) -> dict:
    """Home on the cold server, in Python's clock from the server's start: until the sample study's size shows,
    and until the script is idle."""
    page.goto(url)
    loaded = time.perf_counter() - started
    page.get_by_text("1001 patients").first.wait_for(timeout=300_000)
    shown = time.perf_counter() - started
    page.wait_for_selector(IDLE, timeout=300_000)
    idle = time.perf_counter() - started
    print(f"Home, cold: the page's HTML and scripts loaded {loaded:.2f} s after the server's start, the sample "
          f"study shown at {shown:.2f} s, idle at {idle:.2f} s")
    return {"shown": shown, "idle": idle, "runs": None}


def _start_server(port: int) -> tuple[subprocess.Popen, float]:
    """The dashboard on ``port`` with an empty workspace, once healthy (the seconds that took are printed); its
    start time (perf_counter)."""
    workspace = tempfile.mkdtemp(prefix="radnomo-browser-bench-")
    env = {**os.environ, "RADNOMO_WORKSPACE": workspace}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    print(f"server healthy {time.perf_counter() - started:.2f} s after its start")
                    return server, started
        except OSError:
            time.sleep(0.1)
        if time.perf_counter() - started > 120:
            server.terminate()
            raise RuntimeError("the dashboard did not start")


class _Timings(list):
    """The measured (action, target kind, timing) in order, each printed as it comes (a run that hangs shows
    where)."""

    def append(self, item: tuple[str, str, dict]) -> None:
        print(f"measured {item[0]}: {item[2]}", flush=True)
        super().append(item)


def measure(sessions: int, tour_only: bool = False) -> list[dict]:
    """Every timing (rows for bench/run_all.py), printed as a table against the targets."""
    from playwright.sync_api import sync_playwright

    timings = _Timings()
    memory = None
    with sync_playwright() as playwright:
        # The browser is open before the server starts, as a user's is: Home's time is the server's and the page's,
        # not chromium's start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        port = _free_port()
        server, started = _start_server(port)
        url = f"http://localhost:{port}"
        try:
            timings.append(("Home, cold server (from the server's start)", "home", _cold_home(page, url, started)))
            # Before any other page: the tour's first visit on a server that has fitted nothing yet.
            timings.append(("first visit: Guided tour", "first",
                            _go(page, "Guided tour of the study", link="Guided tour")))
            if tour_only:
                return _report(timings, None, sessions)
            for title in ("Selection", "Models", "Evaluation", "Nomogram"):
                timings.append((f"first visit: {title}", "first", _go(page, title)))
            _go(page, "Selection")
            timings.append(("Selection: redundancy |r| 0.7 -> 0.8 (the funnel)", "selection",
                            _enter(page, "Redundancy: |r| >", "0.80", FUNNEL)))
            timings.append(("Selection: p 0.05 -> 0.01 (the funnel)", "selection",
                            _enter(page, "Keep p <", "0.0100", FUNNEL)))
            timings.append(("Models, after the threshold change (the refitted models)", "models",
                            _go(page, "Models")))
            _go(page, "Evaluation")
            timings.append(("Evaluation: one step of the cut-off slider (the metrics table)", "cutoff",
                            _cutoff_step(page)))
            _go(page, "Nomogram")
            label, typed, committed = _nomogram_input(page)
            timings.append((label, "nomogram", typed))
            if committed is not None:
                timings.append(("Nomogram: that value committed (Enter), its fragment rerun off the critical "
                                "path", "", committed))
            for key, text in (("nom_dl_axes", "Points (CSV)"), ("nom_dl_png_a4", "PNG, A4")):
                if page.locator(f".st-key-{key} button").count():
                    timings.append((f"Nomogram: download {text}", "download", _download(page, key)))
            _go(page, "Evaluation")
            timings.append(("Evaluation: download Table 2 (CSV)", "download", _download(page, "ev_dl_table2")))
            _print_big_downloads(page)
            # Memory: this session plus sessions - 1 more, each opening the sample study's pages; all stay open.
            others = [browser.new_context(viewport=VIEWPORT).new_page() for _ in range(sessions - 1)]
            for number, other in enumerate(others, start=2):
                print(f"session {number} of {sessions}", flush=True)
                other.goto(url)
                other.get_by_text("1001 patients").first.wait_for(timeout=300_000)
                other.wait_for_selector(IDLE, timeout=300_000)
                for title in ("Selection", "Models", "Evaluation", "Nomogram"):
                    _go(other, title)
            memory = _memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        browser.close()
    return _report(timings, memory, sessions)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _report(timings: list[tuple[str, str, dict]], memory: tuple[float, float] | None, sessions: int) -> list[dict]:
    """Print the timings against their targets (with when the script run the input started began: the round trip
    and queue before the server works); the rows for bench/run_all.py (until shown, and until idle where a run
    followed; a download's seconds until its file arrived, its label saying whether it reran the page)."""
    rows = []
    print("| action | until shown (s) | until idle (s) | run started (s) | target | |\n|---|---|---|---|---|---|")
    for name, kind, timing in timings:
        shown, idle = timing["shown"], timing["idle"]
        if kind == "download":
            runs = timing["runs"]
            verdict = "no rerun" if runs == 0 else f"{runs} rerun(s)"
            print(f"| {name} | {_seconds(shown)} (file) | | | no rerun | {'met' if runs == 0 else 'NOT met'}: "
                  f"{verdict} |")
            rows.append(results.row(f"browser: {name}, until the file: {verdict} (target no rerun)", shown, "s"))
            continue
        target = TARGETS.get(kind)
        if target is None:  # timed until idle only
            verdict, shown_text = "", "n/a"
        elif shown is None:
            verdict, shown_text = "NOT met: never shown (an error?) or unchanged", "not shown"
        else:
            verdict, shown_text = "met" if shown <= target else "NOT met", _seconds(shown)
        print(f"| {name} | {shown_text} | {_seconds(idle)} | {_seconds(timing.get('started'))} | "
              f"{'' if target is None else f'{target:g} s'} | {verdict} |")
        if shown is not None and target is not None:
            rows.append(results.row(f"browser: {name}, until shown (target {target:g} s)", shown, "s"))
        if idle is not None:
            rows.append(results.row(f"browser: {name}, until idle", idle, "s"))
    if memory is not None:
        rss, peak = memory
        target = TARGETS["memory"]
        print(f"| server memory, {sessions} sessions on the sample study (RSS, with children) | {rss:.0f} MiB | | | "
              f"< {target / 1024:g} GiB | {'met' if rss < target else 'NOT met'} |")
        print(f"(the server process's own peak RSS over the run: {peak:.0f} MiB)")
        rows.append(results.row(f"browser: server memory, {sessions} sessions on the sample study "
                                f"(target < {target / 1024:g} GiB)", rss, "MiB"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions open for the memory (10)")
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
