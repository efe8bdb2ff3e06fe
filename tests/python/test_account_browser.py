"""The person's own page, /account (issue #13), in a real browser: headless Chromium driven by
selenium.

A person connects two apps (through the consent pages, played with ``requests``), each app
exports, and then, in Chromium, the person signs in on /account with the keyboard, sees both
apps with their groups, and revokes one through the confirmation step. Afterwards that app's
access token gets 401 (E2), its refresh token ``invalid_grant`` and its download URLs 403,
while the other app keeps working. Screenshots of the pages at desktop (1280x900) and phone
(390x844) widths are saved in $DATAPORT_SCREENSHOTS (default tests/python/artifacts/, which git
ignores) and their paths printed.

Needs Debian's ``chromium`` and ``chromium-driver``; skipped without them, failed under CI=true.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
import urllib.parse
from pathlib import Path

import requests

from conftest import SCOPE_PREFIX, HeadlessUser
from test_consent_browser import (  # noqa: F401  (chromium is a fixture)
    DESKTOP,
    PHONE,
    WAIT_S,
    OVERFLOW_JS,
    assert_every_control_labelled,
    chromium,
)

SHOTS = Path(os.environ.get("DATAPORT_SCREENSHOTS") or Path(__file__).resolve().parent / "artifacts")
REDIRECT = "http://127.0.0.1:9/callback"
EXPORT_TIMEOUT_S = 60


def http() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def connect(server, client_id: str, username: str, password: str, group: str, duration: str) -> dict:
    """The person consents (a browser without JavaScript) and the app redeems the code."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = server.auth_uri + "?" + urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": SCOPE_PREFIX + group, "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256", "access_type": "offline",
    })
    back = HeadlessUser(server, username, password, duration=duration).authorize(url)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["code"]
    with http() as s:
        r = s.post(server.token_uri, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": client_id, "code_verifier": verifier,
        }, timeout=30)
    assert r.status_code == 200, r.text
    return {"client_id": client_id, **r.json()}


def export(server, access_token: str, group: str) -> tuple[str, list[str]]:
    """Initiates an export and polls it (bounded) to COMPLETE; returns the job id and its URLs."""
    with http() as s:
        s.headers["Authorization"] = f"Bearer {access_token}"
        r = s.post(f"{server.base}/v1/portabilityArchive:initiate", json={"resources": [group]}, timeout=30)
        assert r.status_code == 200, r.text
        job = r.json()["archiveJobId"]
        deadline = time.monotonic() + EXPORT_TIMEOUT_S
        while True:
            state = s.get(f"{server.base}/v1/archiveJobs/{job}/portabilityArchiveState", timeout=30).json()
            if state["state"] != "IN_PROGRESS":
                break
            assert time.monotonic() < deadline, f"job {job} still in progress after {EXPORT_TIMEOUT_S}s"
            time.sleep(0.1)
    assert state["state"] == "COMPLETE", state
    return job, state["urls"]


def refresh(server, tokens: dict) -> requests.Response:
    with http() as s:
        return s.post(server.token_uri, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": tokens["client_id"],
        }, timeout=30)


def job_state(server, access_token: str, job: str) -> requests.Response:
    with http() as s:
        return s.get(f"{server.base}/v1/archiveJobs/{job}/portabilityArchiveState",
                     headers={"Authorization": f"Bearer {access_token}"}, timeout=30)


def download_status(url: str) -> int:
    with http() as s:
        return s.get(url, timeout=30).status_code


def screenshot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    })
    path = SHOTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def desktop_and_phone(driver, name: str) -> list[Path]:
    """Screenshots at desktop and phone widths; at the phone width nothing may overflow."""
    driver.set_window_size(*DESKTOP)
    shots = [screenshot(driver, f"{name}-desktop.png")]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        m = driver.execute_script(OVERFLOW_JS)
        assert m["innerWidth"] == PHONE["width"], m
        assert m["docScrollWidth"] <= PHONE["width"] and m["bodyScrollWidth"] <= PHONE["width"], m
        assert m["offenders"] == [], m
        shots.append(screenshot(driver, f"{name}-phone.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return shots


def test_account_page_revokes_one_app_in_chromium(server, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium
    wait = WebDriverWait(driver, WAIT_S)
    username, password = server.add_user()
    photos = server.add_client("Photo Archive Importer", ["http://127.0.0.1/callback"], public=True)
    notes = server.add_client("Notes Sync", ["http://127.0.0.1/callback"], public=True)
    photo_tokens = connect(server, photos["client_id"], username, password, "myactivity.search", "one-time")
    notes_tokens = connect(server, notes["client_id"], username, password, "chrome.history", "30d")
    photo_job, photo_urls = export(server, photo_tokens["access_token"], "myactivity.search")
    notes_job, notes_urls = export(server, notes_tokens["access_token"], "chrome.history")

    # ---- sign in on /account with the keyboard
    driver.get(server.base + "/account")
    wait.until(lambda d: d.find_elements(By.ID, "password"))
    assert not driver.find_elements(By.TAG_NAME, "script"), "the pages must work without JavaScript"
    assert_every_control_labelled(driver)
    driver.find_element(By.XPATH, "//label[normalize-space()='Username']").click()
    field = driver.switch_to.active_element
    assert field.get_attribute("id") == "username"
    field.send_keys(username, Keys.TAB)
    field = driver.switch_to.active_element
    assert field.get_attribute("id") == "password"
    field.send_keys(password, Keys.ENTER)

    # ---- two connected apps with their groups, and their exports
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "article.app"))
    apps = driver.find_elements(By.CSS_SELECTOR, "article.app")
    assert len(apps) == 2, [a.text for a in apps]
    texts = {a.find_element(By.TAG_NAME, "h3").text: a.text for a in apps}
    assert set(texts) == {"Photo Archive Importer", "Notes Sync"}, texts
    assert "One time" in texts["Photo Archive Importer"] and "Already exported" in texts["Photo Archive Importer"]
    assert "Time-based" in texts["Notes Sync"] and "Next export allowed" in texts["Notes Sync"]
    body = driver.find_element(By.TAG_NAME, "body").text
    assert photo_job in body and notes_job in body, body
    assert username in body
    assert not driver.find_elements(By.TAG_NAME, "script")
    shots = desktop_and_phone(driver, "account")

    # ---- revoke Photo Archive Importer through the confirmation step
    revoke = driver.find_element(By.CSS_SELECTOR, f"a[href='/account/apps/{photos['client_id']}/revoke']")
    revoke.click()
    wait.until(lambda d: d.find_elements(By.ID, "confirm-revoke"))
    assert "Photo Archive Importer" in driver.find_element(By.TAG_NAME, "h1").text
    assert_every_control_labelled(driver)
    shots += desktop_and_phone(driver, "account-revoke")
    # Keyboard: focus the confirm button and press Enter.
    button = driver.find_element(By.ID, "confirm-revoke")
    driver.execute_cdp_cmd("Runtime.evaluate", {"expression": "document.getElementById('confirm-revoke').focus()"})
    assert driver.switch_to.active_element == button
    button.send_keys(Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.ID, "notice"))
    apps = driver.find_elements(By.CSS_SELECTOR, "article.app")
    assert [a.find_element(By.TAG_NAME, "h3").text for a in apps] == ["Notes Sync"]
    shots += desktop_and_phone(driver, "account-revoked")

    # ---- the activity page
    driver.get(server.base + "/account/activity")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "li.entry"))
    assert "You revoked access" in driver.find_element(By.TAG_NAME, "body").text
    shots += desktop_and_phone(driver, "account-activity")
    print("\naccount page screenshots:\n" + "\n".join(str(p) for p in shots))

    # ---- the revoked app lost access; the other did not
    r = job_state(server, photo_tokens["access_token"], photo_job)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_INVALID", r.text
    r = refresh(server, photo_tokens)
    assert (r.status_code, r.json().get("error")) == (400, "invalid_grant"), r.text
    assert all(download_status(u) == 403 for u in photo_urls)

    assert job_state(server, notes_tokens["access_token"], notes_job).status_code == 200
    assert all(download_status(u) == 200 for u in notes_urls)
    r = refresh(server, notes_tokens)
    assert r.status_code == 200, r.text

    revoked = [e for e in server.audit() if e["event"] == "authorization.revoked"]
    assert len(revoked) == 1 and revoked[0]["client_id"] == photos["client_id"], revoked
    assert revoked[0]["detail"] == {"by": "user"}, revoked
