"""Fixtures for the Google-client conformance suite.

A session-scoped ``dataportd serve`` is started on a free loopback port with a
temporary data directory; tests mint their own (user, client) grants through
``dataportd admin token`` so that they never share quota, cooldown or job state.

The suite runs on either deployment of SPEC §15 (``scripts/test`` runs it on both):
by default every server keeps its state in SQLite and a blob directory inside its data
directory; with ``DATAPORT_TEST_BACKEND=postgres`` every server gets a fresh PostgreSQL
database (``CREATE DATABASE`` through ``psql``) and a fresh key prefix of an S3 bucket,
passed to ``serve`` and to every admin command as ``--database-url`` / ``--blob-url``.

The OAuth suites (test_oauth_installed_app.py, test_consent_browser.py) create
their own users and clients with ``dataportd admin user add`` / ``admin client
add`` and go through the real authorization server (SPEC §10); the helpers for
that (``Server.add_user`` / ``add_client`` / ``audit``, ``HeadlessUser``, which
plays the user's browser with ``requests``) live here too.

Environment:
  DATAPORTD                   path of the dataportd binary (default: <repo>/target/debug/dataportd)
  DATAPORT_TEST_BACKEND       ``sqlite`` (the default when unset) or ``postgres``; any other
                              value stops the session
  DATAPORT_TEST_POSTGRES_URL  with ``postgres``: a PostgreSQL server on which the suite may
                              create databases (postgres://USER@HOST:PORT/DB; its path is
                              replaced by each server's own database)
  DATAPORT_TEST_S3_URL        with ``postgres``: an S3 bucket (s3://BUCKET[/PREFIX]?endpoint=…);
                              each server gets its own prefix /pytest-<hex> under it
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
                              the bucket's credentials, read by dataportd itself
With ``postgres`` and either URL missing the session stops at once: it never falls back to
SQLite. The ``DATAPORT_*`` variables are not passed on to dataportd (its configuration comes
from the command line only); ``AWS_*`` are.
"""

from __future__ import annotations

import functools
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
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

# The OAuth suites: access tokens of the `short_token_server` live this long, so that an
# app's credentials must refresh themselves against /token during a test.
SHORT_ACCESS_TOKEN_S = 3
SCOPE_PREFIX = "https://www.googleapis.com/auth/dataportability."
# Created by emulator mode (SPEC §13): a public client with loopback redirect URIs.
DEMO_USER, DEMO_PASSWORD, DEMO_CLIENT = "demo", "demo", "demo-client"

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
ADMIN_TIMEOUT_S = 30.0

# Select and locate the backend (see the module docstring).
BACKEND_VAR = "DATAPORT_TEST_BACKEND"
POSTGRES_URL_VAR = "DATAPORT_TEST_POSTGRES_URL"
S3_URL_VAR = "DATAPORT_TEST_S3_URL"

_started_servers: list["Server"] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- backend (SPEC §15)


@dataclass(frozen=True)
class Backend:
    """Where the suite's servers keep their state: ``sqlite`` (SQLite and a blob directory
    inside each server's data directory) or ``postgres`` (a fresh database on the PostgreSQL
    server ``postgres_url`` and a fresh key prefix of the S3 bucket ``s3_url`` per server)."""

    name: str
    postgres_url: str | None = None
    s3_url: str | None = None

    def server_args(self) -> list[str]:
        """The ``dataportd`` options that give one new server its own state, beside its
        ``--data-dir``: none on SQLite; on PostgreSQL + S3 a database created for it and a
        prefix no other server uses."""
        if self.name == "sqlite":
            return []
        return [
            "--database-url", _fresh_postgres_database(self.postgres_url),
            "--blob-url", _fresh_s3_prefix(self.s3_url),
        ]

    def describe(self) -> str:
        if self.name == "sqlite":
            return "sqlite (SQLite + blob directory in each server's data directory)"
        return (f"postgres (a fresh database on {_redact(self.postgres_url)} and a fresh prefix "
                f"of {self.s3_url} per server)")


@functools.cache
def suite_backend() -> Backend:
    """The backend ``DATAPORT_TEST_BACKEND`` selects; stops the session (never falls back to
    SQLite) on an unknown value or when ``postgres`` lacks one of its services."""
    choice = os.environ.get(BACKEND_VAR)
    if choice is None or choice == "sqlite":
        return Backend("sqlite")
    if choice != "postgres":
        pytest.exit(f"{BACKEND_VAR}={choice!r}: expected sqlite or postgres (or unset)", returncode=2)
    missing = [var for var in (POSTGRES_URL_VAR, S3_URL_VAR) if not os.environ.get(var)]
    if missing:
        pytest.exit(
            f"{BACKEND_VAR}=postgres but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "not set: the suite will not run on PostgreSQL + S3 without its services "
            "(scripts/test starts them; see scripts/pg-cluster and scripts/s3-server)",
            returncode=2,
        )
    return Backend("postgres", os.environ[POSTGRES_URL_VAR], os.environ[S3_URL_VAR])


def _psql() -> str:
    """The ``psql`` binary: the newest /usr/lib/postgresql/*/bin/psql, else ``psql`` on PATH."""
    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name))

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), key=version)
    if installed:
        return str(installed[-1])
    found = shutil.which("psql")
    if found is None:
        pytest.exit(f"{BACKEND_VAR}=postgres needs psql (Debian: apt-get install postgresql-client)",
                    returncode=2)
    return found


def _with_database(url: str, database: str) -> str:
    """``url`` (postgres://…) with its path replaced by ``/database``, query string kept."""
    location, question, query = url.partition("?")
    scheme, _, rest = location.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}{question}{query}"


def _fresh_postgres_database(server_url: str) -> str:
    """Creates an empty database ``test_<hex>`` on the PostgreSQL server ``server_url`` and
    returns its URL; dataportd creates the schema itself when it opens it."""
    name = f"test_{uuid.uuid4().hex}"
    cmd = [_psql(), server_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=ADMIN_TIMEOUT_S,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"CREATE DATABASE {name} on {_redact(server_url)} failed "
                           f"(psql exited with {out.returncode}): {out.stderr.strip()}")
    return _with_database(server_url, name)


def _fresh_s3_prefix(bucket_url: str) -> str:
    """``bucket_url`` (s3://BUCKET[/PREFIX]?…) with a new key prefix ``pytest-<hex>`` appended
    to its path, before the query string."""
    location, question, query = bucket_url.partition("?")
    return f"{location.rstrip('/')}/pytest-{uuid.uuid4().hex}{question}{query}"


def _redact(url: str) -> str:
    """``url`` without the password of its user info, for messages."""
    return re.sub(r"://([^:/?#@]*):[^/?#@]*@", r"://\1:***@", url)


def pytest_sessionstart(session):
    suite_backend()  # an unusable backend stops the session before the first test


def pytest_report_header(config):
    return f"dataportd backend: {suite_backend().describe()}"


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
        # A fresh database and blob prefix on PostgreSQL + S3 (nothing on SQLite), made once:
        # start-up retries on another port keep them.
        self.backend_args = suite_backend().server_args()
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

    def state_args(self) -> list[str]:
        """Where this server keeps its state, for ``serve`` and every admin command: its data
        directory and, on PostgreSQL + S3, ``--database-url`` and ``--blob-url``."""
        return ["--data-dir", str(self.data_dir), *self.backend_args]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        # Configuration must come from the command line only. AWS_* (the S3 credentials) are
        # kept: dataportd reads them itself.
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
                *self.state_args(),
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
            *self.state_args(),
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

    # ------------------------------------------------------------------ OAuth (SPEC §10)

    @property
    def auth_uri(self) -> str:
        return f"{self.base}/o/oauth2/v2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base}/token"

    def admin(self, *args: str, stdin: str | None = None) -> str:
        """Run ``dataportd admin ARGS --data-dir DIR [--database-url … --blob-url …]`` and return
        its stdout (asserting success)."""
        cmd = [str(DATAPORTD), "admin", *args, *self.state_args()]
        env = self._env()
        env["RUST_BACKTRACE"] = "0"
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=ADMIN_TIMEOUT_S, env=env, cwd=self.tmp,
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        )
        assert out.returncode == 0, f"{' '.join(cmd[1:4])} failed ({out.returncode}): {out.stderr}"
        return out.stdout

    def add_user(self, username: str | None = None, password: str | None = None) -> tuple[str, str]:
        """``admin user add`` with the password on stdin; returns (username, password)."""
        username = username or f"user-{uuid.uuid4().hex[:10]}"
        password = password or f"pw-{uuid.uuid4().hex}"
        self.admin("user", "add", "--username", username, stdin=password + "\n")
        return username, password

    def add_client(self, name: str, redirect_uris, *, public: bool = False,
                   refresh_rotation: str | None = None) -> dict:
        """``admin client add --json``; returns {"client_id", "client_secret"} (secret None if public).
        ``refresh_rotation`` ("never" or "rotate") overrides the default for the client's type."""
        args = ["client", "add", "--name", name, "--json"]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        if public:
            args.append("--public")
        if refresh_rotation is not None:
            args += ["--refresh-rotation", refresh_rotation]
        out = json.loads(self.admin(*args))
        assert set(out) == {"client_id", "client_secret"}, out
        assert (out["client_secret"] is None) == public, out
        return out

    def audit(self) -> list[dict]:
        """Every audit entry (``admin audit --json``: one JSON object per line), oldest first."""
        lines = self.admin("audit", "--json", "--limit", "1000000").splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return sorted(entries, key=lambda e: e["at"])

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


@pytest.fixture(scope="session")
def short_token_server():
    """Emulator mode with access tokens that expire after SHORT_ACCESS_TOKEN_S seconds."""
    yield from _serve(
        "short-tokens",
        [
            "--emulator-records", str(SMALL_RECORDS),
            "--access-token-seconds", str(SHORT_ACCESS_TOKEN_S),
            "--workers", "2",
        ],
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


# --------------------------------------------------------------------------- OAuth: the user's browser


@dataclass
class HtmlForm:
    action: str
    method: str
    inputs: list[dict] = field(default_factory=list)   # attributes of each <input>
    buttons: list[dict] = field(default_factory=list)  # attributes of each <button>

    def hidden(self) -> list[tuple[str, str]]:
        return [(i["name"], i.get("value", "")) for i in self.inputs
                if i.get("type") == "hidden" and i.get("name")]

    def values(self, name: str) -> list[str]:
        """The value attributes of the inputs named ``name``, in page order."""
        return [i.get("value", "") for i in self.inputs if i.get("name") == name]


class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[HtmlForm] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.forms.append(HtmlForm(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms:
            self.forms[-1].inputs.append(a)
        elif tag == "button" and self.forms:
            self.forms[-1].buttons.append(a)


def parse_forms(page: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


class HeadlessUser:
    """Plays the user's browser with ``requests``: opens the authorization URL, signs in on
    the login page and answers the consent page, submitting the HTML forms the way a browser
    without JavaScript would (hidden fields included, one cookie jar).

    ``groups``: the groups left ticked (None: all, as rendered); ``duration``: one-time, 30d
    or 180d; ``action``: allow or deny.  ``authorize(url)`` returns the URL the server sends
    the browser to at the end (the app's redirect URI with code or error, state and iss)
    without fetching it.
    """

    def __init__(self, server: Server, username: str, password: str, *, groups=None,
                 duration: str = "one-time", action: str = "allow"):
        self.server = server
        self.username = username
        self.password = password
        self.groups = groups
        self.duration = duration
        self.action = action
        self.http = requests.Session()
        self.http.trust_env = False
        self.login_page: str | None = None
        self.consent_page: str | None = None
        self.offered_groups: list[str] = []

    def _form(self, page: str, action: str) -> HtmlForm:
        forms = [f for f in parse_forms(page) if f.action == action]
        assert len(forms) == 1, f"expected one form posting to {action}: {page[:2000]}"
        assert forms[0].method == "post", forms[0]
        return forms[0]

    def authorize(self, url: str) -> str:
        base = self.server.base
        assert url.startswith(base + "/"), url
        r = self.http.get(url, allow_redirects=False, timeout=30)
        assert r.status_code == 200, (r.status_code, r.headers.get("Location"), r.text[:2000])
        assert r.headers["Content-Type"].startswith("text/html"), r.headers
        self.login_page = r.text
        login = self._form(r.text, "/o/oauth2/v2/login")
        assert {"username", "password"} <= {i.get("name") for i in login.inputs}, login.inputs
        data = login.hidden() + [("username", self.username), ("password", self.password)]
        r = self.http.post(base + login.action, data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 303, (r.status_code, r.text[:2000])
        consent_url = urllib.parse.urljoin(base + "/", r.headers["Location"])
        assert consent_url.startswith(base + "/o/oauth2/v2/consent?request="), consent_url

        r = self.http.get(consent_url, allow_redirects=False, timeout=30)
        assert r.status_code == 200, (r.status_code, r.headers.get("Location"), r.text[:2000])
        self.consent_page = r.text
        consent = self._form(r.text, "/o/oauth2/v2/consent")
        boxes = [i for i in consent.inputs if i.get("name") == "group"]
        assert boxes and all(i.get("type") == "checkbox" and "checked" in i for i in boxes), boxes
        self.offered_groups = [i["value"] for i in boxes]
        radios = [i for i in consent.inputs if i.get("name") == "duration"]
        assert self.duration in [i.get("value") for i in radios], radios
        actions = {b.get("value") for b in consent.buttons if b.get("name") == "action"}
        assert actions == {"allow", "deny"}, consent.buttons
        ticked = self.offered_groups if self.groups is None else list(self.groups)
        assert set(ticked) <= set(self.offered_groups), (ticked, self.offered_groups)
        data = consent.hidden() + [("group", g) for g in ticked] + [
            ("duration", self.duration), ("action", self.action)]
        r = self.http.post(base + consent.action, data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 303, (r.status_code, r.text[:2000])
        return r.headers["Location"]
