"""`exgate decode FILE --html out.html`: the self-contained report (gateway/replay/html.py).

The structure is checked with lxml; then the page is opened in a real headless Chromium (Debian's
chromium and chromedriver, driven by Selenium, both installed by .ci/install.sh) and its exchanges are
expanded by clicking, by the open-all button, and filtered."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import html as lhtml

from gateway import cli
from gateway.replay.html import hexdump
from tests.stacks import needs_installed

ROOT = Path(__file__).resolve().parents[2]
RULER = ROOT / "captures" / "ruler-mapihttp.pcap"
OUTLOOK = ROOT / "captures" / "zeek-outlook2003-exchange-mapi.pcap"


def test_hexdump():
    assert hexdump("fe0c0001" * 5) == ("000000  fe 0c 00 01 fe 0c 00 01 fe 0c 00 01 fe 0c 00 01  ................\n"
                                       "000010  fe 0c 00 01                                      ....")
    assert hexdump("41424344... (9000 bytes)").endswith("ABCD\n... (9000 bytes)")


def _report(tmp_path, capture, *extra) -> Path:
    out = tmp_path / "report.html"
    cli.main(["decode", str(capture), "--html", str(out), *extra])
    return out


def test_report_structure(tmp_path, capsys):
    out = _report(tmp_path, RULER)
    assert "wrote" in capsys.readouterr().out
    page = out.read_text()
    assert "<script src" not in page and "<link" not in page and "http://" not in page.split("<body>")[0]
    doc = lhtml.fromstring(page)
    details = doc.xpath("//details[@class='ex']")
    assert len(details) == 46
    assert len(doc.xpath("//div[@class='timeline']/a")) == 46
    first_execute = next(d for d in details if "Execute" in d.xpath("string(summary)"))
    text = first_execute.text_content()
    assert "RopLogon" in text and "request bytes" in text and "000000  fe 0c 00 01" in text
    assert doc.xpath("//div[@class='problems']//li")          # the reassembly notes are listed
    # a DCE/RPC capture: calls and binds, filtered to one ROP
    out = _report(tmp_path, OUTLOOK, "--rop", "RopLogon")
    doc = lhtml.fromstring(out.read_text())
    (only,) = doc.xpath("//details[@class='ex']")
    assert "EcDoRpc" in only.xpath("string(summary)") and "RopLogon" in only.text_content()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


_missing = None
try:
    import selenium  # noqa: F401
except ImportError:
    _missing = "the selenium package"
if _missing is None and not (_chromium() and shutil.which("chromedriver")):
    _missing = "chromium and chromedriver"


@needs_installed(_missing, "a headless browser")
def test_report_opens_in_a_headless_browser_and_its_exchanges_expand(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    out = _report(tmp_path, OUTLOOK)
    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get(out.as_uri())
        items = driver.find_elements(By.CSS_SELECTOR, "details.ex")
        assert len(items) == 189 and not any(d.get_attribute("open") for d in items)
        call = next(d for d in items if "EcDoConnect" in d.find_element(By.TAG_NAME, "summary").text)
        inner = call.find_element(By.CSS_SELECTOR, "pre")
        assert not inner.is_displayed()
        call.find_element(By.TAG_NAME, "summary").click()
        assert call.get_attribute("open") is not None and inner.is_displayed()
        assert "Allison Leonard" in call.text
        driver.find_element(By.ID, "open-all").click()
        assert all(d.get_attribute("open") is not None for d in items)
        logon = next(d for d in items if "RopLogon" in d.text)
        assert "request bytes" in logon.text and "fe" in logon.find_element(By.CSS_SELECTOR, "pre.hex").text
        driver.find_element(By.ID, "close-all").click()
        assert not any(d.get_attribute("open") for d in items)
        box = driver.find_element(By.ID, "filter")
        box.send_keys("NspiBind")
        visible = [d for d in items if d.is_displayed()]
        assert len(visible) == 2 and all("NspiBind" in d.text for d in visible)
        marks = driver.find_elements(By.CSS_SELECTOR, ".timeline a")
        assert len(marks) == 189
    finally:
        driver.quit()
