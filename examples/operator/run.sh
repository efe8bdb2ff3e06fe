#!/usr/bin/env bash
# The operator example end to end: the "Notes" app's PostgreSQL database and photo folders served
# by dataportd through examples/operator/catalogue.toml, and one user's export checked.
#
#   NOTES_DATABASE_URL=postgres://USER@HOST:PORT/DB examples/operator/run.sh
#
# Environment:
#   NOTES_DATABASE_URL  required: a PostgreSQL database the example may fill. schema.sql DROPS and
#                       recreates its tables users, notes and photos, then seed.sql fills them.
#   DATAPORTD           the server binary (default: target/debug/dataportd of this repository).
#   WORK_DIR            where the server's data, the downloaded archive and the export go
#                       (default: a new mktemp -d directory); kept afterwards. Its data/, archive/
#                       and export/ are emptied first, so the run can be repeated.
#   PSQL                the psql to use (default: the newest /usr/lib/postgresql/*/bin/psql, else
#                       psql on PATH).
#
# Steps: load the app's schema and data; start `dataportd serve` on a free loopback port with the
# catalogue and its own SQLite database in the work dir; create alice (subject u-1001); mint a
# one-time token for notes.all, notes.shopping and notes.photos; initiate an export; poll until it
# completes; download and unzip every part; verify every file of manifest.json with sha256sum;
# check that the export holds exactly alice's notes and photos and nothing of bob's (u-1002);
# print a summary and the export's files. The server is stopped on exit. Exit status 0 means every
# check passed; the summary is also written to WORK_DIR/summary.json.
#
# Needs: curl, python3 (standard library only), unzip, sha256sum, psql.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() {
  echo "run.sh: $*" >&2
  exit 1
}

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *) die "no arguments are taken (see --help); configure with environment variables" ;;
esac

[ -n "${NOTES_DATABASE_URL:-}" ] ||
  die "set NOTES_DATABASE_URL to a PostgreSQL database the example may fill, e.g. postgres://postgres@127.0.0.1:5432/notes"
export NOTES_DATABASE_URL
DATAPORTD=${DATAPORTD:-$repo/target/debug/dataportd}
[ -x "$DATAPORTD" ] || die "no dataportd at $DATAPORTD: build it (cargo build --bin dataportd) or set DATAPORTD"
for tool in curl python3 unzip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

find_psql() {
  if [ -n "${PSQL:-}" ]; then
    echo "$PSQL"
    return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$newest" ] && [ -x "$newest/psql" ]; then
    echo "$newest/psql"
    return
  fi
  command -v psql || die "no psql found (set PSQL, or apt-get install postgresql-client)"
}
psql=$(find_psql)

# The server reads DATAPORT_* variables as options: none from the caller's shell may leak in (a
# DATAPORT_DATABASE_URL would put its records elsewhere). DATAPORT_TEST_* are the test suite's.
for name in $(compgen -e | grep '^DATAPORT_' | grep -v '^DATAPORT_TEST_' || true); do
  unset "$name"
done

if [ -n "${WORK_DIR:-}" ]; then
  mkdir -p "$WORK_DIR"
  work=$(cd "$WORK_DIR" && pwd)
  rm -rf "$work/data" "$work/archive" "$work/export" "$work/server.log" "$work/summary.json"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/dataport-notes.XXXXXX")
fi
mkdir -p "$work/archive" "$work/export"

# --- 1. The app's own data -------------------------------------------------------------------

echo "== Loading the Notes app's schema and seed data into $(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(netloc=p.netloc.rsplit("@", 1)[-1]).geturl())' "$NOTES_DATABASE_URL")"
PGOPTIONS='-c client_min_messages=warning' "$psql" "$NOTES_DATABASE_URL" \
  -v ON_ERROR_STOP=1 -X -q --single-transaction -f "$here/schema.sql" -f "$here/seed.sql"

# What the database says each user owns, to check the export against (JSON, one line).
facts=$("$psql" "$NOTES_DATABASE_URL" -X -q -A -t -v ON_ERROR_STOP=1 -c "
  SELECT json_build_object(
    'alice_notes',    (SELECT coalesce(json_agg(id ORDER BY id), '[]') FROM notes WHERE owner = 'u-1001'),
    'alice_shopping', (SELECT coalesce(json_agg(id ORDER BY id), '[]') FROM notes WHERE owner = 'u-1001' AND price IS NOT NULL),
    'alice_photos',   (SELECT coalesce(json_agg(file_name ORDER BY file_name), '[]') FROM photos WHERE owner = 'u-1001'),
    'bob_notes',      (SELECT coalesce(json_agg(json_build_object('id', id, 'title', title) ORDER BY id), '[]') FROM notes WHERE owner = 'u-1002'),
    'bob_photos',     (SELECT coalesce(json_agg(file_name ORDER BY file_name), '[]') FROM photos WHERE owner = 'u-1002'))")

# --- 2. dataportd with the operator catalogue --------------------------------------------------

export NOTES_PHOTO_ROOT="$here/photos"
dp=(--data-dir "$work/data" --catalogue "$here/catalogue.toml")
server_pid=""

stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT

server_log_tail() {
  echo "--- last lines of $work/server.log:" >&2
  tail -n 30 "$work/server.log" >&2 || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the server and waits (30 s at most) for /healthz; another port if this one was taken.
start_server() {
  local attempt deadline
  for attempt in 1 2 3; do
    port=$(free_port)
    base="http://127.0.0.1:$port"
    "$DATAPORTD" serve "${dp[@]}" --listen "127.0.0.1:$port" --no-demo >"$work/server.log" 2>&1 &
    server_pid=$!
    deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        break
      fi
      if curl -fsS -o /dev/null --max-time 2 "$base/healthz" 2>/dev/null; then
        return 0
      fi
      sleep 0.2
    done
    if [ -n "$server_pid" ]; then
      server_log_tail
      die "dataportd did not answer $base/healthz within 30 s"
    fi
    grep -qi "address already in use\|cannot listen" "$work/server.log" || break
  done
  server_log_tail
  die "dataportd exited at start"
}

echo "== Starting dataportd (log: $work/server.log)"
start_server
echo "   listening on $base"

echo "== Creating alice (subject u-1001) and a one-time token for notes.all, notes.shopping, notes.photos"
python3 -c 'import secrets; print(secrets.token_urlsafe(18))' |
  "$DATAPORTD" admin user add "${dp[@]}" --username alice --subject u-1001 >/dev/null
token=$("$DATAPORTD" admin token "${dp[@]}" --user alice --client notes-importer \
  --resources notes.all,notes.shopping,notes.photos --access one-time)
[ -n "$token" ] || die "admin token printed no token"

# --- 3. The export, as an app does it ----------------------------------------------------------

json() { # json EXPRESSION: evaluates a Python expression on the JSON document `d` read from stdin
  python3 -c 'import json, sys; d = json.load(sys.stdin); r = eval(sys.argv[1]); print(r if isinstance(r, str) else json.dumps(r))' "$1"
}

echo "== Initiating the export"
answer=$(curl -sS -w '\n%{http_code}' -X POST -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"resources":["notes.all","notes.shopping","notes.photos"]}' \
  "$base/v1/portabilityArchive:initiate")
status=${answer##*$'\n'}
body=${answer%$'\n'*}
[ "$status" = 200 ] || die "initiate answered HTTP $status: $body"
job=$(json 'd["archiveJobId"]' <<<"$body")
echo "   archiveJobId $job"

echo "== Waiting for the export (60 s at most)"
deadline=$((SECONDS + 60))
while :; do
  body=$(curl -sS -H "Authorization: Bearer $token" "$base/v1/archiveJobs/$job/portabilityArchiveState")
  state=$(json 'd.get("state", "")' <<<"$body")
  case "$state" in
    COMPLETE) break ;;
    IN_PROGRESS) ;;
    *)
      server_log_tail
      die "the export is $state: $body"
      ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    server_log_tail
    die "the export is still $state after 60 s"
  fi
  sleep 0.5
done

mapfile -t urls < <(json '"\n".join(d["urls"])' <<<"$body")
echo "== Downloading ${#urls[@]} part(s) into $work/archive"
for i in "${!urls[@]}"; do
  curl -fsS -o "$work/archive/part-$i.zip" "${urls[$i]}"
done
for i in "${!urls[@]}"; do
  unzip -q -o "$work/archive/part-$i.zip" -d "$work/export"
done
last="$work/archive/part-$((${#urls[@]} - 1)).zip"
if unzip -Z1 "$last" | grep -qx 'Portability/manifest.json'; then
  manifest="Portability/manifest.json"
elif unzip -Z1 "$last" | grep -qx 'manifest.json'; then
  manifest="manifest.json"
else
  die "the last part, $last, holds no manifest.json"
fi

# --- 4. Checks ---------------------------------------------------------------------------------

echo "== Verifying every file of $manifest with sha256sum"
python3 - "$work/export/$manifest" <<'PY' >"$work/archive/SHA256SUMS"
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(f"{f['sha256']}  {f['path']}")
PY
(cd "$work/export" && sha256sum --check --quiet --strict "$work/archive/SHA256SUMS") ||
  die "a file does not match its SHA-256 in $manifest"

echo "== Checking that the export is alice's data, all of it, and nothing of bob's"
FACTS=$facts python3 - "$work" "$manifest" "$NOTES_PHOTO_ROOT" "$job" <<'PY' ||
import csv, hashlib, io, json, os, sys, zipfile

work, manifest_path, photo_root, job = sys.argv[1:5]
export = os.path.join(work, "export")
facts = json.loads(os.environ["FACTS"])
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree(root):
    """Relative paths of the files below root."""
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, _, names in os.walk(root) for n in names)


manifest = json.load(open(os.path.join(export, manifest_path)))
parts = sorted(os.listdir(os.path.join(work, "archive")))
parts = [p for p in parts if p.endswith(".zip")]
check(manifest["resources"] == ["notes.all", "notes.shopping", "notes.photos"], f"manifest resources: {manifest['resources']}")
for f in manifest["files"]:
    with zipfile.ZipFile(os.path.join(work, "archive", f"part-{f['part']}.zip")) as z:
        check(f["path"] in z.namelist(), f"{f['path']} is not in part {f['part']} as the manifest says")
    check(os.path.getsize(os.path.join(export, f["path"])) == f["size"], f"{f['path']}: size differs from the manifest")
listed = {f["path"] for f in manifest["files"]}
on_disk = {p for p in tree(export) if p.startswith("Portability/")}
extra = on_disk - listed - {"Portability/archive_browser.json", "Portability/manifest.json"}
check(not extra, f"files in the archive that the manifest does not list: {sorted(extra)}")

# notes.all: exactly alice's notes.
notes = json.load(open(os.path.join(export, "Portability/Notes/notes.json")))
ids = [n["id"] for n in notes]
check(sorted(ids) == facts["alice_notes"], f"notes.json ids {ids}, expected {facts['alice_notes']}")
times = [n["created_at"] for n in notes]
check(times == sorted(times), "notes.json is not ordered by created_at")
check(all(set(n) == {"id", "title", "body", "tags", "price", "created_at", "photos"} for n in notes), "notes.json fields")

# notes.shopping: exactly alice's priced notes, as CSV.
with open(os.path.join(export, "Portability/Notes/Shopping/shopping.csv"), newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
check(sorted(int(r["id"]) for r in rows) == facts["alice_shopping"], f"shopping.csv ids, expected {facts['alice_shopping']}")
check(all(r["price"] for r in rows), "shopping.csv has a row without a price")

# notes.photos: exactly alice's folder, byte for byte, and the listing says so.
photos_dir = os.path.join(export, "Portability/Notes/Photos")
listing = json.load(open(os.path.join(photos_dir, "files.json")))
alice_disk = tree(os.path.join(photo_root, "u-1001"))
exported = [p for p in tree(photos_dir) if p != "files.json"]
check(exported == alice_disk, f"photos exported {exported}, alice has {alice_disk}")
check(sorted(e["path"] for e in listing) == alice_disk, "files.json does not list alice's photos")
check(sorted(facts["alice_photos"]) == alice_disk, "the photos table and alice's folder disagree")
for p in exported:
    check(sha256(os.path.join(photos_dir, p)) == sha256(os.path.join(photo_root, "u-1001", p)), f"{p} differs from the original")

# Nothing of bob's: no note id or title, no photo by name or by content, no mention of his subject.
bob_ids = {n["id"] for n in facts["bob_notes"]}
check(not bob_ids & set(ids), f"bob's notes {sorted(bob_ids & set(ids))} are in notes.json")
check(not bob_ids & {int(r["id"]) for r in rows}, "bob's notes are in shopping.csv")
bob_hashes = {sha256(os.path.join(photo_root, "u-1002", p)) for p in tree(os.path.join(photo_root, "u-1002"))}
needles = [n["title"] for n in facts["bob_notes"]] + facts["bob_photos"] + [os.path.basename(p) for p in facts["bob_photos"]] + ["u-1002"]
for p in tree(export):
    full = os.path.join(export, p)
    check(sha256(full) not in bob_hashes, f"{p} is one of bob's photos")
    check(not any(os.path.basename(b) == os.path.basename(p) for b in facts["bob_photos"]), f"{p} is named like one of bob's photos")
    if not p.endswith(".jpg"):
        text = open(full, encoding="utf-8", errors="replace").read()
        for needle in needles:
            check(needle not in text, f"{p} mentions bob's {needle!r}")

if problems:
    print("FAILED:", file=sys.stderr)
    for p in problems:
        print("  -", p, file=sys.stderr)
    sys.exit(1)

spent = sum(float(r["price"]) for r in rows)
summary = {
    "job": job,
    "parts": len(parts),
    "manifest": manifest_path,
    "files_verified": len(manifest["files"]),
    "notes": len(notes),
    "shopping_rows": len(rows),
    "photos": exported,
    "export": export,
}
json.dump(summary, open(os.path.join(work, "summary.json"), "w"), indent=2)
print()
print(f"Exported alice (subject u-1001): job {job}, {len(parts)} ZIP part(s), {len(manifest['files'])} files, every SHA-256 verified")
print(f"  Notes/notes.json             {len(notes)} notes, {times[0]} .. {times[-1]}" if notes else "  Notes/notes.json  no notes")
print(f"  Notes/Shopping/shopping.csv  {len(rows)} rows, {spent:.2f} spent")
print(f"  Notes/Photos/                {len(exported)} photos: {', '.join(exported)}")
print(f"  Nothing of bob's (u-1002): none of his {len(bob_ids)} notes or {len(bob_hashes)} photos is in the export")
PY
  die "the export in $work/export is not exactly alice's data (see above)"

echo
echo "Export: $work/export"
(cd "$work/export" && find . -type f -printf '%P\t%s bytes\n' | sort | sed 's/^/  /')
