"""Google's installed-app OAuth flow against dataport's own authorization server (SPEC §10).

An app written from Google's quickstarts gets its credentials with
``google_auth_oauthlib.flow.InstalledAppFlow.run_local_server()``: the library starts a
loopback HTTP server, opens the authorization URL in the user's browser and exchanges the
code it receives at ``token_uri``.  Here the client configuration points ``auth_uri`` and
``token_uri`` at dataportd, and the browser is a ``webbrowser`` controller that signs in and
answers the consent page with ``requests`` (conftest.HeadlessUser) in a thread, then follows
the final redirect to the flow's loopback server, as a browser would.

The credentials the flow returns then drive google-api-python-client (discovery from the
server) through initiate → COMPLETE → download, and — on a server whose access tokens live
SHORT_ACCESS_TOKEN_S seconds — refresh themselves against /token.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import webbrowser

import pytest
import requests

from conftest import (
    DEMO_CLIENT, DEMO_PASSWORD, DEMO_USER, SCOPE_PREFIX, SHORT_ACCESS_TOKEN_S, HeadlessUser,
)
from test_google_client import check_archive, initiate, wait_state

BROWSER_NAME = "dataport-headless"
FLOW_TIMEOUT_S = 30
SUCCESS_MESSAGE = "dataport test: the flow is complete"


def scopes(*groups: str) -> list[str]:
    return [SCOPE_PREFIX + g for g in groups]


class HeadlessBrowser(webbrowser.BaseBrowser):
    """A ``webbrowser`` controller: ``open(url)`` answers the login and consent pages in a
    thread (so that ``run_local_server`` can go on to wait on its loopback server) and then
    GETs the redirect, which lands on the flow's loopback server."""

    def __init__(self, user: HeadlessUser):
        super().__init__(BROWSER_NAME)
        self.user = user
        self.opened: list[str] = []
        self.redirect: str | None = None
        self.app_response: requests.Response | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def open(self, url, new=0, autoraise=True):
        self.opened.append(url)
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()
        return True

    def _run(self, url: str) -> None:
        try:
            self.redirect = self.user.authorize(url)
            redirect_uri = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["redirect_uri"]
            assert self.redirect.startswith(redirect_uri + "?"), (self.redirect, redirect_uri)
            with requests.Session() as s:
                s.trust_env = False
                self.app_response = s.get(self.redirect, timeout=FLOW_TIMEOUT_S)
        except BaseException as exc:  # reported by finish(); unblock the flow's server now
            self.error = exc
            self._unblock(url)

    @staticmethod
    def _unblock(url: str) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        try:
            with requests.Session() as s:
                s.trust_env = False
                s.get(query["redirect_uri"], params={"error": "headless_browser_failed",
                                                     "state": query.get("state", "")}, timeout=5)
        except Exception:
            pass  # the flow then times out after FLOW_TIMEOUT_S

    def finish(self) -> None:
        assert self._thread is not None, "the flow never opened the browser"
        self._thread.join(FLOW_TIMEOUT_S)
        assert not self._thread.is_alive(), "the headless browser did not finish"
        if self.error is not None:
            raise self.error


def run_installed_app_flow(server, client_config: dict, requested: list[str], user: HeadlessUser, *,
                           flow_cls=None, **run_kwargs):
    """``InstalledAppFlow.from_client_config({"installed": ...}).run_local_server(port=0)``
    with the headless browser; returns (flow, credentials, browser)."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow_cls = flow_cls or InstalledAppFlow
    flow = flow_cls.from_client_config({"installed": client_config}, scopes=requested)
    browser = HeadlessBrowser(user)
    webbrowser.register(BROWSER_NAME, None, browser)
    try:
        creds = flow.run_local_server(
            port=0, browser=BROWSER_NAME, timeout_seconds=FLOW_TIMEOUT_S,
            success_message=SUCCESS_MESSAGE, authorization_prompt_message=None, **run_kwargs,
        )
    except BaseException:
        browser.finish()  # the browser's own failure explains the flow's, if there is one
        raise
    browser.finish()

    # What the library sent: a code request with PKCE S256, state and offline access.
    assert len(browser.opened) == 1
    sent = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(browser.opened[0]).query))
    assert browser.opened[0].startswith(server.auth_uri + "?")
    assert sent["response_type"] == "code" and sent["client_id"] == client_config["client_id"]
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43, sent
    assert sent["access_type"] == "offline" and sent["state"], sent
    assert set(sent["scope"].split()) == set(requested), sent
    # What the server sent back to the app: code, the same state, and iss (RFC 9207).
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(browser.redirect).query))
    assert set(back) == {"code", "state", "iss"}, back
    assert back["state"] == sent["state"] and back["iss"] == server.base, back
    assert browser.app_response.status_code == 200 and SUCCESS_MESSAGE in browser.app_response.text
    return flow, creds, browser


def installed_config(server, client_id: str, client_secret) -> dict:
    """A client_secret.json "installed" section as Google's console writes it, pointed at dataportd."""
    config = {
        "client_id": client_id,
        "project_id": "dataport-test",
        "auth_uri": server.auth_uri,
        "token_uri": server.token_uri,
        "redirect_uris": ["http://localhost"],
    }
    if client_secret is not None:
        config["client_secret"] = client_secret
    return config


def build_api(server, creds):
    from googleapiclient import discovery

    return discovery.build("dataportability", "v1", credentials=creds,
                           discoveryServiceUrl=server.discovery_url, static_discovery=False)


def export_and_verify(svc, groups: list[str]) -> None:
    resp = initiate(svc, groups)
    state = wait_state(svc, resp["archiveJobId"], until={"COMPLETE"})
    check_archive(state, resp["archiveJobId"], groups)


@pytest.fixture(autouse=True)
def _oauthlib_allows_loopback_http(monkeypatch):
    # oauthlib refuses http:// endpoints unless told otherwise (Google's quickstarts for local
    # testing set the same variable); everything here is on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _public_flow_cls():
    """InstalledAppFlow for a public client: the code exchange authenticates with ``client_id``
    in the body and no secret at all (RFC 6749 §2.3.1, RFC 8252 §8.5).  Stock
    google-auth-oauthlib cannot do that (it needs ``client_secret`` in the config and then sends
    HTTP Basic ``client_id:``), see the xfail test below."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    class _Public(InstalledAppFlow):
        def fetch_token(self, **kwargs):
            # Flow.fetch_token minus its lookup of client_config["client_secret"].
            kwargs.setdefault("code_verifier", self.code_verifier)
            kwargs.setdefault("include_client_id", True)
            return self.oauth2session.fetch_token(self.client_config["token_uri"], **kwargs)

    return _Public


# --------------------------------------------------------------------------- tests


def test_installed_app_flow_with_client_secret(server):
    """Google's quickstart shape: an "installed" client with a secret (sent with HTTP Basic on
    the code exchange), a user created with ``admin user add``, redirect to http://localhost:PORT/."""
    client = server.add_client("Quickstart importer", ["http://localhost/", "http://127.0.0.1/"])
    username, password = server.add_user()
    groups = ["myactivity.search", "chrome.history"]
    flow, creds, browser = run_installed_app_flow(
        server, installed_config(server, client["client_id"], client["client_secret"]),
        scopes(*groups), HeadlessUser(server, username, password),
    )
    assert sorted(browser.user.offered_groups) == sorted(groups)
    assert urllib.parse.urlsplit(flow.redirect_uri).hostname == "localhost"

    token = flow.oauth2session.token
    assert token["token_type"] == "Bearer"
    assert isinstance(token["expires_in"], int) and 0 < token["expires_in"] <= 3599, token
    assert set(token["scope"]) == set(scopes(*groups)), token["scope"]
    assert creds.token and creds.refresh_token and creds.refresh_token != creds.token
    assert creds.client_id == client["client_id"] and creds.token_uri == server.token_uri
    assert set(creds.granted_scopes) == set(scopes(*groups))

    svc = build_api(server, creds)
    assert svc.accessType().check(body={}).execute() == {"oneTimeResources": sorted(groups)}
    export_and_verify(svc, groups)

    events = [e for e in server.audit() if e.get("client_id") == client["client_id"]]
    kinds = [e["event"] for e in events]
    assert "consent.granted" in kinds and "token.issued" in kinds, kinds
    granted = next(e for e in events if e["event"] == "consent.granted")
    assert sorted(granted["resources"]) == sorted(groups), granted


def test_installed_app_flow_public_demo_client_with_pkce(server):
    """The emulator's public demo-client and demo user: PKCE only, no secret anywhere; the
    redirect goes to http://127.0.0.1:PORT/."""
    groups = ["maps.starred_places", "youtube.subscriptions"]
    flow, creds, browser = run_installed_app_flow(
        server, installed_config(server, DEMO_CLIENT, None), scopes(*groups),
        HeadlessUser(server, DEMO_USER, DEMO_PASSWORD, duration="30d"),
        flow_cls=_public_flow_cls(), host="127.0.0.1",
    )
    assert flow.redirect_uri.startswith("http://127.0.0.1:")
    token = flow.oauth2session.token
    assert set(token["scope"]) == set(scopes(*groups))
    # A time-based grant: the refresh token lives as long as the grant (SPEC §6).
    assert token["refresh_token_expires_in"] == 30 * 86400, token
    assert creds.refresh_token and creds.client_secret is None

    svc = build_api(server, creds)
    assert svc.accessType().check(body={}).execute() == {"timeBasedResources": sorted(groups)}
    export_and_verify(svc, groups)


def test_installed_app_flow_public_client_stock_config_refreshes(short_token_server):
    """A public client configured the only way stock google-auth can refresh it:
    ``"client_secret": ""``, which counts as no secret (RFC 6749 §2.3.1). Exchange and refresh
    must both work."""
    srv = short_token_server
    client = srv.add_client("Public stock app", ["http://127.0.0.1/"], public=True)
    username, password = srv.add_user()
    flow, creds, _ = run_installed_app_flow(
        srv, installed_config(srv, client["client_id"], ""), scopes("myactivity.search"),
        HeadlessUser(srv, username, password), host="127.0.0.1",
    )
    svc = build_api(srv, creds)
    first = creds.token
    assert svc.accessType().check(body={}).execute() == {"oneTimeResources": ["myactivity.search"]}
    assert creds.token != first


def test_credentials_refresh_themselves_when_access_tokens_expire(short_token_server):
    """Access tokens live SHORT_ACCESS_TOKEN_S seconds; the app never refreshes explicitly.

    google-auth refreshes before a request once a token is within 3m45s of its expiry (so here
    before every request: the proactive path), and on a 401 from the API when it believed the
    token was still good (the reactive path, forced by forgetting the expiry)."""
    srv = short_token_server
    # Rotating (issue #23: a confidential client's default is not to), as the check below asks.
    client = srv.add_client("Refreshing importer", ["http://localhost/"], refresh_rotation="rotate")
    username, password = srv.add_user()
    groups = ["myactivity.search", "chrome.history"]
    flow, creds, _ = run_installed_app_flow(
        srv, installed_config(srv, client["client_id"], client["client_secret"]),
        scopes(*groups), HeadlessUser(srv, username, password),
    )
    assert flow.oauth2session.token["expires_in"] == SHORT_ACCESS_TOKEN_S

    refreshes: list[tuple[str, str]] = []  # (access token, refresh token) after each refresh
    original_refresh = creds.refresh

    def counting_refresh(request):
        original_refresh(request)
        refreshes.append((creds.token, creds.refresh_token))

    creds.refresh = counting_refresh
    issued_token, issued_refresh = creds.token, creds.refresh_token

    # Proactive: the whole export, every call preceded by a refresh.
    svc = build_api(srv, creds)
    assert svc.accessType().check(body={}).execute() == {"oneTimeResources": sorted(groups)}
    assert refreshes, "google-auth did not refresh an access token that expires in seconds"
    assert creds.token != issued_token
    export_and_verify(svc, groups)
    tokens = [issued_token] + [t for t, _ in refreshes]
    assert len(set(tokens)) == len(tokens), "each refresh must issue a new access token"
    refresh_tokens = [issued_refresh] + [r for _, r in refreshes]
    assert len(set(refresh_tokens)) == len(refresh_tokens), "refresh tokens rotate (SPEC §10.3)"

    # Reactive: credentials that do not know their expiry keep using the token until the API
    # answers 401; google-auth's transport then refreshes and retries by itself.
    import google_auth_httplib2
    import httplib2
    from googleapiclient import discovery

    class RecordingHttp(httplib2.Http):
        calls: list[tuple[int, str]] = []  # (status, path) of every request, /token included

        def request(self, uri, *args, **kwargs):
            resp, content = super().request(uri, *args, **kwargs)
            self.calls.append((resp.status, urllib.parse.urlsplit(uri).path))
            return resp, content

    http = google_auth_httplib2.AuthorizedHttp(creds, http=RecordingHttp(timeout=30))
    svc = discovery.build("dataportability", "v1", http=http,
                          discoveryServiceUrl=srv.discovery_url, static_discovery=False)
    creds.expiry = None
    stale = creds.token
    time.sleep(SHORT_ACCESS_TOKEN_S + 0.5)
    with requests.Session() as s:
        s.trust_env = False
        r = s.post(f"{srv.base}/v1/accessType:check", json={},
                   headers={"Authorization": f"Bearer {stale}"}, timeout=30)
    assert r.status_code == 401, (r.status_code, r.text)  # the server expired it
    RecordingHttp.calls.clear()
    before = len(refreshes)
    assert svc.accessType().check(body={}).execute() == {"oneTimeResources": sorted(groups)}
    # 401 with the stale token, then /token, then the retry. (The new token's expiry is again
    # inside google-auth's 3m45s margin, so it may refresh once more before retrying.)
    calls = RecordingHttp.calls
    new_refreshes = len(refreshes) - before
    assert calls[0] == (401, "/v1/accessType:check"), calls
    assert calls[1:-1] == [(200, "/token")] * new_refreshes and new_refreshes >= 1, calls
    assert calls[-1] == (200, "/v1/accessType:check"), calls
    assert creds.token != stale

    refreshed = [e for e in srv.audit()
                 if e.get("client_id") == client["client_id"] and e["event"] == "token.refreshed"]
    assert len(refreshed) == len(refreshes), (len(refreshed), len(refreshes))
    assert all(sorted(e["resources"]) == sorted(groups) for e in refreshed), refreshed[:3]
