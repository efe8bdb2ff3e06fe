"""Prometheus metrics (issue #12): ``serve --metrics-listen`` serves ``/metrics`` on a listener
of its own, and an independent parser (the ``prometheus_client`` package's) reads it, in the
classic text format (``prometheus_client.parser``) and in OpenMetrics
(``prometheus_client.openmetrics.parser``). The request, job, export and download series are
present and move as the test exports, labelled by route names, never by raw paths.
"""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from conftest import BIG_GROUP, BIG_RECORDS, FAIL_GROUP, SMALL_RECORDS, _free_port, _serve

GROUP = "myactivity.search"


@pytest.fixture(scope="module")
def metrics_server():
    port = _free_port()
    for srv in _serve(
        "metrics",
        [
            "--emulator-records", str(SMALL_RECORDS),
            "--emulator-group-records", f"{BIG_GROUP}={BIG_RECORDS}",
            "--emulator-fail", FAIL_GROUP,
            "--metrics-listen", f"127.0.0.1:{port}",
        ],
    ):
        srv.metrics_url = f"http://127.0.0.1:{port}/metrics"
        yield srv


def scrape(server) -> dict[str, object]:
    """Scrapes the classic text and parses it; returns the families by name."""
    r = requests.get(server.metrics_url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return {family.name: family for family in parse_prometheus(r.text)}


def value(families, family: str, sample: str | None = None, **labels) -> float:
    """The sum of the samples of ``family`` named ``sample`` whose labels include ``labels``."""
    fam = families.get(family)
    if fam is None:
        return 0.0
    # By default the family's first sample name: `x_total` of a counter, `x` of a gauge.
    wanted = sample or (fam.samples[0].name if fam.samples else None)
    return sum(
        s.value for s in fam.samples
        if s.name == wanted and all(s.labels.get(k) == str(v) for k, v in labels.items())
    )


def poll(server, token: str, job: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = requests.get(
            f"{server.base}/v1/archiveJobs/{job}/portabilityArchiveState",
            headers={"Authorization": f"Bearer {token}"}, timeout=10,
        ).json()
        if state["state"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def initiate(server, token: str, group: str) -> str:
    r = requests.post(
        f"{server.base}/v1/portabilityArchive:initiate",
        headers={"Authorization": f"Bearer {token}"}, json={"resources": [group]}, timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["archiveJobId"]


def test_metrics_are_served_apart_and_move_as_a_test_exports(metrics_server):
    srv = metrics_server
    assert requests.get(f"{srv.base}/metrics", timeout=10).status_code == 404, "not on the API listener"
    before = scrape(srv)
    for family in ("dataport_http_requests", "dataport_http_request_duration_seconds", "dataport_jobs_created",
                   "dataport_jobs_completed", "dataport_jobs_failed", "dataport_jobs_cancelled",
                   "dataport_jobs_queued", "dataport_exports_running", "dataport_export_bytes",
                   "dataport_export_duration_seconds", "dataport_download_bytes",
                   "dataport_store_call_duration_seconds", "dataport_tokens_issued", "dataport_sign_in_failures"):
        assert family in before, f"{family} missing: {sorted(before)}"
    assert before["dataport_jobs_created"].type == "counter"
    assert before["dataport_http_request_duration_seconds"].type == "histogram"
    assert before["dataport_jobs_queued"].type == "gauge"

    grant = srv.mint([GROUP, FAIL_GROUP, BIG_GROUP])
    done = initiate(srv, grant.token, GROUP)
    state = poll(srv, grant.token, done)
    assert state["state"] == "COMPLETE", state
    downloaded = sum(len(requests.get(url, timeout=30).content) for url in state["urls"])
    failed = initiate(srv, grant.token, FAIL_GROUP)
    assert poll(srv, grant.token, failed)["state"] == "FAILED"
    big = initiate(srv, grant.token, BIG_GROUP)
    r = requests.post(f"{srv.base}/v1/archiveJobs/{big}:cancel",
                      headers={"Authorization": f"Bearer {grant.token}"}, json={}, timeout=10)
    assert r.status_code == 200, r.text
    assert requests.get(f"{srv.base}/v1/nothing-here", timeout=10).status_code == 404

    # A worker counts a job once its state is recorded, a moment after a poll can see it: scrape
    # until the job series have moved (bounded), then compare everything.
    deadline = time.monotonic() + 10
    while True:
        after = scrape(srv)
        if all(value(after, f, None, **l) - value(before, f, None, **l) >= 1
               for f, l in (("dataport_jobs_completed", {}), ("dataport_jobs_failed", {"reason": "source"}),
                            ("dataport_jobs_cancelled", {}))) or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    def moved(family: str, sample: str | None = None, **labels) -> float:
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    assert moved("dataport_http_requests", route="portabilityArchive.initiate", method="POST", status=200) == 3
    assert moved("dataport_http_requests", route="archiveJobs.getPortabilityArchiveState", status=200) >= 2
    assert moved("dataport_http_requests", route="archiveJobs.cancel", status=200) == 1
    assert moved("dataport_http_requests", route="/download/{job}/{part}", status=200) == len(state["urls"])
    assert moved("dataport_http_requests", route="unmatched", status=404) >= 1
    assert moved("dataport_http_request_duration_seconds", "dataport_http_request_duration_seconds_count",
                 route="portabilityArchive.initiate") == 3
    assert moved("dataport_jobs_created") == 3
    assert moved("dataport_jobs_completed") == 1
    assert moved("dataport_jobs_failed", reason="source") == 1
    assert moved("dataport_jobs_cancelled") == 1
    assert moved("dataport_export_bytes", "dataport_export_bytes_count") == 1
    assert moved("dataport_export_bytes", "dataport_export_bytes_sum") > 0
    assert moved("dataport_export_duration_seconds", "dataport_export_duration_seconds_count") == 1
    assert moved("dataport_download_bytes") == downloaded > 0
    assert moved("dataport_store_call_duration_seconds", "dataport_store_call_duration_seconds_count",
                 call="initiate") == 3

    # Labels name routes, never raw paths: no job id is a label value anywhere.
    for family in after.values():
        for sample in family.samples:
            for label in sample.labels.values():
                assert done not in label and big not in label, (family.name, sample)

    # The same series in OpenMetrics, for scrapers that ask for it, read by the strict parser.
    r = requests.get(srv.metrics_url, headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                     timeout=10)
    assert r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    open_families = {f.name: f for f in parse_openmetrics(r.text)}
    assert open_families["dataport_jobs_completed"].type == "counter"
    assert value(open_families, "dataport_jobs_completed", "dataport_jobs_completed_total") >= 1
