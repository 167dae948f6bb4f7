"""The dashboard in a real browser: every section renders with no console error, hovering a run
shows its mixture, and a run that lands after the page loaded appears without a reload."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from tests.report.browser import chromium, console_errors
from tests.report.conftest import add_runs

pytestmark = pytest.mark.slow
WAIT_S = 120  # hang guard only


@pytest.fixture
def dashboard(page_study, tmp_path):
    """`mixsearch dashboard` on a free loopback port; yields (study, URL)."""
    study, path = page_study
    proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "dashboard", str(path), "--port", "0",
                             "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if m := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
                break
        else:
            raise AssertionError("".join(lines))
        assert "ssh -N -L" in proc.stderr.readline()
        yield study, f"http://127.0.0.1:{m.group(1)}/"
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT_S)


def test_the_dashboard_renders_hovers_and_updates_live(dashboard, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    study, url = dashboard
    names = study.recipe.domain_names
    with chromium() as driver:
        driver.get(url)
        # the live page replaces its sections when the study changes: what a wait reads may go stale
        wait = WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException])
        figs = driver.find_elements(By.CSS_SELECTOR, "div.fig")
        assert {f.get_attribute("id") for f in figs} >= {"fig-weights", "fig-by-weight", "fig-history", "fig-fit"}
        wait.until(lambda d: all(f.find_elements(By.CSS_SELECTOR, ".main-svg") for f in figs))
        titles = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "section h2")]
        assert titles == ["Recommendation", "Objective against each domain's weight", "Search history", "Surrogate",
                          "Runs", "Recipe, data and versions"]
        assert console_errors(driver) == []

        history = driver.find_element(By.ID, "fig-history")
        point = history.find_elements(By.CSS_SELECTOR, ".scatterlayer .points path")[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", history)
        ActionChains(driver).move_to_element(point).perform()
        label = wait.until(lambda d: "".join(t.text for t in history.find_elements(By.CSS_SELECTOR, ".hovertext")))
        assert label.startswith("run ") and all(f"{n}: 0." in label or f"{n}: 1." in label for n in names)

        table = driver.find_element(By.ID, "table-runs")
        assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 24
        heads = [th.text for th in table.find_elements(By.CSS_SELECTOR, "th")]
        driver.execute_script("arguments[0].scrollIntoView()", table)
        table.find_elements(By.CSS_SELECTOR, "th")[heads.index("objective")].click()  # sort: lowest first
        driver.find_element(By.CSS_SELECTOR, "input.filter").send_keys("import")  # every run matches
        ids = add_runs(study, tmp_path, np.array([[0.25, 0.25, 0.5]]), [3.4], "landed")  # the worst run

        def landed(d) -> tuple[list[list[str]], str] | None:
            """The runs table's cells and the filter's text, read from one build of the page."""
            rows = [[td.text for td in r.find_elements(By.TAG_NAME, "td")]
                    for r in d.find_elements(By.CSS_SELECTOR, "#table-runs tbody tr")]
            filtered = d.find_element(By.CSS_SELECTOR, "input.filter").get_attribute("value")
            return (rows, filtered) if any(row[0].startswith(ids[0][:12]) for row in rows) else None

        rows, filtered = wait.until(landed)
        assert len(rows) == 25 and rows[-1][0].startswith(ids[0][:12])  # still sorted by objective
        objective = [float(r[heads.index("objective")]) for r in rows]
        assert objective == sorted(objective)
        assert filtered == "import"
        wait.until(lambda d: all(f.find_elements(By.CSS_SELECTOR, ".main-svg")
                                 for f in d.find_elements(By.CSS_SELECTOR, "div.fig")))
        assert console_errors(driver) == []


def test_the_report_file_renders_offline_and_wide_tables_scroll_in_their_box(page_study, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from mixsearch.report.html import write_report

    study, path = page_study
    page = write_report(study, tmp_path / "report.html", str(path))
    with chromium(width=700) as driver:  # narrower than the runs table
        driver.get(page.as_uri())
        figs = driver.find_elements(By.CSS_SELECTOR, "div.fig")
        assert len(figs) >= 4
        WebDriverWait(driver, WAIT_S).until(lambda d: all(f.find_elements(By.CSS_SELECTOR, ".main-svg") for f in figs))
        assert console_errors(driver) == []
        box = driver.find_element(By.CSS_SELECTOR, "#runs .scroll")
        assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", box)
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
