"""Drive ``titans-ts dashboard`` in a real headless browser (Debian's chromium and chromium-driver, through selenium):
open it, click through every page like a user, wait for each page's charts and texts, save a screenshot per page,
and collect what went wrong (Python exceptions shown on the page, errors in the browser console, missing elements).

Also a script, for the README's screenshots of a store made by the quick runs:

    python tests/dashboard_browser.py --tracking-uri sqlite:///mlflow.db --out docs/screenshots
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port, served
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait


@dataclass(frozen=True)
class Page:
    """A page of the dashboard: its navigation link, how many charts it must show, texts it must contain."""

    link: str
    slug: str
    charts: int
    texts: tuple[str, ...]


PAGES = (
    Page("Run comparison", "runs", 1, ("Run comparison", "Dashed lines: the paper")),
    Page("Forecast explorer", "forecasts", 2, ("Forecast explorer", "Error over the test period")),
    Page("Memory", "memory", 1, ("surprise and gates", "θ (learning rate)")),
    Page("Genomics", "genomics", 1, ("test MCC", "precision")),
)


def browser_paths() -> tuple[str, str] | None:
    """Paths of chromium and chromedriver, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def dashboard(tracking_uri: str, log: Path) -> Iterator[str]:
    """``titans-ts dashboard`` on a free port for the ``with`` block; yields its URL once it answers."""
    port = free_port()
    argv = [sys.executable, "-m", "pipelines", "dashboard", "--port", str(port), "--tracking-uri", tracking_uri]
    with served(argv, f"http://127.0.0.1:{port}", "/_stcore/health", log) as url:
        yield url


def nav_link(driver: webdriver.Chrome, text: str) -> WebElement | None:
    """The sidebar's navigation link that reads ``text``."""
    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
    return next((link for link in links if link.text.strip() == text), None)


def visit(url: str, screenshots: Path, pages: tuple[Page, ...] = PAGES, timeout: float = 90) -> dict[str, list[str]]:
    """Open ``url``, click every page's link, wait for its charts and texts, save ``<slug>.png`` in ``screenshots``;
    the problems found on each page (empty lists when all is well)."""
    paths = browser_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1500"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    screenshots.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    try:
        driver.get(url)
        for page in pages:
            found: list[str] = []
            WebDriverWait(driver, timeout).until(lambda d, link=page.link: nav_link(d, link))
            nav_link(driver, page.link).click()

            def ready(d: webdriver.Chrome, page: Page = page) -> bool:
                body = d.find_element(By.TAG_NAME, "body").text
                charts = d.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')
                errors = d.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
                return bool(errors) or (len(charts) >= page.charts and all(t in body for t in page.texts))

            try:
                WebDriverWait(driver, timeout).until(ready)
                time.sleep(1.5)  # let the charts draw before the screenshot
            except TimeoutException:
                body = driver.find_element(By.TAG_NAME, "body").text
                found.append(f"timed out waiting for {page.charts} charts and {page.texts}; the page shows: {body!r}")
            found += [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')]
            found += [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            driver.save_screenshot(str(screenshots / f"{page.slug}.png"))
            problems[page.link] = found
    finally:
        driver.quit()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description="Screenshots of every dashboard page.")
    parser.add_argument("--tracking-uri", required=True, help="MLflow store the dashboard reads")
    parser.add_argument("--out", type=Path, required=True, help="folder for <page>.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs, dashboard(args.tracking_uri, Path(logs) / "dashboard.log") as url:
        problems = visit(url, args.out)
    for page, found in problems.items():
        print(f"{page}: {'ok' if not found else found}")
    for png in args.out.glob("*.png"):  # 256 colours: a third of the size, no visible loss for charts
        Image.open(png).convert("RGB").quantize(256).save(png, optimize=True)
    return int(any(problems.values()))


if __name__ == "__main__":
    sys.exit(main())
