"""Conformance of dataportd with Google's Python client (google-api-python-client).

Every call goes through ``googleapiclient.discovery.build`` against the
discovery document served by dataportd, the way an app written for Google's
Data Portability API would make it; only the download URLs are fetched with a
plain HTTP GET (no token), as SPEC §9 says.

SPEC references: §2 wire surface, §4 / §4.1 error catalogue (E1–E18), §6
grants and quotas, §7 jobs, §8 archives, §9 downloads.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import zipfile
from datetime import datetime, timedelta, timezone

import google.auth.exceptions
import pytest
import requests
from googleapiclient.errors import HttpError

from conftest import BIG_GROUP, FAIL_GROUP, REPO_ROOT, api_for

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
DOMAIN = "dataportability.googleapis.com"

TERMINAL = {"COMPLETE", "FAILED", "CANCELLED"}
JOB_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.1

TS_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{3}|\.\d{6}|\.\d{9})?Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DURATION_RE = re.compile(r"^(\d+)(\.\d{1,9})?s$")


# --------------------------------------------------------------------------- helpers


def parse_ts(value: str) -> datetime:
    """RFC 3339 in UTC with Z and 0/3/6/9 fractional digits (SPEC §2.2)."""
    m = TS_RE.match(value)
    assert m, f"not an RFC 3339 UTC timestamp with 0/3/6/9 fractional digits: {value!r}"
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    frac = m.group(2)
    if frac:
        base += timedelta(microseconds=int(frac[1:7].ljust(6, "0")))
    return base


def initiate(svc, resources, **extra):
    body = {"resources": list(resources), **extra}
    return svc.portabilityArchive().initiate(body=body).execute()


def get_state(svc, job_id):
    return svc.archiveJobs().getPortabilityArchiveState(
        name=f"archiveJobs/{job_id}/portabilityArchiveState"
    ).execute()


def retry(svc, job_id):
    return svc.archiveJobs().retry(name=f"archiveJobs/{job_id}", body={}).execute()


def cancel(svc, job_id):
    return svc.archiveJobs().cancel(name=f"archiveJobs/{job_id}", body={}).execute()


def wait_state(svc, job_id, until=TERMINAL, timeout=JOB_TIMEOUT_S):
    """Poll getPortabilityArchiveState until the state is in ``until`` (bounded)."""
    deadline = time.monotonic() + timeout
    max_polls = int(timeout / POLL_INTERVAL_S) + 1
    state = None
    for _ in range(max_polls):
        state = get_state(svc, job_id)
        assert state["state"] in {"IN_PROGRESS", *TERMINAL}, state
        if state["state"] in until:
            return state
        if state["state"] in TERMINAL:
            pytest.fail(f"job {job_id} reached {state['state']}, expected one of {sorted(until)}")
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    pytest.fail(f"job {job_id} still {state and state['state']} after {timeout} s")


def expect_http_error(call, status: int) -> HttpError:
    """Run ``call`` (a zero-argument callable) and return the HttpError it raises."""
    with pytest.raises(HttpError) as excinfo:
        call()
    err = excinfo.value
    assert err.status_code == status, (err.status_code, err.content)
    return err


def envelope(err: HttpError) -> dict:
    body = json.loads(err.content)
    assert set(body) == {"error"}, body
    return body["error"]


def error_info(err: HttpError, reason: str, status: str, metadata_keys=None) -> dict:
    """Assert the ErrorInfo that an app reads as ``e.error_details[0]`` and return its metadata."""
    env = envelope(err)
    assert env["code"] == err.status_code
    assert env["status"] == status, env
    details = err.error_details
    assert isinstance(details, list) and details, f"no details list: {err.content!r}"
    info = details[0]
    assert info["@type"] == ERROR_INFO, details
    assert info["reason"] == reason, details
    assert info["domain"] == DOMAIN, details
    metadata = info.get("metadata", {})
    assert all(isinstance(v, str) for v in metadata.values()), metadata
    if metadata_keys is not None:
        assert set(metadata) >= set(metadata_keys), metadata
    # googleapiclient puts error.message into e.reason.
    assert err.reason == env["message"].strip()
    return metadata


def download(url: str) -> bytes:
    """Plain GET with no Authorization header (SPEC §9)."""
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code, r.text[:500])
    assert "Authorization" not in r.request.headers
    assert r.headers["Content-Type"] == "application/zip"
    assert int(r.headers["Content-Length"]) == len(r.content)
    etag = r.headers.get("ETag", "").strip('"')
    assert etag == hashlib.sha256(r.content).hexdigest(), "ETag must be the part's SHA-256"
    return r.content


def get_raw(url: str) -> requests.Response:
    with requests.Session() as s:
        s.trust_env = False
        return s.get(url, timeout=30)


def count_records(path: str, data: bytes) -> int | None:
    """Record count of the Google export shapes of SPEC §8.1 (None if not known)."""
    if path.endswith("/MyActivity.json"):
        items = json.loads(data)
        assert isinstance(items, list)
        for item in items:
            assert {"header", "title", "time", "products"} <= set(item), item
            parse_ts(item["time"])
        return len(items)
    if path.endswith("Chrome/History.json"):
        doc = json.loads(data)
        for item in doc["Browser History"]:
            assert {"title", "url", "time_usec", "page_transition", "client_id"} <= set(item), item
        return len(doc["Browser History"])
    if path.endswith("subscriptions.csv"):
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        assert rows[0] == ["Channel Id", "Channel Url", "Channel Title"], rows[0]
        return len(rows) - 1
    if path.endswith("/Saved Places.json"):
        doc = json.loads(data)
        assert doc["type"] == "FeatureCollection"
        for f in doc["features"]:
            assert f["type"] == "Feature" and f["geometry"]["type"] == "Point", f
            # A place Google has no location for carries a Comment instead.
            assert {"date", "google_maps_url"} <= set(f["properties"]), f
            assert {"location", "Comment"} & set(f["properties"]), f
        return len(doc["features"])
    return None


def check_archive(state: dict, job_id: str, resources) -> dict:
    """Download every URL of a COMPLETE job and verify parts against manifest.json."""
    urls = state["urls"]
    assert len(urls) >= 2, "urls = data parts then one index ZIP"
    parts = []
    for url in urls:
        assert url.startswith("http://127.0.0.1:"), url
        blob = download(url)
        zf = zipfile.ZipFile(io.BytesIO(blob))
        assert zf.testzip() is None, f"corrupt member in {url}"
        parts.append(zf)

    index = parts[-1]
    assert {"Portability/manifest.json", "Portability/archive_browser.json"} <= set(index.namelist())
    for zf in parts:
        assert all(n.startswith("Portability/") for n in zf.namelist()), "nothing at the root of any ZIP"
    manifest = json.loads(index.read("Portability/manifest.json"))
    assert manifest["version"] == 1
    assert manifest["jobId"] == job_id
    assert sorted(manifest["resources"]) == sorted(resources)
    assert parse_ts(manifest["exportTime"]) == parse_ts(state["exportTime"])
    assert ("startTime" in manifest) == ("startTime" in state)
    assert set(manifest) <= {"version", "jobId", "resources", "startTime", "exportTime", "files"}
    browser = json.loads(index.read("Portability/archive_browser.json"))
    # Google's shape (SPEC §8), read as importers do: counters are strings.
    assert set(browser) == {"creationTime", "totalSize", "serviceStatus"}, browser.keys()
    total = sum(int(s["extractedFileSize"]) for s in browser["serviceStatus"])
    assert int(browser["totalSize"]) == total
    for service in browser["serviceStatus"]:
        assert service["service"]["name"].isupper() and service["isIncomplete"] is False
        assert service["extractedFile"] and all(f["state"] == "SUCCESS" for f in service["extractedFile"])

    files = manifest["files"]
    assert files, "an export of non-empty groups lists files"
    listed = set()
    for f in files:
        assert set(f) <= {"path", "part", "size", "records", "sha256"}, f
        assert isinstance(f["part"], int) and 0 <= f["part"] < len(urls) - 1, f
        assert f["path"].startswith("Portability/"), f
        assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"]), f
        data = parts[f["part"]].read(f["path"])
        assert len(data) == f["size"], (f, len(data))
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f
        if "records" in f:
            n = count_records(f["path"], data)
            if n is not None:
                assert n == f["records"], (f, n)
        listed.add((f["part"], f["path"]))
    # Every file of every data part is described by the manifest.
    for i, zf in enumerate(parts[:-1]):
        for name in zf.namelist():
            if not name.endswith("/"):
                assert (i, name) in listed, f"part {i} holds {name!r}, absent from manifest.json"
    return manifest


# --------------------------------------------------------------------------- discovery


def test_discovery_build_exposes_all_six_methods(server, mint, api):
    svc = api(mint("myactivity.search").token)
    assert svc._baseUrl.startswith(server.base + "/"), svc._baseUrl
    assert callable(svc.portabilityArchive().initiate)
    jobs = svc.archiveJobs()
    for m in ("getPortabilityArchiveState", "retry", "cancel"):
        assert callable(getattr(jobs, m))
    assert callable(svc.authorization().reset)
    assert callable(svc.accessType().check)


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_discovery_document_matches_google_reference(server, version):
    """SPEC §2.3: Google's document with only rootUrl/baseUrl/mtlsRootUrl rewritten."""
    # The repository's verbatim copy of Google's document (revision 20260719), which the server
    # rewrites; so the comparison never depends on anything outside the checkout.
    ref_path = REPO_ROOT / "crates" / "dataport-server" / "discovery" / f"dataportability.{version}.json"
    ref = json.loads(ref_path.read_text())
    with requests.Session() as s:
        s.trust_env = False
        served = s.get(f"{server.base}/$discovery/rest", params={"version": version}, timeout=30)
        alias = s.get(f"{server.base}/discovery/v1/apis/dataportability/{version}/rest", timeout=30)
    assert served.status_code == 200 and alias.status_code == 200
    doc = served.json()
    assert alias.json() == doc
    for key in ("rootUrl", "baseUrl", "mtlsRootUrl"):
        assert doc[key] == server.base + "/", (key, doc[key])
    rewritten = {"rootUrl", "baseUrl", "mtlsRootUrl", "auth"}
    assert {k: v for k, v in doc.items() if k not in rewritten} == {
        k: v for k, v in ref.items() if k not in rewritten
    }
    # The emulator catalogue is Google's: the same scopes.
    assert set(doc["auth"]["oauth2"]["scopes"]) == set(ref["auth"]["oauth2"]["scopes"])


# --------------------------------------------------------------------------- happy path


def test_initiate_poll_download_verify(mint, api):
    resources = ["myactivity.search", "chrome.history", "maps.starred_places", "youtube.subscriptions"]
    svc = api(mint(resources).token)

    started = datetime.now(timezone.utc)
    resp = initiate(svc, resources)
    assert set(resp) == {"archiveJobId", "accessType"}, resp
    assert resp["accessType"] == "ACCESS_TYPE_ONE_TIME"
    job_id = resp["archiveJobId"]
    assert UUID_RE.match(job_id), job_id

    state = wait_state(svc, job_id, until={"COMPLETE"})
    assert state["name"] == f"archiveJobs/{job_id}/portabilityArchiveState"
    assert state["state"] == "COMPLETE"
    assert "startTime" not in state, "startTime is echoed only if the request set it"
    export_time = parse_ts(state["exportTime"])
    assert started - timedelta(seconds=5) <= export_time <= datetime.now(timezone.utc)
    assert set(state) <= {"name", "state", "urls", "startTime", "exportTime"}

    manifest = check_archive(state, job_id, resources)
    paths = {f["path"] for f in manifest["files"]}
    assert "Portability/My Activity/Search/MyActivity.json" in paths
    assert "Portability/Chrome/History.json" in paths

    # Every poll of a COMPLETE job hands out freshly signed URLs for the same parts.
    again = get_state(svc, job_id)
    assert again["state"] == "COMPLETE" and len(again["urls"]) == len(state["urls"])


def test_time_filtered_export_echoes_start_time(mint, api):
    svc = api(mint("myactivity.search").token)
    start = "2020-01-01T00:00:00Z"
    job_id = initiate(svc, ["myactivity.search"], startTime=start)["archiveJobId"]
    state = wait_state(svc, job_id, until={"COMPLETE"})
    assert parse_ts(state["startTime"]) == parse_ts(start)
    manifest = check_archive(state, job_id, ["myactivity.search"])
    assert parse_ts(manifest["startTime"]) == parse_ts(start)
    lo, hi = parse_ts(start), parse_ts(state["exportTime"])
    for f in manifest["files"]:
        if f["path"].endswith("MyActivity.json"):
            blob = get_raw(state["urls"][f["part"]]).content
            items = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read(f["path"]))
            for item in items:
                assert lo <= parse_ts(item["time"]) < hi, item["time"]


def test_v1beta_client(mint, api):
    svc = api(mint("chrome.history", "30d").token, version="v1beta")
    assert "/v1beta/accessType:check" in svc.accessType().check(body={}).uri
    assert svc.accessType().check(body={}).execute() == {"timeBasedResources": ["chrome.history"]}
    resp = initiate(svc, ["chrome.history"])
    assert resp["accessType"] == "ACCESS_TYPE_TIME_BASED"
    state = wait_state(svc, resp["archiveJobId"], until={"COMPLETE"})
    check_archive(state, resp["archiveJobId"], ["chrome.history"])


def test_multipart_archive(multipart_server):
    svc = api_for(multipart_server)(multipart_server.mint(
        ["myactivity.search", "chrome.history", "youtube.subscriptions"]).token)
    resources = ["myactivity.search", "chrome.history", "youtube.subscriptions"]
    job_id = initiate(svc, resources)["archiveJobId"]
    state = wait_state(svc, job_id, until={"COMPLETE"})
    assert len(state["urls"]) >= 3, "a 3000-byte part size must give several data parts"
    manifest = check_archive(state, job_id, resources)
    assert {f["part"] for f in manifest["files"]} == set(range(len(state["urls"]) - 1)), (
        "every data part holds at least one manifest file"
    )


def test_download_head_range_and_tampered_urls(mint, api):
    svc = api(mint("myactivity.search").token)
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    url = wait_state(svc, job_id, until={"COMPLETE"})["urls"][0]
    body = download(url)
    with requests.Session() as s:
        s.trust_env = False
        head = s.head(url, timeout=30)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["Content-Length"]) == len(body)
        assert head.headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        cd = head.headers["Content-Disposition"]
        assert cd.startswith("attachment;") and re.search(r'filename="[^"]+-0\.zip"', cd), cd

        r = s.get(url, headers={"Range": "bytes=0-9"}, timeout=30)
        assert r.status_code == 206 and r.content == body[:10]
        assert r.headers["Content-Range"] == f"bytes 0-9/{len(body)}"

        tampered = [
            re.sub(r"sig=([A-Za-z0-9_-])", lambda m: "sig=" + ("B" if m.group(1) == "A" else "A"), url),
            re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 1}", url),
            re.sub(r"exp=(\d+)", "exp=1000000000", url),  # expired long ago
            re.sub(r"kid=[^&]+", "kid=no-such-key", url),
            url.replace(f"/download/{job_id}/0?", f"/download/{job_id}/1?"),
            url.replace(job_id, "00000000-0000-4000-8000-000000000000"),
            url.split("?")[0],
        ]
        for bad in tampered:
            assert bad != url
            r = s.get(bad, timeout=30)
            assert r.status_code == 403, (bad, r.status_code)
            assert r.json()["error"]["status"] == "PERMISSION_DENIED"
            assert job_id not in r.text and "sql" not in r.text.lower()


# --------------------------------------------------------------------------- accessType.check


def test_access_type_check_one_time(mint, api):
    svc = api(mint(["myactivity.search", "chrome.history"], "one-time").token)
    assert svc.accessType().check(body={}).execute() == {
        "oneTimeResources": ["chrome.history", "myactivity.search"]
    }


@pytest.mark.parametrize("access", ["30d", "180d"])
def test_access_type_check_time_based(mint, api, access):
    svc = api(mint(["maps.starred_places", "youtube.subscriptions"], access).token)
    assert svc.accessType().check(body={}).execute() == {
        "timeBasedResources": ["maps.starred_places", "youtube.subscriptions"]
    }


def test_access_type_check_lists_exhausted_one_time_groups(mint, api):
    svc = api(mint("myactivity.search").token)
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    assert svc.accessType().check(body={}).execute() == {"oneTimeResources": ["myactivity.search"]}
    wait_state(svc, job_id, until={"COMPLETE"})


# --------------------------------------------------------------------------- retry


def test_retry_failed_job_and_chain_limit(mint, api):
    svc = api(mint(FAIL_GROUP).token)
    first = initiate(svc, [FAIL_GROUP])["archiveJobId"]
    state = wait_state(svc, first, until={"FAILED"})
    assert "urls" not in state

    chain = [first]
    for _ in range(3):
        resp = retry(svc, chain[-1])
        assert set(resp) == {"archiveJobId"}, resp
        new_id = resp["archiveJobId"]
        assert new_id not in chain and UUID_RE.match(new_id)
        # The failed job stays FAILED.
        assert get_state(svc, chain[-1])["state"] == "FAILED"
        wait_state(svc, new_id, until={"FAILED"})
        chain.append(new_id)

    err = expect_http_error(lambda: retry(svc, chain[-1]), 400)
    error_info(err, "RETRY_LIMIT_EXCEEDED", "FAILED_PRECONDITION")

    # Retrying an earlier job of the chain again is idempotent: it returns the retry it already
    # created, so the chain cannot grow past 3 retries.
    for job, its_retry in zip(chain, chain[1:]):
        assert retry(svc, job)["archiveJobId"] == its_retry


def test_time_based_failed_job_counts_for_cooldown_retry_does_not(mint, api):
    svc = api(mint(FAIL_GROUP, "30d").token)
    first = initiate(svc, [FAIL_GROUP])
    assert first["accessType"] == "ACCESS_TYPE_TIME_BASED"
    wait_state(svc, first["archiveJobId"], until={"FAILED"})
    # A failed job counts for the cooldown (Google's behaviour, SPEC §6) ...
    err = expect_http_error(lambda: initiate(svc, [FAIL_GROUP]), 429)
    md = error_info(err, "RESOURCE_EXHAUSTED_TIME_BASED", "RESOURCE_EXHAUSTED")
    assert md["previous_job_ids"].split(",")[-1] == first["archiveJobId"]
    # ... and a retry is not a new initiate.
    new_id = retry(svc, first["archiveJobId"])["archiveJobId"]
    assert new_id != first["archiveJobId"]
    wait_state(svc, new_id, until={"FAILED"})


def test_retry_of_complete_job_is_job_not_failed(mint, api):
    svc = api(mint("myactivity.search").token)
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    wait_state(svc, job_id, until={"COMPLETE"})
    err = expect_http_error(lambda: retry(svc, job_id), 400)
    error_info(err, "JOB_NOT_FAILED", "FAILED_PRECONDITION")
    assert "COMPLETE" in err.reason


# --------------------------------------------------------------------------- cancel


def test_cancel_running_job(mint, api):
    svc = api(mint(BIG_GROUP).token)
    job_id = initiate(svc, [BIG_GROUP])["archiveJobId"]
    assert get_state(svc, job_id)["state"] == "IN_PROGRESS"
    assert cancel(svc, job_id) == {}
    state = get_state(svc, job_id)  # CANCELLED at once (SPEC §7)
    assert state["state"] == "CANCELLED" and "urls" not in state, state

    err = expect_http_error(lambda: cancel(svc, job_id), 400)
    error_info(err, "JOB_NOT_IN_PROGRESS", "FAILED_PRECONDITION")
    assert "CANCELLED" in err.reason
    err = expect_http_error(lambda: retry(svc, job_id), 400)
    error_info(err, "JOB_NOT_FAILED", "FAILED_PRECONDITION")


def test_cancel_of_complete_job_is_job_not_in_progress(mint, api):
    svc = api(mint("myactivity.search").token)
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    wait_state(svc, job_id, until={"COMPLETE"})
    err = expect_http_error(lambda: cancel(svc, job_id), 400)
    error_info(err, "JOB_NOT_IN_PROGRESS", "FAILED_PRECONDITION")
    assert "COMPLETE" in err.reason
    assert get_state(svc, job_id)["state"] == "COMPLETE"


# --------------------------------------------------------------------------- authorization.reset


def test_reset_revokes_token_and_download_urls(mint, api):
    grant = mint("myactivity.search")
    svc = api(grant.token)
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    state = wait_state(svc, job_id, until={"COMPLETE"})
    urls = state["urls"]
    download(urls[0])  # works before the reset

    assert svc.authorization().reset(body={}).execute() == {}

    # The calling token is revoked: E2.
    svc_no_refresh = api(grant.token, refresh_on_401=False)
    err = expect_http_error(lambda: svc_no_refresh.accessType().check(body={}).execute(), 401)
    error_info(err, "ACCESS_TOKEN_INVALID", "UNAUTHENTICATED")
    # An app built with bare Credentials(token) sees google-auth try to refresh on the 401.
    with pytest.raises(google.auth.exceptions.RefreshError):
        svc.accessType().check(body={}).execute()

    # Old download URLs stop working at once: 403 with the JSON envelope.
    for url in urls:
        r = get_raw(url)
        assert r.status_code == 403, (url, r.status_code, r.text[:300])
        assert r.json()["error"]["status"] == "PERMISSION_DENIED"

    # Exhaustion is cleared: a new consent for the same pair can export again.
    fresh = mint("myactivity.search", user=grant.user, client=grant.client)
    svc2 = api(fresh.token)
    again = initiate(svc2, ["myactivity.search"])
    assert again["archiveJobId"] != job_id
    wait_state(svc2, again["archiveJobId"], until={"COMPLETE"})


# --------------------------------------------------------------------------- error catalogue


def test_e1_credentials_missing(server, api):
    svc = api(None)  # no credentials, no Authorization header
    for call in (
        lambda: initiate(svc, ["myactivity.search"]),
        lambda: svc.accessType().check(body={}).execute(),
        lambda: get_state(svc, "00000000-0000-4000-8000-000000000000"),
    ):
        err = expect_http_error(call, 401)
        error_info(err, "CREDENTIALS_MISSING", "UNAUTHENTICATED")
        assert err.reason.startswith("Request is missing required authentication credential.")
        assert err.resp["www-authenticate"] == 'Bearer realm="dataport", error="invalid_token"', err.resp


def test_e2_access_token_invalid(server, api):
    svc = api("dpa_this-token-was-never-issued", refresh_on_401=False)
    err = expect_http_error(lambda: initiate(svc, ["myactivity.search"]), 401)
    error_info(err, "ACCESS_TOKEN_INVALID", "UNAUTHENTICATED")
    assert err.reason.startswith("Request had invalid authentication credentials.")
    www = err.resp["www-authenticate"]
    assert www.startswith("Bearer ") and 'error="invalid_token"' in www, www


def test_e5_resources_not_authorized(mint, api):
    svc = api(mint("myactivity.search").token)
    err = expect_http_error(
        lambda: initiate(svc, ["myactivity.search", "chrome.history", "maps.starred_places"]), 403
    )
    md = error_info(err, "RESOURCES_NOT_AUTHORIZED", "PERMISSION_DENIED", ["resources"])
    assert sorted(md["resources"].split(",")) == ["chrome.history", "maps.starred_places"]
    assert err.reason.startswith("The requested resources are not authorized by the OAuth token")


def test_e6_resource_exhausted_one_time(mint, api):
    svc = api(mint("myactivity.search").token)
    first = initiate(svc, ["myactivity.search"])["archiveJobId"]
    wait_state(svc, first, until={"COMPLETE"})
    err = expect_http_error(lambda: initiate(svc, ["myactivity.search"]), 429)
    md = error_info(err, "RESOURCE_EXHAUSTED_ONE_TIME", "RESOURCE_EXHAUSTED", ["previous_job_ids"])
    assert md["previous_job_ids"] == first
    assert first in err.reason


def test_e7_resource_exhausted_time_based(mint, api):
    svc = api(mint("myactivity.search", "30d").token)
    resp = initiate(svc, ["myactivity.search"])
    assert resp["accessType"] == "ACCESS_TYPE_TIME_BASED"
    first = resp["archiveJobId"]
    state = wait_state(svc, first, until={"COMPLETE"})

    err = expect_http_error(lambda: initiate(svc, ["myactivity.search"]), 429)
    md = error_info(
        err, "RESOURCE_EXHAUSTED_TIME_BASED", "RESOURCE_EXHAUSTED",
        ["previous_job_ids", "timestamp_after_24hrs"],
    )
    assert md["previous_job_ids"].split(",")[-1] == first
    after = parse_ts(md["timestamp_after_24hrs"])
    initiated = parse_ts(state["exportTime"])  # exportTime = initiate time without endTime
    assert abs((after - initiated) - timedelta(hours=24)) <= timedelta(seconds=5), (after, initiated)
    assert md["timestamp_after_24hrs"] in err.reason

    retry_infos = [d for d in err.error_details if d.get("@type") == RETRY_INFO]
    assert len(retry_infos) == 1, err.error_details
    m = DURATION_RE.match(retry_infos[0]["retryDelay"])
    assert m, retry_infos[0]
    delay = int(m.group(1))
    remaining = (after - datetime.now(timezone.utc)).total_seconds()
    assert 0 < delay <= 86400 and abs(delay - remaining) <= 10, (delay, remaining)


@pytest.mark.parametrize(
    "access, reason, access_type",
    [
        ("one-time", "ALREADY_EXISTS_ONE_TIME", "ACCESS_TYPE_ONE_TIME"),
        ("30d", "ALREADY_EXISTS_TIME_BASED", "ACCESS_TYPE_TIME_BASED"),
    ],
)
def test_e8_already_exists_while_in_progress(mint, api, access, reason, access_type):
    svc = api(mint(BIG_GROUP, access).token)
    first = initiate(svc, [BIG_GROUP])["archiveJobId"]
    try:
        err = expect_http_error(lambda: initiate(svc, [BIG_GROUP]), 409)
        expected_keys = ["job_id", "access_type"]
        if access_type == "ACCESS_TYPE_TIME_BASED":
            expected_keys.append("timestamp_after_24hrs")
        md = error_info(err, reason, "ALREADY_EXISTS", expected_keys)
        assert md["job_id"] == first
        assert md["access_type"] == access_type
        if "timestamp_after_24hrs" in expected_keys:
            parse_ts(md["timestamp_after_24hrs"])
        assert first in err.reason
        assert get_state(svc, first)["state"] == "IN_PROGRESS"
    finally:
        cancel(svc, first)
    assert get_state(svc, first)["state"] == "CANCELLED"


@pytest.mark.parametrize(
    "resources, offending",
    [
        (["myactivity.search", "no.such.group"], "no.such.group"),
        ([], None),
        (["myactivity.search", "myactivity.search"], "myactivity.search"),
    ],
    ids=["unknown", "empty", "duplicated"],
)
def test_e9_invalid_resources(mint, api, resources, offending):
    svc = api(mint("myactivity.search").token)
    err = expect_http_error(lambda: initiate(svc, resources), 400)
    env = envelope(err)
    assert env["status"] == "INVALID_ARGUMENT"
    details = err.error_details
    assert isinstance(details, list) and details, err.content
    bad = [d for d in details if d["@type"] == BAD_REQUEST]
    assert len(bad) == 1, details
    fields = [v["field"] for v in bad[0]["fieldViolations"]]
    assert fields == ["resources"], bad
    if offending is not None:
        assert offending in err.reason
    # Validation precedes quota: the group was not consumed.
    assert svc.accessType().check(body={}).execute() == {"oneTimeResources": ["myactivity.search"]}
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    wait_state(svc, job_id, until={"COMPLETE"})


def test_e11_not_found_for_another_clients_job(mint, api):
    owner = mint("myactivity.search")
    svc = api(owner.token)
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    wait_state(svc, job_id, until={"COMPLETE"})

    # Same user, another client: the job must be invisible (IDOR).
    other = api(mint("myactivity.search", user=owner.user).token)
    unknown = "00000000-0000-4000-8000-000000000000"
    for call in (get_state, cancel, retry):
        err = expect_http_error(lambda: call(other, job_id), 404)
        env = envelope(err)
        assert env["status"] == "NOT_FOUND"
        assert env["message"] == "Requested entity was not found."
        # Indistinguishable from an id that does not exist.
        err_unknown = expect_http_error(lambda: call(other, unknown), 404)
        assert envelope(err_unknown) == env
    # The owner still sees it, untouched.
    assert get_state(svc, job_id)["state"] == "COMPLETE"


def test_initiate_check_order(mint, api):
    """SPEC §4.1: authenticate → validate (E9) → granted (E5) → in progress (E8) → exhausted (E6)."""
    svc = api(mint("myactivity.search").token)
    # E9 before E5: an unknown group next to an ungranted one is a 400.
    err = expect_http_error(lambda: initiate(svc, ["no.such.group", "chrome.history"]), 400)
    assert envelope(err)["status"] == "INVALID_ARGUMENT"
    job_id = initiate(svc, ["myactivity.search"])["archiveJobId"]
    wait_state(svc, job_id, until={"COMPLETE"})
    # E5 before E6: an exhausted group next to an ungranted one is a 403.
    err = expect_http_error(lambda: initiate(svc, ["myactivity.search", "chrome.history"]), 403)
    md = error_info(err, "RESOURCES_NOT_AUTHORIZED", "PERMISSION_DENIED")
    assert md["resources"] == "chrome.history"


def test_e10_invalid_time_window(mint, api):
    svc = api(mint(["chrome.history", "maps.starred_places"]).token)
    cases = [
        (["chrome.history"], {"startTime": "not-a-time"}, "startTime"),
        (["chrome.history"], {"startTime": "2021-01-01T00:00:00Z", "endTime": "2020-01-01T00:00:00Z"},
         None),
        (["chrome.history"], {"endTime": "2099-01-01T00:00:00Z"}, "endTime"),
        (["maps.starred_places"], {"startTime": "2020-01-01T00:00:00Z"}, "startTime"),
    ]
    for resources, window, field in cases:
        err = expect_http_error(lambda: initiate(svc, resources, **window), 400)
        assert envelope(err)["status"] == "INVALID_ARGUMENT"
        bad = [d for d in err.error_details if d["@type"] == BAD_REQUEST]
        assert len(bad) == 1, err.error_details
        fields = {v["field"] for v in bad[0]["fieldViolations"]}
        assert fields <= {"startTime", "endTime"} and fields, bad
        if field:
            assert field in fields, (window, bad)
    # None of them consumed the one-time grant.
    job_id = initiate(svc, ["chrome.history"])["archiveJobId"]
    wait_state(svc, job_id, until={"COMPLETE"})
