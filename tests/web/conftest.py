"""End-to-end fixtures for the web pages: `timeledger serve --demo` in a subprocess on 127.0.0.1
(port 0: the server binds, then names its port) over a small demo region of a pinned year on a
pinned clock (DEMO_YEAR, CLOCK_START: the pages do not depend on today's date), headless Chromium (Debian's package) driven by Playwright,
and a JSON-API client that looks facts up as the region administrator.

Without /usr/bin/chromium (or Playwright) the web tests are skipped, except in CI (CI=true),
where .ci/apt-packages.txt installs Chromium and a missing browser is a failure.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("TIMELEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEMO_MEMBERS = 30
DEMO_YEAR = 2026
CLOCK_START = "2026-12-01T02:00:00+00:00"  # 10:00 on 1 December in China: the demo year is nearly over
LISTENING = re.compile(rb"^listening on (http://127\.0\.0\.1:\d+)$", re.MULTILINE)
SERVER_START_SECONDS = 90
DESKTOP = {"width": 1280, "height": 860}
NOT_IN_DOCS = {"member", "audit", "member-certificate-page", "community-queue-page", "member-consents",
               "counter"}  # the same pages with more on them are shot by the flow tests
PHONE = {"width": 390, "height": 844}


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401 - is playwright installed?
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


def _save_small(source: Path, target: Path) -> None:
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with reportlab; without it, copy as is
        shutil.copyfile(source, target)
        return
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                      dither=Image.Dither.NONE).save(target, optimize=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str
    actor_id: str
    label: str


@dataclass
class Server:
    base: str
    logins: list[Login]
    admin_token: str
    root_public_key: str
    home: Path  # the server's folder: its database, logins, and the province root's private key (root.key)

    def login_of(self, role: str, actor_id: str | None = None) -> Login:
        for login in self.logins:
            if login.role == role and (actor_id is None or login.actor_id == actor_id):
                return login
        raise LookupError(f"no {role} login for {actor_id}")

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON API as the region administrator (facts for the assertions, not the pages' path)."""
        response = httpx.request(method, self.base + path, headers={"Authorization": f"Bearer {self.admin_token}"},
                                 timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def balance_minutes(self, member_id: str) -> int:
        return int(self.api("GET", f"/v1/members/{member_id}/balance")["balance_minutes"])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    missing = _browser_missing()
    if missing is not None:
        if _in_ci():
            pytest.fail(f"the web tests need a browser in CI (.ci/apt-packages.txt): {missing}")
        pytest.skip(missing)
    home = tmp_path_factory.mktemp("web-server")
    env = dict(os.environ)
    env.update({"TIMELEDGER_MASTER_KEY_FILE": str(home / "master.key"), "TIMELEDGER_CLOCK_START": CLOCK_START,
                # cheap password hashing for the 76 demo logins (the settings refuse it in production)
                "TIMELEDGER_ARGON2_TIME_COST": "1", "TIMELEDGER_ARGON2_MEMORY_KIB": "64"})
    env.pop("TIMELEDGER_DATABASE_URL", None)
    logins_file = home / "logins.csv"
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--demo",
               "--demo-members", str(DEMO_MEMBERS), "--year", str(DEMO_YEAR), "--db", f"sqlite:///{home / 'web.db'}", "--logins-out",
               str(logins_file), "--root-key-out", str(home / "root.key"), "--host", "127.0.0.1", "--port", "0", "--no-access-log",
               "--log-level", "warning"]
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    base = ""
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError("timeledger serve exited: " + (home / "server.log").read_text()[-2000:])
            if not base and (found := LISTENING.search((home / "server.log").read_bytes())):
                base = found.group(1).decode()
            try:
                if base and httpx.get(base + "/healthz", timeout=1).status_code == 200 and logins_file.exists():
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("timeledger serve did not start: " + (home / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        with logins_file.open(encoding="utf-8") as handle:
            logins = [Login(**row) for row in csv.DictReader(handle)]
        admin = next(login for login in logins if login.role == "region")
        token = httpx.post(base + "/v1/auth/token", data={"username": admin.username, "password": admin.password},
                           timeout=30).json()["access_token"]
        root = httpx.get(base + "/v1/region", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        yield Server(base=base, logins=logins, admin_token=token, root_public_key=root["root_public_key"],
                     home=home)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Pages:
    """Browser contexts (one per person at a screen), with sign-in and console-error checks."""

    def __init__(self, browser: Any, server: Server, shots: Path) -> None:
        self.browser = browser
        self.server = server
        self.shots = shots
        self.contexts: list[Any] = []
        self.problems: list[str] = []
        self.expected: list[str] = ["status of 409", "net::ERR_"]  # a refused redemption; a cut connection

    def open(self, login: Login, *, viewport: dict[str, int] | None = None, start: str | None = None,
             base: str | None = None) -> Any:
        """A signed-in page of the demo server (or of the server at `base`, e.g. a second region's)."""
        context = self.browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN", accept_downloads=True)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"{login.role}: page error {error}"))
        page.on("console", lambda message: self._console(login, message))
        page.goto((base or self.server.base) + "/login" + (f"?next={start}" if start else ""))
        page.fill("#username", login.username)
        page.fill("#password", login.password)
        page.click("main form button[type=submit]")
        page.wait_for_load_state("domcontentloaded")
        assert "/login" not in page.url, f"sign-in failed for {login.role}"
        return page

    def _console(self, login: Login, message: Any) -> None:
        text = message.text
        if message.type == "error" and not any(expected in text for expected in self.expected):
            self.problems.append(f"{login.role}: console {text}")

    def shot(self, page: Any, name: str, *, full_page: bool = True) -> None:
        """A screenshot in the test's folder and, with TIMELEDGER_WEB_SCREENSHOTS=docs/screenshots, there
        too (palette PNG: a tenth of the bytes, text stays sharp)."""
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        target = os.environ.get("TIMELEDGER_WEB_SCREENSHOTS")
        if target and name not in NOT_IN_DOCS:
            Path(target).mkdir(parents=True, exist_ok=True)
            _save_small(path, Path(target) / path.name)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, server: Server, tmp_path: Path) -> Iterator[Pages]:
    made = Pages(browser, server, tmp_path)
    try:
        yield made
    finally:
        made.close()
    assert not made.problems, made.problems
