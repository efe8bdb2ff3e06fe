"""Fixtures for the Google-client conformance suite.

A session-scoped ``dataportd serve`` is started on a free loopback port with a
temporary data directory; tests mint their own (user, client) grants through
``dataportd admin token`` so that they never share quota, cooldown or job state.

Environment:
  DATAPORTD  path of the dataportd binary (default: <repo>/target/debug/dataportd)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DATAPORTD = Path(os.environ.get("DATAPORTD") or REPO_ROOT / "target" / "debug" / "dataportd")

# Everything this suite talks to is on loopback: never let a proxy from the
# environment route it elsewhere (httplib2 and requests both honour these).
for _var in ("no_proxy", "NO_PROXY"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_hosts + ["127.0.0.1", "localhost"])

# Exports of this group always FAIL (server flag --emulator-fail), for retry tests.
FAIL_GROUP = "youtube.comments"
# This group is made huge (--emulator-group-records) so that its export stays
# IN_PROGRESS long enough for cancel / ALREADY_EXISTS tests; every test that
# starts it cancels it straight away.
BIG_GROUP = "myactivity.youtube"
BIG_RECORDS = 20_000_000
# Every other group is small, to keep the suite fast.
SMALL_RECORDS = 25
# Multi-part archives: a part size far below one group's data.
MULTIPART_RECORDS = 200
MULTIPART_PART_SIZE = 3000

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
ADMIN_TIMEOUT_S = 30.0

_started_servers: list["Server"] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Grant:
    token: str
    user: str
    client: str
    resources: tuple[str, ...]
    access: str


class Server:
    def __init__(self, name: str, extra_args: list[str]):
        self.name = name
        self.extra_args = extra_args
        self.tmp = Path(tempfile.mkdtemp(prefix=f"dataport-pytest-{name}-"))
        self.data_dir = self.tmp / "data"
        self.log_path = self.tmp / "dataportd.stderr"
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self._log = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        # googleapiclient substitutes {api} and {apiVersion}.
        return f"{self.base}/$discovery/rest?version={{apiVersion}}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        # Configuration must come from the command line only.
        for key in list(env):
            if key.startswith("DATAPORT_"):
                del env[key]
        return env

    def start(self) -> None:
        if not DATAPORTD.is_file():
            pytest.exit(
                f"dataportd binary not found at {DATAPORTD}; run `cargo build --bin dataportd` "
                "or set DATAPORTD",
                returncode=2,
            )
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = _free_port()
            self._log = open(self.log_path, "ab")
            cmd = [
                str(DATAPORTD), "serve",
                "--data-dir", str(self.data_dir),
                "--listen", f"127.0.0.1:{self.port}",
                *self.extra_args,
            ]
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
                env=self._env(), cwd=self.tmp,
            )
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = f"dataportd exited with {self.proc.returncode} during start-up"
                    break
                try:
                    r = requests.get(f"{self.base}/healthz", timeout=2)
                    if r.status_code == 200:
                        _started_servers.append(self)
                        return
                except requests.RequestException as exc:
                    last_error = repr(exc)
                time.sleep(0.1)
            else:
                last_error = f"/healthz not ready within {STARTUP_TIMEOUT_S} s"
            self.stop()
        raise RuntimeError(
            f"could not start dataportd ({self.name}): {last_error}\n"
            f"--- dataportd stderr ---\n{self.stderr_tail()}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, max_chars: int = 20_000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no stderr captured)"
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        return text[-max_chars:] or "(empty)"

    def mint(
        self,
        resources,
        access: str = "one-time",
        *,
        user: str | None = None,
        client: str | None = None,
        token_seconds: int | None = None,
    ) -> Grant:
        """Create or extend the (user, client) grant and return a fresh access token."""
        if isinstance(resources, str):
            resources = [resources]
        user = user or f"user-{uuid.uuid4().hex[:12]}"
        client = client or f"client-{uuid.uuid4().hex[:12]}"
        cmd = [
            str(DATAPORTD), "admin", "token",
            "--data-dir", str(self.data_dir),
            "--user", user, "--client", client,
            "--resources", ",".join(resources),
            "--access", access,
        ]
        if token_seconds is not None:
            cmd += ["--token-seconds", str(token_seconds)]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=ADMIN_TIMEOUT_S,
            env=self._env(), cwd=self.tmp, stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, f"admin token failed ({out.returncode}): {out.stderr}"
        token = out.stdout.strip()
        assert token and "\n" not in token and " " not in token, (
            f"admin token must print only the token, got {out.stdout!r}"
        )
        return Grant(token, user, client, tuple(resources), access)

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _serve(name: str, extra_args: list[str]):
    srv = Server(name, extra_args)
    srv.start()
    try:
        yield srv
    finally:
        crashed = not srv.alive()
        srv.stop()
        if crashed:
            print(f"\n--- dataportd ({srv.name}) had exited before teardown; stderr ---\n"
                  f"{srv.stderr_tail()}")
        srv.cleanup()


@pytest.fixture(scope="session")
def server():
    """The main server: small emulator data, one huge group, one failing group."""
    yield from _serve(
        "main",
        [
            "--emulator-records", str(SMALL_RECORDS),
            "--emulator-group-records", f"{BIG_GROUP}={BIG_RECORDS}",
            "--emulator-fail", FAIL_GROUP,
            "--workers", "4",
        ],
    )


@pytest.fixture(scope="session")
def multipart_server():
    """A server with a tiny part size, so that one export spans many data parts."""
    yield from _serve(
        "multipart",
        ["--emulator-records", str(MULTIPART_RECORDS), "--part-size", str(MULTIPART_PART_SIZE)],
    )


@pytest.fixture
def mint(server):
    """mint(resources, access="one-time", user=?, client=?) -> Grant, a new pair by default."""
    assert server.alive(), f"dataportd is not running\n{server.stderr_tail()}"
    return server.mint


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in _started_servers:
            report.sections.append(
                (f"dataportd stderr ({srv.name}, last 20000 chars)", srv.stderr_tail())
            )


def api_for(server: Server):
    """A builder api(token=None, version="v1", refresh_on_401=True) -> googleapiclient Resource.

    With a token the client is built exactly as an app would build it:
    ``credentials=google.oauth2.credentials.Credentials(token)``.  google-auth's
    transport then answers a 401 by trying to refresh the credentials, which a
    bare access token cannot do (google.auth.exceptions.RefreshError); pass
    ``refresh_on_401=False`` to get the server's 401 as an HttpError instead.
    Without a token no Authorization header is sent at all.
    """
    import google.oauth2.credentials
    import google_auth_httplib2
    import httplib2
    from googleapiclient import discovery

    def _build(token: str | None = None, version: str = "v1", refresh_on_401: bool = True):
        kwargs = dict(discoveryServiceUrl=server.discovery_url, static_discovery=False)
        if token is None:
            return discovery.build("dataportability", version, http=httplib2.Http(timeout=30), **kwargs)
        creds = google.oauth2.credentials.Credentials(token)
        if refresh_on_401:
            return discovery.build("dataportability", version, credentials=creds, **kwargs)
        http = google_auth_httplib2.AuthorizedHttp(
            creds, http=httplib2.Http(timeout=30), refresh_status_codes=()
        )
        return discovery.build("dataportability", version, http=http, **kwargs)

    return _build


@pytest.fixture
def api(server):
    return api_for(server)
