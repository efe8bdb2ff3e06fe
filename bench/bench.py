#!/usr/bin/env python3
"""dataport benchmark harness (issue 4, ENGINEERING.md §5). Run it through bench/run.

Every benchmark runs its baseline in the same invocation, so each result is a ratio that survives
a noisy shared machine:

  1. export throughput   1 GB of one group's emulator data, initiate -> COMPLETE through the API,
                         against `zip -1` and `gzip -1` over the same JSON bytes on disk
  2. memory              peak RSS (/usr/bin/time -v around `dataportd serve`) at 100 MB and 2 GB
  3. scaling             export time per MB at 10 MB, 100 MB and 1 GB
  4. small-job latency   initiate -> COMPLETE of 1 group x 1,000 records, p50/p99 over 100 jobs
  5. polling             getPortabilityArchiveState under wrk against nginx serving the same body
  6. download            signed-URL download of a ~1 GB part against nginx serving the same file
  7. scale-out           benchmarks 1, 4 and 5 on PostgreSQL + S3 (a throwaway cluster and s3s-fs),
                         each against the SQLite + disk figure of the same invocation
  8. sources             an operator's SQL source (5 million rows) against `psql \copy` of the
                         same query, and a 1 GiB photo through the files source: rows/s, peak RSS

`--smoke` runs a tiny version of each (seconds), prints the numbers, fails loudly if a benchmark
breaks and never fails for being slow; it writes nothing. The full run writes bench/RESULTS.md.

Every server gets a fresh temporary data dir and a free loopback port; nginx runs as our own process
with a generated config. Everything started here is stopped, and every temporary file removed, on
success, failure, Ctrl-C or SIGTERM.
"""

import argparse
import datetime
import glob
import hashlib
import http.client
import io
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "RESULTS.md")
GROUP = "myactivity.youtube"
BYTES_PER_RECORD = 324  # the emulator's average JSON bytes per record of GROUP
MB = 1_000_000  # throughput is reported in MB/s with MB = 10^6 bytes
MIB = 1 << 20
POLL_MIN_S, POLL_MAX_S = 0.001, 0.020  # see Server.wait_complete

FULL = {
    "throughput_mb": 1000,  # benchmark 1; its runs are also the 1 GB point of benchmark 3
    "scaling_mb": [10, 100, 1000],
    "export_runs": 5,
    "baseline_runs": 5,
    "memory_mb": [100, 2000],  # 100 MB comes from the scaling runs
    "memory_runs": 5,
    "small_jobs": 100,
    "small_records": 1000,
    "wrk_threads": 2,
    "wrk_conns": 32,
    "wrk_seconds": 10,
    "wrk_rounds": 5,
    "download_mb": 1000,
    "download_rounds": 5,
    "verify_download": False,
    "source_rows": 5_000_000,
    "source_runs": 3,
    "photo_mib": 1024,
}
SMOKE = {
    "throughput_mb": 2,
    "scaling_mb": [1, 2],
    "export_runs": 1,
    "baseline_runs": 1,
    "memory_mb": [1, 2],
    "memory_runs": 1,
    "small_jobs": 5,
    "small_records": 1000,
    "wrk_threads": 2,
    "wrk_conns": 32,
    "wrk_seconds": 1,
    "wrk_rounds": 1,
    "download_mb": 3,
    "download_rounds": 1,
    "verify_download": True,
    "source_rows": 20_000,
    "source_runs": 1,
    "photo_mib": 4,
}

# Debian packages providing the tools (installed with apt-get when missing and running as root).
TOOLS = {"curl": "curl", "zip": "zip", "gzip": "gzip", "/usr/bin/time": "time", "nginx": "nginx", "wrk": "wrk"}


class BenchError(Exception):
    """A benchmark broke (as opposed to being slow)."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# Processes and temporary files, all released by Ctx.cleanup()


class Ctx:
    def __init__(self, keep_tmp=False):
        self.root = tempfile.mkdtemp(prefix="dataport-bench-")
        self.procs = []
        self.finalizers = []
        self.keep_tmp = keep_tmp
        self.tools = {}

    def mkdtemp(self, name):
        return tempfile.mkdtemp(prefix=name + "-", dir=self.root)

    def spawn(self, argv, **kw):
        """Starts a process in its own process group (so Ctrl-C reaches only us; we stop it)."""
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def run(self, argv, timeout, **kw):
        """Runs a command to completion with a bounded time; returns (seconds, returncode)."""
        start = time.perf_counter()
        p = self.spawn(argv, **kw)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(p, signal.SIGKILL, 5)
            raise BenchError(f"{shlex.join(argv)} did not finish within {timeout:.0f} s")
        finally:
            if p.poll() is not None and p in self.procs:
                self.procs.remove(p)
        return time.perf_counter() - start, rc

    def output(self, argv, timeout, **kw):
        """Runs a command with a bounded time and returns (seconds, stdout text); non-zero exit fails."""
        out_path = os.path.join(self.root, f"out-{time.monotonic_ns()}")
        with open(out_path, "wb") as out:
            secs, rc = self.run(argv, timeout, stdout=out, stderr=subprocess.STDOUT, **kw)
        with open(out_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        os.unlink(out_path)
        if rc != 0:
            raise BenchError(f"{shlex.join(argv)} exited with {rc}:\n{text[-2000:]}")
        return secs, text

    def on_cleanup(self, fn):
        """Runs `fn` at cleanup, for services that run outside our process groups."""
        self.finalizers.append(fn)

    def cleanup(self):
        for p in list(self.procs):
            if p.poll() is None:
                stop_group(p, signal.SIGTERM, 10)
        self.procs.clear()
        while self.finalizers:
            try:
                self.finalizers.pop()()
            except Exception as e:  # keep cleaning up
                log(f"cleanup: {e}")
        if self.keep_tmp:
            log(f"kept temporary files in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def stop_group(p, sig, wait_s):
    """Signals the process group led by p (a process we started), then SIGKILLs it if still alive."""
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=10)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(xs):
    return statistics.median(xs)


def percentile(xs, q):
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


# ---------------------------------------------------------------------------------------------------
# HTTP on loopback, one keep-alive connection per server


class Http:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, headers=None, body=None, timeout=60, sink=None):
        """Returns (status, headers with lowercase names, body bytes or bytes written to sink)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if sink is None:
                    return resp.status, hdrs, resp.read()
                n = 0
                while chunk := resp.read(1 << 20):
                    sink.write(chunk)
                    n += len(chunk)
                return resp.status, hdrs, n
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt or method not in ("GET", "HEAD") or sink is not None:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------------------
# dataportd under /usr/bin/time -v


class Server:
    def __init__(self, ctx, name, args, services=None, group=GROUP, catalogue=None):
        """A server on SQLite + disk in its data dir, or with `services` on a fresh PostgreSQL
        database and S3 prefix of their own."""
        self.ctx = ctx
        self.dir = ctx.mkdtemp(name)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.time_file = os.path.join(self.dir, "time.txt")
        self.log_file = os.path.join(self.dir, "server.log")
        self.group = group
        self.where = ["--data-dir", self.data] + (services.fresh_state() if services else [])
        if catalogue:
            self.where += ["--catalogue", catalogue]  # serve and the admin commands alike
        self.argv = [ctx.bin, "serve", "--no-demo", *self.where, "--listen",
                     f"127.0.0.1:{self.port}", "--rate-limit", "0", *args]
        self.proc = None
        self.http = Http(self.port)
        self.usage = None

    def command(self):
        """The command line as RESULTS.md shows it."""
        return show(self.ctx, ["/usr/bin/time", "-v", *self.argv], self.subst())

    def subst(self, token=None, job=None):
        return [(self.dir, "$DIR"), (f"127.0.0.1:{self.port}", "127.0.0.1:$PORT"), (token, "$TOKEN"),
                (job, "$JOB"), *Services.subst(self.where)]

    def token_argv(self, access="one-time", client="bench"):
        return [self.ctx.bin, "admin", "token", *self.where, "--user", "bench", "--client", client,
                "--resources", self.group, "--access", access]

    def token_command(self, access="one-time", client="bench"):
        return show(self.ctx, self.token_argv(access, client), self.subst())

    def start(self, timeout=120):
        with open(self.log_file, "wb") as logf:
            self.proc = self.ctx.spawn(["/usr/bin/time", "-v", "-o", self.time_file, *self.argv],
                                       stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"dataportd exited with {self.proc.returncode} at startup:\n{self.tail()}")
            try:
                status, _, _ = self.http.request("GET", "/healthz", timeout=5)
                if status == 200:
                    return self
            except OSError:
                self.http.close()
            time.sleep(0.05)
        raise BenchError(f"dataportd did not answer /healthz within {timeout} s:\n{self.tail()}")

    def tail(self):
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def reported_seconds(self, job):
        """The export duration the server logs itself ("export complete ... seconds=X"), if it does."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.tail_all())
        for line in text.splitlines():
            if job in line and "export complete" in line:
                m = re.search(r"seconds\W+([0-9.]+)", line)
                if m:
                    return float(m.group(1))
        return None

    def archive_bytes(self, job):
        """The size of the job's parts, from the server's own "export complete … bytes=N" line
        (wherever the blobs live)."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.tail_all())
        for line in text.splitlines():
            if job in line and "export complete" in line:
                m = re.search(r"bytes\W+([0-9]+)", line)
                if m:
                    return int(m.group(1))
        raise BenchError(f"the server logged no size for job {job}")

    def tail_all(self):
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def token(self, client="bench", access="one-time"):
        _, out = self.ctx.output(self.token_argv(access, client), timeout=60)
        token = out.strip().splitlines()[-1].strip()
        if not token:
            raise BenchError("dataportd admin token printed nothing")
        return token

    def initiate(self, token):
        status, _, body = self.http.request(
            "POST", "/v1/portabilityArchive:initiate",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=json.dumps({"resources": [self.group]}))
        if status != 200:
            raise BenchError(f"initiate answered {status}: {body[:500]!r}")
        return json.loads(body)["archiveJobId"]

    def state(self, token, job, query="fields=state&prettyPrint=false"):
        status, _, body = self.http.request(
            "GET", f"/v1/archiveJobs/{job}/portabilityArchiveState?{query}",
            headers={"Authorization": f"Bearer {token}"})
        if status != 200:
            raise BenchError(f"getPortabilityArchiveState answered {status}: {body[:500]!r}")
        return json.loads(body)

    def wait_complete(self, token, job, timeout, start=None):
        """Polls until the job leaves IN_PROGRESS, bounded in count and time. The pause between polls
        is 1% of the time elapsed since `start`, at least POLL_MIN_S and at most POLL_MAX_S, so the
        polling delay adds at most ~1% (or 1 ms) to a measurement without flooding the server."""
        start = time.perf_counter() if start is None else start
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / POLL_MIN_S) + 1):
            state = self.state(token, job)["state"]
            if state != "IN_PROGRESS":
                if state != "COMPLETE":
                    raise BenchError(f"job {job} ended {state}:\n{self.tail()}")
                return
            if time.monotonic() > deadline:
                break
            time.sleep(min(POLL_MAX_S, max(POLL_MIN_S, (time.perf_counter() - start) / 100)))
        raise BenchError(f"job {job} still IN_PROGRESS after {timeout:.0f} s")

    def urls(self, token, job):
        urls = self.state(token, job, "fields=urls&prettyPrint=false")["urls"]
        paths = []
        for url in urls:
            u = urllib.parse.urlsplit(url)
            if u.hostname != "127.0.0.1" or u.port != self.port:
                raise BenchError(f"signed URL {url} does not point at this server")
            paths.append(u.path + "?" + u.query)
        return paths

    def get(self, path, sink=None):
        status, hdrs, body = self.http.request("GET", path, sink=sink, timeout=300)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        return hdrs, body

    def manifest(self, paths):
        _, body = self.get(paths[-1])
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return json.loads(z.read("Portability/manifest.json"))

    def stop(self, remove=True):
        """SIGINT to the process group: time(1) ignores it, dataportd shuts down gracefully, and
        time(1) then writes the peak RSS. Returns the usage dict."""
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_group(self.proc, signal.SIGKILL, 5)
                raise BenchError("dataportd did not stop within 30 s of SIGINT")
        if self.proc in self.ctx.procs:
            self.ctx.procs.remove(self.proc)
        self.usage = parse_time_v(self.time_file)
        if remove and not self.ctx.keep_tmp:
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.usage


def parse_time_v(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = ""

    def field(name):
        m = re.search(re.escape(name) + r"[^:]*:\s*([0-9.]+)", text)
        return float(m.group(1)) if m else None

    rss_kb = field("Maximum resident set size")
    if rss_kb is None:
        raise BenchError(f"/usr/bin/time -v wrote no peak RSS to {path}: {text[-500:]!r}")
    return {"rss_mib": rss_kb / 1024, "user_s": field("User time"), "sys_s": field("System time")}


def show(ctx, argv, subst=()):
    """A command line as RESULTS.md shows it: (value, placeholder) pairs in subst replaced first
    (temporary dirs, ports, tokens, job ids), then the temp root and the checkout's path."""
    s = shlex.join(str(a) for a in argv)
    for value, placeholder in subst:
        if value:
            s = s.replace(str(value), placeholder)
    s = s.replace(ctx.root, "$TMP").replace(ROOT + "/", "")
    # shlex single-quotes words holding a placeholder ('Authorization: Bearer $TOKEN'); double quotes
    # let a shell expand them, so the command can be pasted with the variables set
    return re.sub(r"'([^'\"\\`]*\$[A-Z_]+[^'\"\\`]*)'", r'"\1"', s)


# ---------------------------------------------------------------------------------------------------
# Benchmarks


def records_for(mb):
    return max(1, round(mb * MB / BYTES_PER_RECORD))


def records_match(got, asked):
    """The emulator places records on a grid of whole microseconds, so a full export holds the asked
    number of records give or take one at each edge of the history window (emulator.rs)."""
    return abs(got - asked) <= 2 + asked // 100_000


def export_run(ctx, mb, cfg, extra=(), keep=False, services=None):
    """One export of `mb` MB on a fresh server: times initiate -> COMPLETE, reads the true size from
    manifest.json, stops the server (unless keep) and returns the numbers."""
    records = records_for(mb)
    srv = Server(ctx, f"export-{mb}mb", ["--emulator-group-records", f"{GROUP}={records}", *extra],
                 services).start()
    token = srv.token()
    start = time.perf_counter()
    job = srv.initiate(token)
    srv.wait_complete(token, job, timeout=120 + mb / 2, start=start)  # fails below ~2 MB/s: a hang
    seconds = time.perf_counter() - start
    paths = srv.urls(token, job)
    manifest = srv.manifest(paths)
    size = sum(f["size"] for f in manifest["files"])
    got_records = sum(f.get("records") or 0 for f in manifest["files"])
    if size <= 0 or not records_match(got_records, records):
        raise BenchError(f"manifest lists {size} bytes and {got_records} records, expected {records} records")
    archive = srv.archive_bytes(job)
    run = {"target_mb": mb, "records": records, "bytes": size, "seconds": seconds, "mbps": size / MB / seconds,
           "archive_bytes": archive, "parts": len(paths), "server": srv.command(), "token_cmd": srv.token_command(),
           "server_s": srv.reported_seconds(job)}
    if keep:
        run.update(srv=srv, token=token, job=job, paths=paths, manifest=manifest)
    else:
        usage = srv.stop()
        run.update(rss_mib=usage["rss_mib"], cpu_s=(usage["user_s"] or 0) + (usage["sys_s"] or 0))
    log(f"export {mb} MB: {size} bytes in {seconds:.2f} s = {run['mbps']:.1f} MB/s"
        + (f", peak RSS {run['rss_mib']:.1f} MiB" if "rss_mib" in run else ""))
    return run


def finish_kept(run):
    usage = run.pop("srv").stop()
    for k in ("token", "job", "paths", "manifest"):
        run.pop(k, None)
    run.update(rss_mib=usage["rss_mib"], cpu_s=(usage["user_s"] or 0) + (usage["sys_s"] or 0))
    log(f"  (server of that export: peak RSS {run['rss_mib']:.1f} MiB)")


def extract_json(ctx, run):
    """Downloads the data parts of a kept export and unzips them into a temp dir: the same JSON bytes
    the server rendered, pre-rendered on disk for the zip/gzip baseline. Checks every SHA-256."""
    srv, manifest = run["srv"], run["manifest"]
    d = ctx.mkdtemp("baseline")
    files = []
    for i, path in enumerate(run["paths"][:-1]):
        zpath = os.path.join(d, f"part-{i}.zip")
        with open(zpath, "wb") as f:
            srv.get(path, sink=f)
        with zipfile.ZipFile(zpath) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                z.extract(info, os.path.join(d, "json"))
                files.append(info.filename)
        os.unlink(zpath)
    expect = {f["path"]: f for f in manifest["files"]}
    if sorted(files) != sorted(expect):
        raise BenchError(f"archive holds {files}, manifest lists {sorted(expect)}")
    for name in files:
        h = hashlib.sha256()
        with open(os.path.join(d, "json", name), "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        if h.hexdigest() != expect[name]["sha256"]:
            raise BenchError(f"{name}: SHA-256 differs from manifest.json")
    return d, files


def baseline_run(ctx, d, files, tool, size):
    out = os.path.join(d, "out.zip" if tool == "zip" else "out.gz")
    if os.path.exists(out):
        os.unlink(out)
    cwd = os.path.join(d, "json")
    if tool == "zip":
        argv = ["zip", "-1", "-q", out, *files]
        secs, rc = ctx.run(argv, timeout=1800, cwd=cwd)
    else:
        argv = ["gzip", "-1", "-c", *files]
        with open(out, "wb") as f:
            secs, rc = ctx.run(argv, timeout=1800, cwd=cwd, stdout=f)
    if rc != 0 or os.path.getsize(out) == 0:
        raise BenchError(f"{shlex.join(argv)} failed ({rc})")
    compressed = os.path.getsize(out)
    os.unlink(out)
    log(f"{tool} -1: {size} bytes in {secs:.2f} s = {size / MB / secs:.1f} MB/s")
    return {"seconds": secs, "mbps": size / MB / secs, "compressed": compressed,
            "command": "cd $DIR/json && " + (shlex.join(["zip", "-1", "-q", "OUT", *files]).replace("OUT", "$DIR/out.zip")
                                             if tool == "zip" else shlex.join(["gzip", "-1", "-c", *files])
                                             + " > $DIR/out.gz") + "   # $DIR/out.* removed after each run"}


# Benchmarks 1, 3 and 2 share their export runs (target MB -> list of runs): every export runs on its
# own server under /usr/bin/time -v, so each one also yields a peak RSS.


def bench_throughput(ctx, cfg, R, runs):
    """Benchmark 1 (and the 1 GB point of benchmark 3): exports interleaved with the baselines."""
    tmb = cfg["throughput_mb"]
    log(f"benchmark 1: export throughput, {tmb} MB, {cfg['export_runs']} runs against zip -1 / gzip -1")
    first = export_run(ctx, tmb, cfg, keep=True)
    d, files = extract_json(ctx, first)
    size = first["bytes"]
    finish_kept(first)
    runs[tmb] = [first]
    base = {"zip": [], "gzip": []}
    for i in range(max(cfg["export_runs"], cfg["baseline_runs"])):
        if i > 0 and i < cfg["export_runs"]:
            runs[tmb].append(export_run(ctx, tmb, cfg))
        if i < cfg["baseline_runs"]:
            base["zip"].append(baseline_run(ctx, d, files, "zip", size))
            base["gzip"].append(baseline_run(ctx, d, files, "gzip", size))
    shutil.rmtree(d, ignore_errors=True)
    R["throughput"] = {"mb": tmb, "runs": runs[tmb], "zip": base["zip"], "gzip": base["gzip"], "bytes": size,
                       "files": files}


def bench_scaling(ctx, cfg, R, runs):
    log(f"benchmark 3: scaling {cfg['scaling_mb']} MB, {cfg['export_runs']} runs each")
    for mb in cfg["scaling_mb"]:
        while len(runs.setdefault(mb, [])) < cfg["export_runs"]:
            runs[mb].append(export_run(ctx, mb, cfg))
    R["scaling"] = {mb: runs[mb] for mb in cfg["scaling_mb"]}


def bench_memory(ctx, cfg, R, runs):
    log(f"benchmark 2: memory at {cfg['memory_mb']} MB (reusing the runs of benchmarks 1 and 3 where they exist)")
    for mb in cfg["memory_mb"]:
        want = cfg["memory_runs"]
        while len(runs.setdefault(mb, [])) < want:
            runs[mb].append(export_run(ctx, mb, cfg))
    R["memory"] = {mb: runs[mb] for mb in cfg["memory_mb"]}


def bench_small_jobs(ctx, cfg, R, runs=None, services=None, key="small"):
    n, records = cfg["small_jobs"], cfg["small_records"]
    log(f"benchmark 4: small-job latency, {n} jobs of 1 group x {records} records"
        + (" on PostgreSQL + S3" if services else ""))
    srv = Server(ctx, "small", ["--emulator-group-records", f"{GROUP}={records}", "--cooldown-seconds", "0"],
                 services).start()
    try:
        token = srv.token(access="30d")
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            job = srv.initiate(token)
            srv.wait_complete(token, job, timeout=120, start=start)
            samples.append(time.perf_counter() - start)
        # the last job's archive must be readable and hold every record
        manifest = srv.manifest(srv.urls(token, job))
        got = sum(f.get("records") or 0 for f in manifest["files"])
        if not records_match(got, records):
            raise BenchError(f"small job exported {got} records, expected {records}")
        R[key] = {"jobs": n, "records": records, "samples": samples, "server": srv.command(),
                  "token": srv.token_command("30d")}
    finally:
        usage = srv.stop()
    R[key]["rss_mib"] = usage["rss_mib"]
    ms = [s * 1000 for s in samples]
    log(f"small jobs: p50 {median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms")


class Nginx:
    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = ctx.mkdtemp("nginx")
        self.www = os.path.join(self.dir, "www")
        os.mkdir(self.www)
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.mkdir(os.path.join(self.dir, t))
        self.port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must read our 0700 temp dirs
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""{user}worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ application/json json; application/zip zip; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.www};
    }}
}}
""")
        self.proc = None
        self.http = Http(self.port)

    def start(self):
        with open(os.path.join(self.dir, "stderr.log"), "wb") as errf:
            self.proc = self.ctx.spawn([self.ctx.tools["nginx"], "-p", self.dir, "-c", self.conf, "-e",
                                        os.path.join(self.dir, "error.log")], stdout=errf, stderr=subprocess.STDOUT)
        with open(os.path.join(self.www, "ping"), "w") as f:
            f.write("ok")
        for _ in range(200):
            if self.proc.poll() is not None:
                raise BenchError(f"nginx exited with {self.proc.returncode}: {self.errors()}")
            try:
                if self.http.request("GET", "/ping", timeout=5)[0] == 200:
                    return self
            except OSError:
                self.http.close()
            time.sleep(0.05)
        raise BenchError(f"nginx did not answer within 10 s: {self.errors()}")

    def errors(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), encoding="utf-8", errors="replace") as f:
                    out += f.read()[-1500:]
            except OSError:
                pass
        return out

    def stop(self):
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc, signal.SIGQUIT, 15)  # graceful shutdown of master and workers
        if self.proc in self.ctx.procs:
            self.ctx.procs.remove(self.proc)
        if not self.ctx.keep_tmp:
            shutil.rmtree(self.dir, ignore_errors=True)


def parse_duration_ms(s):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk_run(ctx, cfg, url, token):
    argv = [ctx.tools["wrk"], f"-t{cfg['wrk_threads']}", f"-c{cfg['wrk_conns']}", f"-d{cfg['wrk_seconds']}s",
            "--latency", "-H", f"Authorization: Bearer {token}", url]
    _, out = ctx.output(argv, timeout=cfg["wrk_seconds"] + 60)
    rps = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise BenchError(f"cannot read wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if non2xx:
        raise BenchError(f"{url}: {non2xx.group(1)} non-2xx responses under wrk:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errs = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()))) if errors else {}
    if errs.get("connect") or errs.get("read") or errs.get("write"):
        raise BenchError(f"{url}: socket errors under wrk:\n{out}")
    lat = {}
    for q in ("50", "99"):
        m = re.search(rf"^\s*{q}%\s+(\S+)", out, re.M)
        lat[q] = parse_duration_ms(m.group(1)) if m else None
    if int(total.group(1)) == 0:
        raise BenchError(f"{url}: wrk completed no request:\n{out}")
    return {"rps": float(rps.group(1)), "requests": int(total.group(1)), "p50_ms": lat["50"], "p99_ms": lat["99"],
            "timeouts": errs.get("timeout", 0)}


def bench_polling(ctx, cfg, nginx, R):
    log(f"benchmark 5: polling under wrk -t{cfg['wrk_threads']} -c{cfg['wrk_conns']} -d{cfg['wrk_seconds']}s, "
        f"{cfg['wrk_rounds']} rounds against nginx")
    srv = Server(ctx, "polling", ["--emulator-group-records", f"{GROUP}=1000"]).start()
    try:
        token = srv.token()
        job = srv.initiate(token)
        srv.wait_complete(token, job, timeout=120)
        path = f"/v1/archiveJobs/{job}/portabilityArchiveState"
        status, hdrs, body = srv.http.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        if status != 200 or json.loads(body)["state"] != "COMPLETE":
            raise BenchError(f"state of the COMPLETE job answered {status}: {body[:300]!r}")
        with open(os.path.join(nginx.www, "state.json"), "wb") as f:
            f.write(body)
        st, nh, nb = nginx.http.request("GET", "/state.json")
        if st != 200 or len(nb) != len(body):
            raise BenchError(f"nginx served state.json with {st}, {len(nb)} bytes (expected {len(body)})")
        ours_url, nginx_url = srv.base + path, f"http://127.0.0.1:{nginx.port}/state.json"
        ours, theirs = [], []
        for _ in range(cfg["wrk_rounds"]):
            ours.append(wrk_run(ctx, cfg, ours_url, token))
            theirs.append(wrk_run(ctx, cfg, nginx_url, token))
            log(f"polling: dataportd {ours[-1]['rps']:.0f} req/s, nginx {theirs[-1]['rps']:.0f} req/s")
        wrk = [ctx.tools["wrk"], f"-t{cfg['wrk_threads']}", f"-c{cfg['wrk_conns']}", f"-d{cfg['wrk_seconds']}s",
               "--latency", "-H", f"Authorization: Bearer {token}"]
        R["polling"] = {"body_bytes": len(body), "ours": ours, "nginx": theirs, "server": srv.command(),
                        "token": srv.token_command(),
                        "commands": [show(ctx, wrk + [ours_url], srv.subst(token, job)),
                                     show(ctx, wrk + [nginx_url], [(token, "$TOKEN"), (nginx.port, "$NGINX_PORT")])]}
    finally:
        srv.stop()


class Services:
    """A throwaway PostgreSQL cluster (scripts/pg-cluster) and S3 server (scripts/s3-server,
    s3s-fs, installed on first use) for benchmark 7, stopped at cleanup."""

    S3_KEYS = {"AWS_ACCESS_KEY_ID": "dataport-test", "AWS_SECRET_ACCESS_KEY": "dataport-test-secret"}

    def __init__(self, ctx):
        self.ctx = ctx
        self.pg_dir = ctx.mkdtemp("postgres")
        self.s3_dir = ctx.mkdtemp("s3")
        self.pg = self.s3 = None

    def start(self):
        scripts = os.path.join(ROOT, "scripts")
        if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not shutil.which("initdb"):
            if os.geteuid() != 0 or not shutil.which("apt-get"):
                raise BenchError("PostgreSQL is missing: apt-get install postgresql")
            log("installing PostgreSQL from Debian: apt-get install -y postgresql")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]):
                if self.ctx.run(argv, timeout=900, env=env, stdout=sys.stderr)[1] != 0:
                    raise BenchError(f"{shlex.join(argv)} failed")
        self.ctx.output(["bash", os.path.join(scripts, "s3-server"), "install"], timeout=1800)
        os.chmod(self.ctx.root, 0o711)  # the cluster runs as the postgres user, inside our temp dir
        _, out = self.ctx.output(["bash", os.path.join(scripts, "pg-cluster"), self.pg_dir], timeout=300)
        self.pg = out.strip().splitlines()[-1]
        _, out = self.ctx.output(["bash", os.path.join(scripts, "s3-server"), self.s3_dir], timeout=120)
        self.s3 = out.strip().splitlines()[-1]
        os.environ.update(self.S3_KEYS)  # read by every dataportd started from here on
        self.ctx.on_cleanup(self.stop)
        return self

    def stop(self):
        scripts = os.path.join(ROOT, "scripts")
        for script, d in (("pg-cluster", self.pg_dir), ("s3-server", self.s3_dir)):
            subprocess.run(["bash", os.path.join(scripts, script), "stop", d], capture_output=True, timeout=120)

    def fresh_state(self):
        """`--database-url` of a new database and `--blob-url` of a new prefix, for one server."""
        name = f"bench_{os.urandom(8).hex()}"
        psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1:] or [shutil.which("psql") or "psql"]
        self.ctx.output([psql[0], "-X", "-q", "-v", "ON_ERROR_STOP=1", self.pg, "-c", f"CREATE DATABASE {name}"],
                        timeout=60)
        location, _, query = self.s3.partition("?")
        return ["--database-url", self.pg.rsplit("/", 1)[0] + "/" + name,
                "--blob-url", f"{location}/{name}?{query}"]

    @staticmethod
    def subst(state):
        """Placeholders for the per-server URLs in the commands RESULTS.md shows."""
        out = []
        for flag, label in (("--database-url", "postgres://postgres@127.0.0.1:$PG_PORT/$DB"),
                            ("--blob-url", "s3://dataport-test/$DB?endpoint=http://127.0.0.1:$S3_PORT&…")):
            if flag in state:
                out.append((state[state.index(flag) + 1], label))
        return out


def bench_scaleout(ctx, cfg, R, runs):
    """Benchmark 7: export throughput, small-job latency and polling on PostgreSQL + S3, each
    against SQLite + disk measured in this invocation (benchmarks 1, 4 and 5 when they ran, else
    here), interleaved where this benchmark runs both."""
    services = Services(ctx).start()
    tmb = cfg["throughput_mb"]
    log(f"benchmark 7: PostgreSQL + S3 ({services.pg}, {services.s3})")
    embedded = runs.setdefault(tmb, [])
    scaled = []
    for i in range(cfg["export_runs"]):
        if len(embedded) <= i:
            embedded.append(export_run(ctx, tmb, cfg))
        scaled.append(export_run(ctx, tmb, cfg, services=services))
    if "small" not in R:
        bench_small_jobs(ctx, cfg, R)
    bench_small_jobs(ctx, cfg, R, services=services, key="small_scaleout")
    polling = {}
    for name, svc in (("embedded", None), ("scaleout", services)):
        srv = Server(ctx, f"polling-{name}", ["--emulator-group-records", f"{GROUP}=1000"], svc).start()
        try:
            token = srv.token()
            job = srv.initiate(token)
            srv.wait_complete(token, job, timeout=120)
            polling[name] = (srv, token, srv.base + f"/v1/archiveJobs/{job}/portabilityArchiveState")
        except BaseException:
            srv.stop()
            raise
    try:
        rounds = {"embedded": [], "scaleout": []}
        for _ in range(cfg["wrk_rounds"]):
            for name, (_, token, url) in polling.items():
                rounds[name].append(wrk_run(ctx, cfg, url, token))
            log(f"polling: SQLite {rounds['embedded'][-1]['rps']:.0f} req/s, "
                f"PostgreSQL {rounds['scaleout'][-1]['rps']:.0f} req/s")
        server = polling["scaleout"][0].command()
    finally:
        for srv, _, _ in polling.values():
            srv.stop()
    R["scaleout"] = {"export_mb": tmb, "embedded": embedded[:cfg["export_runs"]], "scaled": scaled,
                     "polling": rounds, "server": server}


def bench_sources(ctx, cfg, R, runs):
    """Benchmark 8: the operator's own data. A SQL source streaming `source_rows` rows of one user
    from PostgreSQL, against `psql \\copy` of the same query to /dev/null (the database's own
    fastest way out), and a `photo_mib` MiB photo through the files source; peak RSS of each."""
    services = Services(ctx).start()
    n = cfg["source_rows"]
    log(f"benchmark 8: sources, {n:,} SQL rows and a {cfg['photo_mib']} MiB photo")
    db = services.pg.rsplit("/", 1)[0] + "/sources_bench"
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1:] or [shutil.which("psql") or "psql"]
    ctx.output([psql[0], "-X", "-q", "-v", "ON_ERROR_STOP=1", services.pg, "-c", "CREATE DATABASE sources_bench"], timeout=60)
    load = (
        "CREATE TABLE events (id bigint PRIMARY KEY, owner text NOT NULL, title text, amount numeric(12,2), "
        "created_at timestamptz NOT NULL, payload jsonb);"
        f"INSERT INTO events SELECT i, CASE WHEN i % 10 = 0 THEN 'other' ELSE 'bench' END, 'event ' || i, "
        f"(i % 100000) / 100.0, timestamptz '2020-01-01' + i * interval '1 second', "
        f"jsonb_build_object('n', i, 'tags', jsonb_build_array('a', 'b')) FROM generate_series(1, {n}) AS i;"
        "CREATE INDEX events_owner ON events (owner, created_at); ANALYZE events;"
    )
    secs, _ = ctx.output([psql[0], "-X", "-q", "-v", "ON_ERROR_STOP=1", db, "-c", load], timeout=1800)
    rows = n - n // 10
    log(f"loaded {n:,} rows ({rows:,} of the exported user) in {secs:.1f} s")
    query = "SELECT id, title, amount, created_at, payload FROM events WHERE owner = :subject"
    copy = (f"\\copy ({query.replace(':subject', quote_sql('bench'))} AND created_at < now() "
            f"ORDER BY created_at) to '/dev/null'")
    photos = ctx.mkdtemp("photos")
    os.makedirs(os.path.join(photos, "bench"))
    with open(os.path.join(photos, "bench", "photo.jpg"), "wb") as f:
        for _ in range(cfg["photo_mib"]):
            f.write(os.urandom(MIB))
    catalogue = os.path.join(ctx.mkdtemp("catalogue"), "catalogue.toml")
    with open(catalogue, "w") as f:
        f.write(f"""[[group]]
name = "bench.events"
title = "Events"
description = "Move a copy of your events"
time_filter = true
access_types = ["one-time", "time-based"]
folder = "Events"
format = "ndjson"
[group.source]
kind = "sql"
database = "{db}"
query = "{query}"
time_column = "created_at"

[[group]]
name = "bench.photos"
title = "Photos"
description = "Move a copy of your photos"
time_filter = false
access_types = ["one-time", "time-based"]
folder = "Photos"
[group.source]
kind = "files"
root = "{photos}/{{subject}}"
""")
    ours, theirs, photo = [], [], []
    for _ in range(cfg["source_runs"]):
        secs, _ = ctx.output([psql[0], "-X", "-q", "-v", "ON_ERROR_STOP=1", db, "-c", copy], timeout=1800)
        theirs.append({"seconds": secs, "rows_s": rows / secs})
        seconds, manifest, usage, server = timed_export(Server(ctx, "sources", [], group="bench.events",
                                                               catalogue=catalogue))
        got = sum(f.get("records") or 0 for f in manifest["files"])
        if got != rows:
            raise BenchError(f"the SQL source exported {got} rows, expected {rows}")
        ours.append({"seconds": seconds, "rows_s": rows / seconds, "rss_mib": usage["rss_mib"]})
        log(f"sql source: {rows / seconds:,.0f} rows/s (psql \\copy {theirs[-1]['rows_s']:,.0f}), "
            f"peak RSS {usage['rss_mib']:.1f} MiB")
        seconds, manifest, usage, _ = timed_export(Server(ctx, "photos", [], group="bench.photos", catalogue=catalogue))
        size = sum(f["size"] for f in manifest["files"] if f["path"].endswith("photo.jpg"))
        if size != cfg["photo_mib"] * MIB:
            raise BenchError(f"the photo was exported with {size} bytes")
        photo.append({"seconds": seconds, "mbps": size / MB / seconds, "rss_mib": usage["rss_mib"]})
        log(f"files source: {cfg['photo_mib']} MiB photo in {seconds:.2f} s, peak RSS {usage['rss_mib']:.1f} MiB")
    R["sources"] = {"rows": rows, "table_rows": n, "ours": ours, "psql": theirs, "photo": photo,
                    "photo_mib": cfg["photo_mib"], "server": server, "copy": show(ctx, [psql[0], db, "-c", copy])}


def timed_export(srv):
    """Starts `srv`, exports its group once (initiate to COMPLETE) and stops it; returns the
    seconds, the manifest, the server's usage and its command line."""
    srv.start()
    try:
        token = srv.token()
        start = time.perf_counter()
        job = srv.initiate(token)
        srv.wait_complete(token, job, timeout=1800, start=start)
        seconds = time.perf_counter() - start
        manifest = srv.manifest(srv.urls(token, job))
    finally:
        usage = srv.stop()
    return seconds, manifest, usage, srv.command()


def quote_sql(text):
    return "'" + text.replace("'", "''") + "'"


def curl_download(ctx, url, expect):
    argv = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url]
    _, out = ctx.output(argv, timeout=600)
    code, size, secs = out.split()
    if code != "200" or int(size) != expect:
        raise BenchError(f"download of {url} answered {code} with {size} bytes (expected {expect})")
    return {"seconds": float(secs), "mbps": int(size) / MB / float(secs)}


def bench_download(ctx, cfg, nginx, R):
    mb = cfg["download_mb"]
    log(f"benchmark 6: download of a ~{mb} MB part (--compression-level 0), {cfg['download_rounds']} rounds")
    run = export_run(ctx, mb, cfg, extra=["--compression-level", "0"], keep=True)
    srv = run["srv"]
    try:
        job = run["job"]
        blobs = sorted(glob.glob(os.path.join(srv.data, "blobs", "jobs", job, "*", "part-000*")))
        if len(blobs) != 1:
            raise BenchError(f"cannot find part 0 of job {job} on disk: {blobs}")
        size = os.path.getsize(blobs[0])
        target = os.path.join(nginx.www, "part.zip")
        try:
            os.link(blobs[0], target)  # the same file: same inode, same page cache
        except OSError:
            shutil.copyfile(blobs[0], target)
        status, hdrs, _ = srv.http.request("HEAD", run["paths"][0])
        if status != 200 or int(hdrs.get("content-length", -1)) != size:
            raise BenchError(f"HEAD of part 0 answered {status}, length {hdrs.get('content-length')}, file {size}")
        if cfg["verify_download"]:  # check the bytes too, not just the count
            h = hashlib.sha256()
            srv.get(run["paths"][0], sink=type("Hasher", (), {"write": staticmethod(h.update)}))
            with open(blobs[0], "rb") as f:
                if hashlib.file_digest(f, "sha256").hexdigest() != h.hexdigest():
                    raise BenchError("downloaded part 0 differs from the file on disk")
        ours_url = srv.base + run["paths"][0]
        nginx_url = f"http://127.0.0.1:{nginx.port}/part.zip"
        ours, theirs = [], []
        for _ in range(cfg["download_rounds"]):
            ours.append(curl_download(ctx, ours_url, size))
            theirs.append(curl_download(ctx, nginx_url, size))
            log(f"download: dataportd {ours[-1]['mbps']:.0f} MB/s, nginx {theirs[-1]['mbps']:.0f} MB/s")
        curl = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"]
        R["download"] = {"bytes": size, "ours": ours, "nginx": theirs, "server": srv.command(),
                         "export_seconds": run["seconds"], "json_bytes": run["bytes"],
                         "commands": [show(ctx, curl + ["http://127.0.0.1:$PORT/download/$JOB/0?exp=…&kid=…&sig=…"]),
                                      show(ctx, curl + [nginx_url], [(nginx.port, "$NGINX_PORT")])]}
    finally:
        finish_kept(run)


BENCHMARKS = [  # in run order: (--only key, name, function)
    ("export", "export throughput (1)", bench_throughput),
    ("scaling", "scaling (3)", bench_scaling),
    ("memory", "memory (2)", bench_memory),
    ("small", "small-job latency (4)", bench_small_jobs),
    ("polling", "polling (5)", bench_polling),
    ("download", "download (6)", bench_download),
    ("scaleout", "PostgreSQL + S3 (7)", bench_scaleout),
    ("sources", "operator sources (8)", bench_sources),
]

# ---------------------------------------------------------------------------------------------------
# Setup: tools, binary, machine


def ensure_tools(ctx, no_install):
    def find(tool):
        if tool.startswith("/"):
            return tool if os.access(tool, os.X_OK) else None
        return shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}")
                                           if os.access(p, os.X_OK)), None)

    missing = [t for t in TOOLS if not find(t)]
    if missing:
        pkgs = sorted({TOOLS[t] for t in missing})
        if os.geteuid() != 0 or no_install or not shutil.which("apt-get"):
            raise BenchError(f"missing tools {missing}; install them with: apt-get install -y {' '.join(pkgs)}")
        log(f"installing from Debian (missing {', '.join(missing)}): apt-get install -y {' '.join(pkgs)}")
        # Keep the packages' maintainer scripts from starting a system nginx on port 80.
        policy = "/usr/sbin/policy-rc.d"
        made_policy = not os.path.exists(policy)
        if made_policy:
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
        try:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *pkgs]):
                secs, rc = ctx.run(argv, timeout=900, env=env, stdout=sys.stderr)
                if rc != 0:
                    raise BenchError(f"{shlex.join(argv)} failed with {rc}")
        finally:
            if made_policy:
                os.unlink(policy)
        still = [t for t in TOOLS if not find(t)]
        if still:
            raise BenchError(f"still missing after apt-get: {still}")
    ctx.tools = {t: find(t) for t in TOOLS}


def build(ctx, args):
    if args.dataportd:
        ctx.bin = os.path.abspath(args.dataportd)
    else:
        ctx.bin = os.path.join(ROOT, "target", "release", "dataportd")
        if not args.no_build:
            log("cargo build --release --bin dataportd")
            secs, rc = ctx.run(["cargo", "build", "--release", "--bin", "dataportd"], timeout=3600, cwd=ROOT,
                               stdout=sys.stderr)
            if rc != 0:
                raise BenchError("cargo build --release --bin dataportd failed")
    if not os.access(ctx.bin, os.X_OK):
        raise BenchError(f"no dataportd binary at {ctx.bin} (run without --no-build)")


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine(ctx):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"]).splitlines()
    st = os.stat(ctx.bin)
    tool_versions = {
        "nginx": sh([ctx.tools["nginx"], "-v"]) or subprocess.run([ctx.tools["nginx"], "-v"], capture_output=True,
                                                                  text=True).stderr.strip(),
        "wrk": (sh([ctx.tools["wrk"], "-v"]).splitlines() or ["?"])[0],
        "zip": (sh(["zip", "-v"]).splitlines() or ["?", "?"])[1].strip(),
        "gzip": (sh(["gzip", "--version"]).splitlines() or ["?"])[0],
        "curl": (sh(["curl", "--version"]).splitlines() or ["?"])[0],
    }
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": sh(["nproc"]) or str(os.cpu_count()),
        "cpu": cpu,
        "mem_gib": mem / (1 << 20),
        "kernel": platform.release(),
        "commit": sh(["git", "rev-parse", "HEAD"]) or "?",
        "subject": sh(["git", "log", "-1", "--format=%s"]),
        "dirty": [d.strip() for d in dirty],
        "binary": os.path.relpath(ctx.bin, ROOT),
        "binary_mtime": datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"),
        "binary_sha256": hashlib.file_digest(open(ctx.bin, "rb"), "sha256").hexdigest()[:16],
        "load_start": open("/proc/loadavg").read().split()[:3],
        "tools": tool_versions,
    }


# ---------------------------------------------------------------------------------------------------
# Report


def size_name(mb):
    return f"{mb / 1000:g} GB" if mb >= 1000 else f"{mb:g} MB"


def server_seconds(runs):
    xs = [r["server_s"] for r in runs if r.get("server_s") is not None]
    return f"{median(xs):.3f}" if xs else "—"


def fmt_list(xs, f="{:.2f}"):
    return ", ".join(f.format(x) for x in xs)


def round_ratios(ours, theirs, key):
    """Each alternating round's ratio (ours ÷ the baseline run right after it), in run order."""
    return [a[key] / b[key] for a, b in zip(ours, theirs)]


def spread(ratios):
    return f"rounds {min(ratios):.2f}–{max(ratios):.2f}×"


def goals(R):
    rows = []
    t = R.get("throughput")
    if t:
        ours = median([r["mbps"] for r in t["runs"]])
        z = median([r["mbps"] for r in t["zip"]])
        rows.append(("export ≥ 1.0× `zip -1` throughput", f"{ours:.1f} MB/s ÷ {z:.1f} MB/s = **{ours / z:.2f}×**",
                     ours / z >= 1.0))
    m = R.get("memory")
    if m:
        big = max(m)
        rss = [r["rss_mib"] for r in m[big]]
        rows.append((f"peak RSS < 150 MiB at {size_name(big)}",
                     f"max {max(rss):.1f} MiB (median {median(rss):.1f}) over {len(rss)} runs", max(rss) < 150))
    s = R.get("small")
    if s:
        p50 = median(s["samples"]) * 1000
        rows.append(("small-job p50 < 100 ms", f"p50 {p50:.1f} ms (p99 {percentile(s['samples'], 99) * 1000:.1f} ms)",
                     p50 < 100))
    p = R.get("polling")
    if p:
        a, b = median([r["rps"] for r in p["ours"]]), median([r["rps"] for r in p["nginx"]])
        rows.append(("polling ≥ 0.5× nginx", f"{a:,.0f} ÷ {b:,.0f} req/s = **{a / b:.2f}×** "
                     f"({spread(round_ratios(p['ours'], p['nginx'], 'rps'))})", a / b >= 0.5))
    d = R.get("download")
    if d:
        a, b = median([r["mbps"] for r in d["ours"]]), median([r["mbps"] for r in d["nginx"]])
        rows.append(("download ≥ 0.9× nginx", f"{a:,.0f} ÷ {b:,.0f} MB/s = **{a / b:.2f}×** "
                     f"({spread(round_ratios(d['ours'], d['nginx'], 'mbps'))})", a / b >= 0.9))
    return rows


def render(R, M, args, smoke, elapsed, failures):
    L = []
    add = L.append
    add("# dataport benchmark results" + (" (smoke run: tiny sizes, not results)" if smoke else "")
        + (" (partial run: --only)" if "--only" in " ".join(args) else ""))
    add("")
    add("Written by `bench/run` (bench/bench.py) for issue 4; ENGINEERING.md §5. Every ratio compares numbers "
        "measured in the same invocation on the same machine. MB = 10^6 bytes, MiB = 2^20 bytes.")
    add("")
    add(f"- **Date:** {M['date']} (whole run: {elapsed / 60:.1f} min)")
    add(f"- **Machine:** nproc {M['nproc']}, {M['cpu']}, {M['mem_gib']:.1f} GiB RAM, Linux {M['kernel']}; "
        f"load average at start {' '.join(M['load_start'])}, at end {' '.join(M.get('load_end', ['?']))}")
    dirty = (f"; at run time the working tree had {len(M['dirty'])} modified tracked file(s): "
             + ", ".join(f"`{d}`" for d in M["dirty"])) if M["dirty"] else "; clean working tree"
    add(f"- **Commit:** `{M['commit']}` ({M['subject']}){dirty}")
    add(f"- **Binary:** `{M['binary']}` built {M['binary_mtime']}, sha256 {M['binary_sha256']}…")
    add("- **Tools:** " + "; ".join(f"{v}" for v in M["tools"].values()))
    add(f"- **Command:** `{shlex.join(['bench/run', *args])}`")
    add("")
    if failures:
        add("## Failures")
        add("")
        for name, err in failures:
            add(f"- **{name}:** `{str(err).splitlines()[0][:300]}`")
        add("")
    add("## Goals (issue 4)")
    add("")
    add("| goal | measured | met? |")
    add("|---|---|---|")
    for goal, measured, met in goals(R):
        add(f"| {goal} | {measured} | {'met' if met else '**not met**'} |")
    sc = R.get("scaling")
    if sc:
        per = {mb: median([r["seconds"] / (r["bytes"] / MB) for r in runs]) for mb, runs in sc.items()}
        lo, hi = min(per), max(per)
        add(f"| time per MB flat from {size_name(lo)} to {size_name(hi)} (informational) | "
            + ", ".join(f"{size_name(mb)}: {v * 1000:.2f} ms/MB" for mb, v in per.items())
            + f"; {size_name(hi)} ÷ {size_name(lo)} = {per[hi] / per[lo]:.2f}× | — |")
    add("")

    t = R.get("throughput")
    if t:
        add(f"## 1. Export throughput ({t['bytes'] / MB:.0f} MB of `{GROUP}` JSON)")
        add("")
        add(f"Each export runs on a fresh server (fresh data dir, free port). Timed from the `initiate` POST to the "
            f"first poll answering COMPLETE (polling `?fields=state` on one keep-alive connection, pausing 1% of the "
            f"elapsed time between polls, at least 1 ms and at most 20 ms). Size = sum of `size` in manifest.json ({t['runs'][0]['records']:,} "
            f"records). Baseline: the exported JSON unzipped from the archive to a temp dir (SHA-256 checked against "
            f"manifest.json), then `zip -1` / `gzip -1` over it, interleaved with the exports.")
        add("")
        add("| | median MB/s | median s | runs (MB/s) | ratio ours ÷ baseline |")
        add("|---|---|---|---|---|")
        ours = median([r["mbps"] for r in t["runs"]])
        add(f"| dataportd export | {ours:.1f} | {median([r['seconds'] for r in t['runs']]):.2f} | "
            f"{fmt_list([r['mbps'] for r in t['runs']], '{:.1f}')} | |")
        for tool in ("zip", "gzip"):
            b = median([r["mbps"] for r in t[tool]])
            add(f"| `{tool} -1` | {b:.1f} | {median([r['seconds'] for r in t[tool]]):.2f} | "
                f"{fmt_list([r['mbps'] for r in t[tool]], '{:.1f}')} | **{ours / b:.2f}×** |")
        add("")
        arch = median([r["archive_bytes"] for r in t["runs"]])
        add(f"Compressed sizes: dataportd archive {arch / MB:.1f} MB, `zip -1` {t['zip'][0]['compressed'] / MB:.1f} MB, "
            f"`gzip -1` {t['gzip'][0]['compressed'] / MB:.1f} MB. Server CPU time (user+sys over the server's life) "
            f"per export: {fmt_list([r['cpu_s'] for r in t['runs']], '{:.1f}')} s against wall "
            f"{fmt_list([r['seconds'] for r in t['runs']])} s. The server's own log puts the export at "
            f"{server_seconds(t['runs'])} s (median of its `export complete … seconds=` lines).")
        add("")
        add("Commands:")
        add("")
        add("```sh")
        add(t["runs"][0]["server"])
        add(t["runs"][0]["token_cmd"])
        add("# then, timed, over one keep-alive connection (Python http.client):")
        add("#   POST /v1/portabilityArchive:initiate {\"resources\":[\"" + GROUP + "\"]}")
        add("#   GET  /v1/archiveJobs/$JOB/portabilityArchiveState?fields=state&prettyPrint=false  until COMPLETE")
        add(t["zip"][0]["command"])
        add(t["gzip"][0]["command"])
        add("```")
        add("")

    m = R.get("memory")
    if m:
        add("## 2. Memory (peak RSS of `dataportd serve`)")
        add("")
        add("`/usr/bin/time -v` around `dataportd serve`, one server per export, stopped with SIGINT after the job "
            "is COMPLETE and manifest.json has been read; \"Maximum resident set size\". Every export of benchmarks "
            "1 and 3 is measured the same way (below: all sizes).")
        add("")
        add("| export | runs | median MiB | max MiB | samples (MiB) |")
        add("|---|---|---|---|---|")
        allruns = {}
        for src in (R.get("scaling", {}), m):
            for mb, runs in src.items():
                allruns[mb] = runs
        for mb in sorted(allruns):
            rss = [r["rss_mib"] for r in allruns[mb]]
            add(f"| {allruns[mb][0]['bytes'] / MB:,.0f} MB | {len(rss)} | {median(rss):.1f} | {max(rss):.1f} | "
                f"{fmt_list(rss, '{:.1f}')} |")
        add("")
        big = max(m)
        add(f"The {size_name(big)} exports took {fmt_list([r['seconds'] for r in m[big]], '{:.1f}')} s "
            f"({median([r['mbps'] for r in m[big]]):.1f} MB/s median). Command: `{m[big][0]['server']}`")
        add("")

    if sc:
        add("## 3. Scaling")
        add("")
        add("Same procedure as benchmark 1; each size on fresh servers.")
        add("")
        add("| target | bytes exported | runs | median s | median ms/MB | median MB/s | samples (s) "
            "| server-logged s (median) |")
        add("|---|---|---|---|---|---|---|---|")
        for mb, runs in sc.items():
            add(f"| {size_name(mb)} | {runs[0]['bytes']:,} | {len(runs)} | {median([r['seconds'] for r in runs]):.3f} | "
                f"{median([r['seconds'] / (r['bytes'] / MB) for r in runs]) * 1000:.2f} | "
                f"{median([r['mbps'] for r in runs]):.1f} | {fmt_list([r['seconds'] for r in runs], '{:.3f}')} | "
                f"{server_seconds(runs)} |")
        add("")

    s = R.get("small")
    if s:
        ms = [x * 1000 for x in s["samples"]]
        add(f"## 4. Small-job latency ({s['jobs']} jobs of 1 group × {s['records']:,} records)")
        add("")
        add(f"One server (`--cooldown-seconds 0`), one `--access 30d` token; jobs one after another, each timed from "
            f"the `initiate` POST to the first poll answering COMPLETE, polled as in benchmark 1 (so a sample "
            f"includes at most ~1 ms of polling delay). Percentiles are nearest-rank.")
        add("")
        add(f"| p50 | p99 | min | max | mean |")
        add("|---|---|---|---|---|")
        add(f"| {median(ms):.1f} ms | {percentile(ms, 99):.1f} ms | {min(ms):.1f} ms | {max(ms):.1f} ms | "
            f"{statistics.mean(ms):.1f} ms |")
        add("")
        add(f"Samples in run order (ms): {fmt_list(ms, '{:.1f}')}")
        add("")
        add("```sh")
        add(s["server"])
        add(s["token"])
        add("```")
        add("")

    p = R.get("polling")
    if p:
        cfg = R["cfg"]
        add("## 5. Polling (`getPortabilityArchiveState` of a COMPLETE job under wrk)")
        add("")
        add(f"Body: {p['body_bytes']} bytes (the server's default pretty-printed answer with signed URLs); nginx serves "
            f"a file holding one such answer. {cfg['wrk_rounds']} alternating rounds of "
            f"`wrk -t{cfg['wrk_threads']} -c{cfg['wrk_conns']} -d{cfg['wrk_seconds']}s` on loopback, the same "
            f"settings and headers for both; wrk shares the 2 cores with the server.")
        add("")
        add("| | median req/s | samples (req/s) | median p50 latency | median p99 latency | ratio |")
        add("|---|---|---|---|---|---|")
        a, b = median([r["rps"] for r in p["ours"]]), median([r["rps"] for r in p["nginx"]])
        for name, runs, ratio in (("dataportd", p["ours"], f"**{a / b:.2f}×**"), ("nginx", p["nginx"], "")):
            add(f"| {name} | {median([r['rps'] for r in runs]):,.0f} | {fmt_list([r['rps'] for r in runs], '{:,.0f}')}"
                f" | {median([r['p50_ms'] for r in runs]):.2f} ms | {median([r['p99_ms'] for r in runs]):.2f} ms"
                f" | {ratio} |")
        add("")
        add(f"Ratio of each round (dataportd ÷ the nginx run after it): "
            f"{fmt_list(round_ratios(p['ours'], p['nginx'], 'rps'))}.")
        tos = sum(r["timeouts"] for r in p["ours"] + p["nginx"])
        if tos:
            add("")
            add(f"wrk reported {tos} request timeouts in total.")
        add("")
        add("```sh")
        add(p["server"])
        for c in p["commands"]:
            add(c)
        add("```")
        add("")

    d = R.get("download")
    if d:
        add(f"## 6. Download (signed URL of a {d['bytes'] / MB:,.0f} MB part)")
        add("")
        add(f"Part 0 of a `--compression-level 0` export of {d['json_bytes'] / MB:,.0f} MB of JSON (export took "
            f"{d['export_seconds']:.1f} s); nginx serves the same file (a hard link). {len(d['ours'])} alternating "
            f"rounds of `curl -o /dev/null`; MB/s = bytes ÷ curl's `time_total`. The file is in the page cache "
            f"for both.")
        add("")
        add("| | median MB/s | samples (MB/s) | median s | ratio |")
        add("|---|---|---|---|---|")
        a, b = median([r["mbps"] for r in d["ours"]]), median([r["mbps"] for r in d["nginx"]])
        for name, runs, ratio in (("dataportd", d["ours"], f"**{a / b:.2f}×**"), ("nginx", d["nginx"], "")):
            add(f"| {name} | {median([r['mbps'] for r in runs]):,.0f} | {fmt_list([r['mbps'] for r in runs], '{:,.0f}')}"
                f" | {median([r['seconds'] for r in runs]):.3f} | {ratio} |")
        add("")
        add(f"Ratio of each round (dataportd ÷ the nginx run after it): "
            f"{fmt_list(round_ratios(d['ours'], d['nginx'], 'mbps'))}.")
        add("")
        add("```sh")
        add(d["server"])
        for c in d["commands"]:
            add(c)
        add("```")
        add("")
    so = R.get("scaleout")
    if so:
        add("## 7. PostgreSQL + S3 (scale-out backend) against SQLite + local disk")
        add("")
        add("The same benchmarks on one `dataportd serve` whose database is a fresh database on a throwaway "
            "PostgreSQL cluster (`scripts/pg-cluster`: fsync off, loopback) and whose blobs are a fresh prefix of a "
            "bucket on s3s-fs 0.14.1 (`scripts/s3-server`, loopback, data on the same disk), each against the "
            "SQLite + disk figure measured in this invocation. Both services share the machine's two cores with "
            "the server.")
        add("")
        add("| | SQLite + disk | PostgreSQL + S3 | runs (PostgreSQL + S3) | ratio PostgreSQL + S3 ÷ SQLite |")
        add("|---|---|---|---|---|")
        e_mbps = median([r["mbps"] for r in so["embedded"]])
        s_mbps = median([r["mbps"] for r in so["scaled"]])
        add(f"| export throughput, {so['export_mb']} MB (median MB/s) | {e_mbps:.1f} | {s_mbps:.1f} | "
            f"{fmt_list([r['mbps'] for r in so['scaled']], '{:.1f}')} | **{s_mbps / e_mbps:.2f}×** |")
        e_p50 = median(R["small"]["samples"]) * 1000
        s_p50 = median(R["small_scaleout"]["samples"]) * 1000
        add(f"| small-job latency, p50 of {R['small_scaleout']['jobs']} jobs (ms; lower is better) | {e_p50:.1f} | "
            f"{s_p50:.1f} | p99 {percentile(R['small_scaleout']['samples'], 99) * 1000:.1f} ms | "
            f"**{s_p50 / e_p50:.2f}×** |")
        e_rps = median([r["rps"] for r in so["polling"]["embedded"]])
        s_rps = median([r["rps"] for r in so["polling"]["scaleout"]])
        add(f"| polling (median req/s, alternating rounds) | {e_rps:.0f} | {s_rps:.0f} | "
            f"{fmt_list([r['rps'] for r in so['polling']['scaleout']], '{:.0f}')} | **{s_rps / e_rps:.2f}×** |")
        add("")
        add(f"Peak RSS of the PostgreSQL + S3 server per {so['export_mb']} MB export: "
            f"{fmt_list([r['rss_mib'] for r in so['scaled']], '{:.1f}')} MiB.")
        add("")
        add("Server command (PostgreSQL + S3):")
        add("")
        add("```sh")
        add(so["server"])
        add("```")
        add("")

    so = R.get("sources")
    if so:
        add(f"## 8. Operator sources (SQL: {so['rows']:,} rows of one user; files: a {so['photo_mib']} MiB photo)")
        add("")
        add(f"A PostgreSQL table of {so['table_rows']:,} rows (a tenth belong to another user), exported by a `kind = \"sql\"` "
            "group as NDJSON (initiate to COMPLETE, one fresh server per run), against `psql \\copy` of the same "
            "query, window and order to /dev/null in the same invocation. Peak RSS is the whole server's.")
        add("")
        add("| | median rows/s | runs (rows/s) | peak RSS (MiB) | ratio ours ÷ psql |")
        add("|---|---|---|---|---|")
        ours = median([r["rows_s"] for r in so["ours"]])
        base = median([r["rows_s"] for r in so["psql"]])
        add(f"| dataportd sql source | {ours:,.0f} | {fmt_list([r['rows_s'] for r in so['ours']], '{:,.0f}')} | "
            f"{fmt_list([r['rss_mib'] for r in so['ours']], '{:.1f}')} | **{ours / base:.2f}×** |")
        add(f"| `psql \\copy … to /dev/null` | {base:,.0f} | {fmt_list([r['rows_s'] for r in so['psql']], '{:,.0f}')} | | |")
        add("")
        add(f"Files source, one {so['photo_mib']} MiB photo (stored, not recompressed): "
            f"{fmt_list([r['mbps'] for r in so['photo']], '{:.0f}')} MB/s, peak RSS "
            f"{fmt_list([r['rss_mib'] for r in so['photo']], '{:.1f}')} MiB.")
        add("")
        add("```sh")
        add(so["server"])
        add(so["copy"])
        add("```")
        add("")

    nginx_conf = R.get("nginx_conf")
    if nginx_conf:
        add("## nginx configuration (benchmarks 5 and 6)")
        add("")
        add("```nginx")
        add(nginx_conf.rstrip())
        add("```")
        add("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(prog="bench/run", description="dataport benchmarks (issue 4).")
    ap.add_argument("--smoke", action="store_true", help="tiny version of each benchmark; writes nothing")
    ap.add_argument("--no-build", action="store_true", help="use target/release/dataportd as it is")
    ap.add_argument("--dataportd", metavar="PATH", help="benchmark this binary (implies --no-build)")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install missing tools")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory (debugging)")
    ap.add_argument("--only", metavar="LIST",
                    help="comma-separated subset of " + ",".join(k for k, _, _ in BENCHMARKS)
                    + " at full size (or smoke size with --smoke); prints the report, writes nothing")
    ap.add_argument("--output", default=RESULTS, help="where the full run writes its report (default %(default)s)")
    args = ap.parse_args()
    only = [k for k, _, _ in BENCHMARKS]
    if args.only:
        only = [k.strip() for k in args.only.split(",") if k.strip()]
        unknown = set(only) - {k for k, _, _ in BENCHMARKS}
        if unknown or not only:
            ap.error(f"--only: unknown benchmark(s) {sorted(unknown)}; choose from {','.join(k for k, _, _ in BENCHMARKS)}")
    argv = sys.argv[1:]

    def on_signal(signum, frame):
        log(f"got signal {signum}; cleaning up")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    cfg = SMOKE if args.smoke else FULL
    start = time.monotonic()
    ctx = Ctx(keep_tmp=args.keep_tmp)
    R = {"cfg": cfg}
    failures = []
    try:
        ensure_tools(ctx, args.no_install)
        build(ctx, args)
        M = machine(ctx)
        log(f"{'smoke' if args.smoke else 'full'} run: nproc {M['nproc']}, {M['cpu']}, commit {M['commit'][:12]}"
            + (f" (+{len(M['dirty'])} modified files)" if M["dirty"] else ""))
        nginx = None
        runs = {}
        for key, name, fn in BENCHMARKS:
            if key not in only:
                continue
            try:
                if key in ("polling", "download"):
                    if nginx is None:
                        nginx = Nginx(ctx)  # started once, shared by benchmarks 5 and 6
                        with open(nginx.conf) as f:
                            R["nginx_conf"] = (f.read().replace(nginx.dir, "$NGINX_DIR")
                                               .replace(f"127.0.0.1:{nginx.port}", "127.0.0.1:$NGINX_PORT"))
                        nginx.start()
                    elif nginx.proc is None or nginx.proc.poll() is not None:
                        raise BenchError("nginx is not running")
                    fn(ctx, cfg, nginx, R)
                else:
                    fn(ctx, cfg, R, runs)
            except BenchError as e:
                log(f"FAILED {name}: {e}")
                failures.append((name, e))
            except Exception as e:  # a bug in a benchmark is a failure too, reported with its traceback
                log(f"FAILED {name}:\n{traceback.format_exc()}")
                failures.append((name, e))
        if nginx is not None:
            nginx.stop()
        M["load_end"] = open("/proc/loadavg").read().split()[:3]
        report = render(R, M, argv, args.smoke, time.monotonic() - start, failures)
        if args.smoke or args.only:
            print(report)
        else:
            with open(args.output, "w") as f:
                f.write(report)
            log(f"wrote {os.path.relpath(args.output)}")
            for goal, measured, met in goals(R):
                print(f"{'met    ' if met else 'NOT MET'}  {goal}: {measured.replace('**', '')}")
    except BenchError as e:
        log(f"FAILED: {e}")
        failures.append(("setup", e))
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        ctx.cleanup()
        sys.exit(130)
    finally:
        ctx.cleanup()
    elapsed = time.monotonic() - start
    if failures:
        log(f"{len(failures)} benchmark group(s) FAILED after {elapsed:.1f} s: " + ", ".join(n for n, _ in failures))
        sys.exit(1)
    log(f"{'smoke' if args.smoke else 'full'} run OK: all benchmarks ran end to end in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
