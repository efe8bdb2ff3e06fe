"""Refresh tokens that behave like Google's (SPEC §10.3, issue #23).

An app written for Google stores a refresh token once — a scheduled export job keeps it as a
secret — and builds ``google.oauth2.credentials.Credentials(None, refresh_token=…,
token_uri=…, client_id=…, client_secret=…)`` from it on every run. Google does not rotate a
confidential client's refresh token, so every run refreshes with the same one. Here two runs, in
two separate processes one after the other, refresh with the one stored token through
google-auth, and both access tokens work.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import requests

from conftest import HeadlessUser
from test_oauth_installed_app import installed_config, run_installed_app_flow, scopes

# One run of the integrator's job: credentials from the stored secret, one refresh, the access
# token on stdout. Only google-auth, as an app would have it.
JOB = textwrap.dedent("""
    import json, sys
    import google.auth.transport.requests
    import google.oauth2.credentials

    stored = json.load(sys.stdin)
    creds = google.oauth2.credentials.Credentials(
        None, refresh_token=stored["refresh_token"], token_uri=stored["token_uri"],
        client_id=stored["client_id"], client_secret=stored["client_secret"],
    )
    creds.refresh(google.auth.transport.requests.Request())
    print(json.dumps({"token": creds.token, "refresh_token": creds.refresh_token}))
""")


@pytest.fixture(autouse=True)
def _oauthlib_allows_loopback_http(monkeypatch):
    # As in test_oauth_installed_app: oauthlib refuses http:// endpoints unless told otherwise;
    # everything here is on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def run_job(stored: dict) -> dict:
    """Runs the job in a process of its own; returns what it printed."""
    out = subprocess.run([sys.executable, "-c", JOB], input=json.dumps(stored), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_stored_refresh_token_refreshes_in_two_separate_processes(server):
    client = server.add_client("Scheduled export job", ["http://localhost/"])
    username, password = server.add_user()
    _, creds, _ = run_installed_app_flow(
        server, installed_config(server, client["client_id"], client["client_secret"]),
        scopes("myactivity.search"), HeadlessUser(server, username, password),
    )
    stored = {"refresh_token": creds.refresh_token, "token_uri": server.token_uri,
              "client_id": client["client_id"], "client_secret": client["client_secret"]}

    runs = [run_job(stored), run_job(stored)]
    assert runs[0]["token"] != runs[1]["token"]
    # Google's answer to a refresh carries no new refresh token: google-auth keeps the stored one.
    assert all(run["refresh_token"] == stored["refresh_token"] for run in runs), runs
    with requests.Session() as s:
        s.trust_env = False
        for run in runs:
            r = s.post(f"{server.base}/v1/accessType:check", json={},
                       headers={"Authorization": f"Bearer {run['token']}"}, timeout=30)
            assert r.status_code == 200, r.text
            assert r.json() == {"oneTimeResources": ["myactivity.search"]}, r.text

    refreshed = [e for e in server.audit()
                 if e.get("client_id") == client["client_id"] and e["event"] == "token.refreshed"]
    assert len(refreshed) == 2, refreshed
