"""`allot simulate --report` pages in real headless Chromium.

Each page is opened from a file by a fresh headless Chromium, driven over the DevTools
protocol: it must load without a console error, an uncaught exception or a single
request beyond the file itself, and every chart must be a drawn SVG. A full-page
screenshot of each is kept in $ARTIFACTS.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

ROOT = Path(__file__).resolve().parents[2]
ALLOT = os.environ.get("ALLOT", str(ROOT / "target/debug/allot"))
GENERATE_WORKLOAD = os.environ.get(
    "GENERATE_WORKLOAD", str(ROOT / "target/debug/generate-workload")
)
ARTIFACTS = Path(os.environ.get("ARTIFACTS", ROOT / "target/e2e/screenshots"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Bounds on every wait, so that a stuck browser fails the test instead of hanging it.
START_SECONDS = 30
LOAD_SECONDS = 30


class Page:
    """One page target of a headless Chromium, over its DevTools WebSocket."""

    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=LOAD_SECONDS, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)
        raise TimeoutError(method)

    def wait_for(self, event):
        deadline = time.monotonic() + LOAD_SECONDS
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.socket.recv()))

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']['text']}")
        return result["result"].get("value")

    def problems(self):
        """Console errors, uncaught exceptions and browser log errors, as text."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value")) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append("exception: " + params["exceptionDetails"]["text"])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append("log: " + params["entry"]["text"])
        return found


@pytest.fixture
def browser():
    """A fresh headless Chromium with its own profile, stopped after the test."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (tests/e2e/test.sh installs it)"
    profile = tempfile.mkdtemp(prefix="allot-pages-")
    process = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_SECONDS
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]

        def open_page(url):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = [t for t in json.load(r) if t["type"] == "page"]
            page = Page(targets[0]["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            page.call("Emulation.setDeviceMetricsOverride", width=1200, height=900,
                      deviceScaleFactor=1, mobile=False)
            page.call("Page.navigate", url=url)
            page.wait_for("Page.loadEventFired")
            return page

        yield open_page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page, name):
    height = min(page.evaluate("document.documentElement.scrollHeight"), 8000)
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def candidate(directory, replacements):
    """A copy of the example ruleset with some text replaced."""
    directory.mkdir()
    for source in (ROOT / "rulesets/example").glob("*.allot"):
        text = source.read_text()
        for old, new in replacements:
            text = text.replace(old, new)
        (directory / source.name).write_text(text)
    return directory


def simulate(tmp_path, candidate_dir, network, orders, name):
    report = tmp_path / f"{name}.html"
    subprocess.run(
        [ALLOT, "simulate", "--quiet", "--baseline", str(ROOT / "rulesets/example"),
         "--candidate", str(candidate_dir), "--network", str(network), "--orders", str(orders),
         "--report", str(report)],
        check=True, stdout=subprocess.DEVNULL, timeout=300,
    )
    return report


CHARTS = """JSON.stringify([...document.querySelectorAll('svg')].map(svg => {
  const box = svg.getBoundingClientRect();
  return { width: box.width, height: box.height,
           shapes: svg.querySelectorAll('rect, circle, polyline, path, line').length,
           texts: svg.querySelectorAll('text').length };
}))"""


def check_page(page, name, changed_orders):
    assert page.problems() == [], page.problems()
    requests = [e["params"]["request"]["url"] for e in page.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert all(url.startswith("file://") for url in requests), requests
    assert len(requests) == 1, requests
    charts = json.loads(page.evaluate(CHARTS))
    assert len(charts) == 3, charts
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 150, chart
        assert chart["shapes"] > 5 and chart["texts"] > 3, chart
    rows = page.evaluate("document.querySelectorAll('table.orders tbody tr').length")
    assert rows == changed_orders
    # Every changed order links to its explanations, and the link lands there.
    anchors = page.evaluate(
        "[...document.querySelectorAll('table.orders a')].map(a => a.getAttribute('href'))")
    for anchor in anchors:
        assert page.evaluate(f"!!document.querySelector('{anchor} pre')"), anchor
    path = screenshot(page, name)
    assert path.stat().st_size > 20_000


def test_example_report_renders(browser, tmp_path):
    changed = candidate(tmp_path / "candidate", [
        ("const review_value = 5_000 USD", "const review_value = 900 USD"),
        ("exclude when not node.enabled                           because",
         "exclude when not node.enabled or node.id == \"DC-NJ\"     because"),
    ])
    report = simulate(tmp_path, changed, ROOT / "rulesets/example/network.json",
                      ROOT / "rulesets/example/orders.jsonl", "example")
    page = browser(report.as_uri())
    assert page.evaluate("document.title").startswith("Allot simulation")
    summary = page.evaluate("document.querySelector('.cards').innerText")
    assert re.search(r"5 of 16", summary), summary
    check_page(page, "report-example", 5)
    # Following a link opens that order's two explained decisions.
    assert page.evaluate("document.querySelectorAll('details[open]').length") == 0
    page.evaluate("document.querySelector('table.orders a').click()")
    assert page.evaluate("document.querySelector(':target').open")
    shown = page.evaluate("document.querySelector(':target').innerText")
    assert "baseline" in shown and "candidate" in shown and "excluded" in shown, shown


def test_report_on_the_thousand_node_network_renders(browser, tmp_path):
    workload = tmp_path / "workload"
    subprocess.run([GENERATE_WORKLOAD, str(workload), "600"], check=True,
                   stderr=subprocess.DEVNULL, timeout=120)
    changed = candidate(tmp_path / "candidate", [
        ("const store_radius: distance = 300 km", "const store_radius: distance = 60 km"),
        ("const split_penalty = 4.50 USD", "const split_penalty = 9 USD"),
    ])
    report = simulate(tmp_path, changed, workload / "network.json", workload / "orders.jsonl",
                      "workload")
    page = browser(report.as_uri())
    listed = page.evaluate("document.querySelectorAll('table.orders tbody tr').length")
    assert listed == 20, "--limit 20 by default"
    node_chart = page.evaluate("document.querySelectorAll('svg')[1].querySelectorAll('text').length")
    assert node_chart >= 20
    check_page(page, "report-workload", 20)


def test_a_broken_page_is_caught(browser, tmp_path):
    """The checks above see what they claim to: a console error and a request."""
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><title>x</title>"
        "<script>console.error('drawn wrong')</script></head>"
        "<body><img src='missing.png'></body></html>")
    page = browser(page_file.as_uri())
    problems = page.problems()
    assert any("drawn wrong" in p for p in problems), problems
    requests = [e for e in page.events if e.get("method") == "Network.requestWillBeSent"]
    assert len(requests) == 2
