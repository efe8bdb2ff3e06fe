#!/usr/bin/env bash
# Peak RSS of dataportd while it exports one group of emulator data, for each size given in MB
# (default: 100 and 2000). Usage: bench/memory.sh [MB ...]
# Builds the release binary, runs each export under /usr/bin/time -v against a fresh data dir on
# 127.0.0.1, and prints the uncompressed bytes exported, the export time and the peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 2000)
cargo build --release --quiet --bin dataportd
bin="$PWD/target/release/dataportd"
group=myactivity.youtube
bytes_per_record=324   # the emulator's average for this group
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

printf '%-8s %-16s %-10s %-14s\n' "target" "exported bytes" "seconds" "peak RSS (MiB)"
for mb in "${sizes[@]}"; do
  dir=$(mktemp -d)
  records=$(( mb * 1000000 / bytes_per_record ))
  /usr/bin/time -v -o "$dir/time.txt" "$bin" serve --no-demo --data-dir "$dir/data" --listen "127.0.0.1:$port" \
    --emulator-group-records "$group=$records" >/dev/null 2>"$dir/server.log" &
  server=$!
  for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  token=$("$bin" admin token --data-dir "$dir/data" --user bench --client bench --resources "$group")
  start=$(date +%s.%N)
  job=$(curl -sf -X POST -H "Authorization: Bearer $token" -d "{\"resources\":[\"$group\"]}" \
        "$base/v1/portabilityArchive:initiate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["archiveJobId"])')
  state=IN_PROGRESS
  for _ in $(seq 1 36000); do   # at most one hour
    state=$(curl -sf -H "Authorization: Bearer $token" "$base/v1/archiveJobs/$job/portabilityArchiveState?fields=state&prettyPrint=false" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [ "$state" = IN_PROGRESS ] || break
    sleep 0.1
  done
  end=$(date +%s.%N)
  exported=$(curl -sf -H "Authorization: Bearer $token" "$base/v1/archiveJobs/$job/portabilityArchiveState?fields=urls&prettyPrint=false" \
    | python3 -c '
import io, json, sys, urllib.request, zipfile
urls = json.load(sys.stdin)["urls"]
manifest = json.loads(zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(urls[-1]).read())).read("manifest.json"))
print(sum(f["size"] for f in manifest["files"]))')
  pkill -TERM -P "$server" || true; wait "$server" || true   # $server is /usr/bin/time; stop its child
  rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$dir/time.txt")
  printf '%-8s %-16s %-10.2f %-14.1f %s\n' "${mb}MB" "$exported" "$(echo "$end - $start" | bc)" "$(echo "$rss_kb / 1024" | bc -l)" "$state"
  rm -rf "$dir"
done
