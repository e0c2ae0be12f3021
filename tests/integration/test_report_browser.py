"""The comparison report in a real browser: headless Chromium opens the file, no console errors,
every figure drew (plotly's SVG with data), and a screenshot is saved.

Needs Debian's ``chromium`` + ``chromium-driver`` and ``selenium`` (``make test`` installs them
where it can); skips with the reason where they are missing.
"""

from __future__ import annotations

import shutil

import pytest

import interp
from interp.compare import PROFILES, compare_mechanisms

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _driver():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("no chromium / chromedriver on PATH (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,4000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def open_report(path, screenshot):
    """Open `path` in headless Chromium; return (severe console messages, per-figure trace counts)."""
    driver = _driver()
    try:
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(path.resolve().as_uri())
        # the report inlines ~4.5 MB of plotly.js: wait (up to 60 s) until every figure has its SVG
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "const f = document.querySelectorAll('.figure');"
            "return f.length > 0 && Array.from(f).every(x => x.querySelector('svg.main-svg'));"))
        counts = driver.execute_script(
            "return Array.from(document.querySelectorAll('.figure .plotly-graph-div')).map("
            "d => (d.data || []).length + ':' + d.querySelectorAll('svg.main-svg').length)")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.save_screenshot(str(screenshot))
        return errors, counts
    finally:
        driver.quit()


def test_report_draws_every_figure_in_chromium(tiny_model, tmp_path):
    records = interp.load_dataset("organism", split="test")[:14]
    PROFILES[tiny_model.cfg.model_name] = {
        "methods": {m: {"steps": 2, "batch_size": 2} for m in ("sft", "dpo", "vaccine")} | {"dinm": {"steps": 2}},
        "attack": {"steps": 2, "n_samples": 6, "harmful_ratio": 0.5, "batch_size": 2}, "keys": {"k": 2},
        "n_eval": 4, "n_benign": 4, "probe_records": None, "max_new_tokens": 4, "layer_sweep": False}
    try:
        result = compare_mechanisms(tiny_model, dataset=records, n_instances=2, progress=False)
    finally:
        del PROFILES[tiny_model.cfg.model_name]
    result.samples["sft"] = [("hi", "<script>console.error('injected')</script>")]
    path = result.to_html(tmp_path / "report.html")
    errors, counts = open_report(path, tmp_path / "report.png")
    assert not errors, errors
    assert len(counts) == len(result.figures) >= 6
    for c in counts:
        traces, svgs = (int(x) for x in c.split(":"))
        assert traces >= 1 and svgs >= 1, counts
    assert (tmp_path / "report.png").stat().st_size > 10_000
