"""The demo kiosk page in a real browser: Debian's chromium driven by chromedriver (selenium),
against `sscard serve` on a private pcscd with the emulator in vpcd.  Nothing is downloaded:
the system chromium and chromedriver are named explicitly."""

from __future__ import annotations

from service_stack import require_service_dependencies

require_service_dependencies()

import http.server  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402
from service_stack import Service, Slots  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 20  # seconds for the page to reflect a card change (an upper bound, not a timing test)


def require_browser() -> None:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium and chromium-driver (.ci/setup.sh --test)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    try:
        import selenium  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install selenium (the test extra)")
        pytest.skip("selenium is not installed")


@pytest.fixture(scope="module", autouse=True)
def _browser_installed():
    """Skip (or fail on CI) before the module's pcscd is started (autouse runs first)."""
    require_browser()


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    profile = tempfile.mkdtemp(prefix="sscard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def slots(daemon):
    s = Slots(daemon)
    yield s
    s.remove_all()


class PageServer:
    """A plain static server on another loopback port: a page from an origin the service has
    not been told about (or has, for the control case)."""

    def __init__(self, html: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="sscard-page-")
        with open(os.path.join(self.dir, "index.html"), "w", encoding="utf-8") as f:
            f.write(html)
        directory = self.dir

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=directory, **kw)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


PROBE = """<!doctype html><meta charset="utf-8"><title>probe</title><pre id="out"></pre>
<script>
const service = "127.0.0.1:%d";
const out = {};
const done = () => { document.getElementById("out").textContent = JSON.stringify(out); };
const finish = (key, value) => { out[key] = value; if (Object.keys(out).length === 3) done(); };
fetch(`http://${service}/v1/identity`).then(r => r.json())
  .then(b => finish("fetch", b.holder ? "read:" + b.holder.name : "answer:" + JSON.stringify(b)))
  .catch(e => finish("fetch", "blocked"));
const ws = new WebSocket(`ws://${service}/`);
ws.onopen = () => ws.send(JSON.stringify({function: "iReadCardBas", iType: 3}));
ws.onmessage = (e) => { finish("ws", "read:" + JSON.parse(e.data).pOutInfo); ws.close(); };
ws.onerror = () => finish("ws", "blocked");
const es = new EventSource(`http://${service}/v1/events`);
es.addEventListener("state", () => { finish("events", "open"); es.close(); });
es.onerror = () => { finish("events", "blocked"); es.close(); };
</script>"""


def wait_for(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(
        lambda d: condition(d), message=what
    )


def text(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def card_shown(driver) -> bool:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "card").is_displayed()


def test_insertion_shows_the_card_reveal_toggles_removal_clears(daemon, browser, slots):
    from selenium.webdriver.common.by import By

    service = Service(daemon).start()
    try:
        browser.get(f"{service.base}/kiosk/")
        wait_for(browser, lambda d: "读卡服务已连接" in text(d, "status"), "connected")
        assert not card_shown(browser)
        readers = browser.find_elements(By.CSS_SELECTOR, "#readers li")
        assert [r.get_attribute("data-card") for r in readers] == ["no", "no"]

        slots.insert("gen2")
        wait_for(browser, lambda d: card_shown(d) and text(d, "name") == "测**", "card shown")
        assert text(browser, "ssn").count("*") >= 8  # masked by default
        assert "已读取社会保障卡" in text(browser, "message")
        assert (
            browser.find_element(By.CSS_SELECTOR, "#readers li").get_attribute("data-card") == "yes"
        )

        browser.find_element(By.ID, "reveal").click()
        wait_for(browser, lambda d: text(d, "name") == "测试甲", "revealed")
        assert "*" not in text(browser, "ssn")

        slots.remove(0)
        wait_for(browser, lambda d: not card_shown(d), "card cleared")
        assert text(browser, "name") == "" and "请插入" in text(browser, "message")

        slots.insert("gen3", slot=1)  # generation 3 without keys: holder data locked
        wait_for(
            browser,
            lambda d: card_shown(d) and "需认证" in text(d, "card-state"),
            "locked card shown",
        )
        assert text(browser, "name") == "—"
        slots.remove(1)
        wait_for(browser, lambda d: not card_shown(d), "card cleared")
    finally:
        assert service.stop() == 0
        service.cleanup()


def probe(browser, page: PageServer) -> dict:
    import json

    browser.get(f"{page.origin}/index.html")
    wait_for(browser, lambda d: text(d, "out") != "", "probe finished")
    return json.loads(text(browser, "out"))


def test_a_loopback_page_that_is_not_allowed_reads_nothing(daemon, browser, slots):
    slots.insert("gen2")
    service = Service(daemon).start()
    page = PageServer(PROBE % service.port)
    try:
        assert probe(browser, page) == {"fetch": "blocked", "ws": "blocked", "events": "blocked"}
        log = service.log()
        assert f"refused GET /v1/identity: Origin {page.origin} not allowed" in log
        assert f"refused WEBSOCKET /: Origin {page.origin} not allowed" in log
        assert "compat iReadCardBas" not in log and "identity read" not in log
    finally:
        page.close()
        assert service.stop() == 0
        service.cleanup()


def test_the_same_page_on_an_allowed_origin_reads(daemon, browser, slots):
    """The control: the probe can tell; with --allow-origin the same page gets the card."""
    slots.insert("gen2")
    page = PageServer("")
    service = Service(daemon, "--allow-origin", page.origin).start()
    with open(os.path.join(page.dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(PROBE % service.port)
    try:
        result = probe(browser, page)
        assert result["fetch"] == "read:测试甲" and result["events"] == "open"
        assert result["ws"].startswith("read:") and "|测试甲|" in result["ws"]
    finally:
        page.close()
        assert service.stop() == 0
        service.cleanup()
