"""Fixtures for the end-to-end tests: the built site served on 127.0.0.1, a real
Chromium driven by Playwright, and guards that fail a test on any console error,
CSP violation or request to a host other than the local one."""
import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
READY_TIMEOUT_MS = 45_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


class StaticServer:
    """Python's http.server over a folder, in a thread (nginx has its own fixture).
    The page benchmark passes a QuietHandler subclass that also serves its own pages."""

    def __init__(self, directory: Path, handler_class=QuietHandler):
        handler = functools.partial(handler_class, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built site; `make test` builds it first, this builds it when run alone."""
    if not (DIST / "index.html").is_file():
        subprocess.run([sys.executable, str(ROOT / "build.py"), "build"], check=True, cwd=ROOT)
    return DIST


@pytest.fixture(scope="session")
def server(site_dir):
    srv = StaticServer(site_dir)
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    kwargs = {"args": CHROMIUM_ARGS}
    if os.path.exists(CHROMIUM):
        kwargs["executable_path"] = CHROMIUM
    browser = playwright_instance.chromium.launch(**kwargs)
    yield browser
    browser.close()


class PageGuard:
    """Collects what must not happen: console errors, page errors, CSP violations, outside requests."""

    def __init__(self, context, page):
        self.console_errors: list[str] = []
        self.warnings: list[str] = []
        self.page_errors: list[str] = []
        self.outside: list[str] = []
        self.requests: list[str] = []
        self.allowed_errors: list[str] = []  # substrings a fault-injection test expects
        context.on("request", self._on_request)
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        page.on("worker", lambda worker: worker.on("console", self._on_console))

    def _on_request(self, request):
        self.requests.append(request.url)
        host = urlparse(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in LOCAL_HOSTS:
            self.outside.append(request.url)

    def _on_console(self, msg):
        if msg.type == "error":
            self.console_errors.append(msg.text)
        elif msg.type == "warning":
            self.warnings.append(msg.text)

    def unexpected_errors(self) -> list[str]:
        errors = self.console_errors + [f"pageerror: {e}" for e in self.page_errors]
        return [e for e in errors if not any(a in e for a in self.allowed_errors)]

    def csp_violations(self) -> list[str]:
        return [e for e in self.console_errors + self.warnings if "Content Security Policy" in e]


def _block_outside(route):
    host = urlparse(route.request.url).hostname
    if host in LOCAL_HOSTS or not route.request.url.startswith(("http", "ws")):
        route.fallback()
    else:
        route.abort()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    ctx.route("**/*", _block_outside)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    """A fresh page whose guard is checked after the test."""
    pg = context.new_page()
    guard = PageGuard(context, pg)
    pg.guard = guard
    # Records violations in the page too (the test can read window.__cspViolations).
    pg.add_init_script("""
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation',
        e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
    """)
    yield pg
    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
    assert guard.csp_violations() == [], f"CSP violations: {guard.csp_violations()}"
    assert guard.unexpected_errors() == [], f"console/page errors: {guard.unexpected_errors()}"


def wait_ready(page, timeout=READY_TIMEOUT_MS):
    """Wait until the engine status says ready (or fail with what it says instead)."""
    status = page.locator("[data-engine-status]").first
    page.locator("[data-engine-status][data-state=ready], [data-engine-status][data-state=failed]").first.wait_for(
        timeout=timeout)
    text = status.text_content()
    assert status.get_attribute("data-state") == "ready", text
    return text


def figure_data(page, element_id):
    """The numbers Plotly is showing: trace 0's z, read from the figure element itself."""
    return page.evaluate("id => { const el = document.getElementById(id); "
                         "return el && el.data ? el.data[0].z : null; }", element_id)


def wait_source(page, element_id, source="pyodide", timeout=30_000):
    page.locator(f"#{element_id}[data-source={source}]").wait_for(state="attached", timeout=timeout)


def eventually(check, timeout_s=30.0, interval_s=0.1):
    """Retry ``check`` (which raises AssertionError, or returns falsy) until it passes.
    The page draws asynchronously (Plotly loads late, figures draw one per task)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result is not None and result is not False:
                return result
            error = AssertionError("condition still false")
        except (AssertionError, TypeError, ValueError) as exc:
            error = exc
        if time.monotonic() > deadline:
            raise error
        time.sleep(interval_s)


def figure_matches(page, element_id, want, tol):
    """Wait until the figure's z equals ``want`` within ``tol``; returns the z."""
    import engine_reference as ref

    def check():
        z = figure_data(page, element_id)
        assert z is not None, f"{element_id} is not drawn yet"
        assert ref.max_abs_diff(z, want) < tol, f"{element_id} differs"
        return z
    return eventually(check)


def scroll_to(page, selector, tries=20):
    """Scroll an element into view and keep it there while the content above it renders:
    below the first screen the page lays sections out only when they come near
    (content-visibility), so a section's real height replaces its estimate as it passes."""
    locator = page.locator(selector).first
    last = None
    for _ in range(tries):
        locator.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(100)
        top = locator.evaluate("e => Math.round(e.getBoundingClientRect().top)")
        if top == last:
            return
        last = top
