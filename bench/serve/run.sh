#!/usr/bin/env bash
# `ward serve` under load: a bank of N random PDQ hashes (default 1,000,000, imported with
# `ward bank import`), driven from a second process on loopback with wrk:
#   1. GET /m/raw_lookup: throughput and p50/p99 (half the queries are bank hashes with a
#      few bits flipped, so they match; half are random and do not);
#   2. POST /h/hash of a 1600x1004 JPEG: image hashes per second; POST /v1/content of the
#      same JPEG: submissions per second (hash, match, and the content recorded in the store);
#   3. overload: uploads at 8x the connections the hashing limit admits (--max-hashing 4):
#      the excess gets 503 at once instead of queueing, nothing else fails, lookups right
#      after answer at full speed, memory stays flat.
# Usage: bench/serve/run.sh [HASHES]   (needs wrk: apt-get install -y wrk)
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
n=${1:-1000000}
dur=${DURATION:-15}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -q -p ward
ward="$target/release/ward"
work="$root/bench/work/serve"
mkdir -p "$work"
out="$root/bench/runs/$(date +%Y-%m-%d)-$(hostname -s)"
mkdir -p "$out"
# One report per bank size: serve.txt at the default million, serve-N.txt otherwise.
if [ "$n" = 1000000 ]; then report="$out/serve.txt"; else report="$out/serve-$n.txt"; fi

list="$work/list-$n.txt"
[ -s "$list" ] || python3 - "$n" "$list" "$work/queries.txt" <<'PY'
import random, sys
n, path, qpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = random.Random(n)
hashes = [r.getrandbits(256) for _ in range(n)]
with open(path, "w") as f:
    for h in hashes:
        f.write("%064x\n" % h)
with open(qpath, "w") as f:
    for i in range(2000):
        if i % 2:
            q = r.getrandbits(256)                       # a miss
        else:
            q = r.choice(hashes)                         # a hit: flip up to 16 bits
            for _ in range(r.randrange(17)):
                q ^= 1 << r.randrange(256)
        f.write("%064x\n" % q)
PY
db="$work/serve-$n.db"
if [ ! -s "$db" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  WARD_DB="$db" "$ward" bank create BENCH >/dev/null
  WARD_DB="$db" "$ward" bank import BENCH "$list" >/dev/null
fi
token=$(WARD_DB="$db" "$ward" token create --role submitter --name "bench-$$-$RANDOM" 2>/dev/null)

start_server() {
  WARD_DB="$db" "$ward" serve --listen 127.0.0.1:0 --log-level warn "$@" > "$work/serve.out" 2> "$work/serve.err" &
  pid=$!
  for _ in $(seq 600); do
    addr=$(sed -n 's/^listening on //p' "$work/serve.out")
    [ -n "$addr" ] && curl -sf "$addr/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$work/serve.err" >&2; exit 1
}
stop_server() { kill -TERM "$pid"; wait "$pid" || true; }
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status"; }

cat > "$work/lookup.lua" <<LUA
local queries = {}
for line in io.lines("$work/queries.txt") do queries[#queries + 1] = line end
local i = 0
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  i = i % #queries + 1
  return wrk.format("GET", "/m/raw_lookup?signal_type=pdq&signal=" .. queries[i])
end
LUA
python3 - "$work/upload.body" "$root/../shared/reference/pdq/images/bridge-mods/aaa-orig.jpg" <<'PY'
import sys
img = open(sys.argv[2], "rb").read()
b = b"wardbench"
body = (b"--" + b + b'\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + img + b"\r\n--" + b + b"--\r\n")
open(sys.argv[1], "wb").write(body)
PY
cat > "$work/upload.lua" <<LUA
local f = io.open("$work/upload.body", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=wardbench"
LUA
cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status, errors))
end
LUA
cat "$work/report.lua" >> "$work/lookup.lua"
cat "$work/report.lua" >> "$work/upload.lua"
result() { grep '^RESULT' | sed 's/^RESULT //'; }

{
  echo "# ward serve, $(date -u +%FT%TZ), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $n hashes"
  t0=$EPOCHREALTIME
  start_server
  echo "start (open store, build index, listen): $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s, RSS $(rss_mb) MB"
  curl -sf -H "Authorization: Bearer $token" "$addr/m/raw_lookup?signal_type=pdq&signal=$(sed -n 1p "$work/queries.txt")" >/dev/null
  echo "raw_lookup  wrk -t1 -c16 -d${dur}s: $(wrk -t1 -c16 -d"${dur}s" -s "$work/lookup.lua" "$addr" | result)"
  echo "raw_lookup  wrk -t1 -c32 -d${dur}s: $(wrk -t1 -c32 -d"${dur}s" -s "$work/lookup.lua" "$addr" | result)"
  echo "raw_lookup  wrk -t1 -c64 -d${dur}s: $(wrk -t1 -c64 -d"${dur}s" -s "$work/lookup.lua" "$addr" | result)"
  echo "POST /h/hash (1600x1004 JPEG) wrk -t1 -c4 -d${dur}s: $(wrk -t1 -c4 -d"${dur}s" -s "$work/upload.lua" "$addr/h/hash" | result)"
  # The native submission: hash, match, and record the content (one store write each).
  echo "POST /v1/content (same JPEG, recorded) wrk -t1 -c4 -d${dur}s: $(wrk -t1 -c4 -d"${dur}s" -s "$work/upload.lua" "$addr/v1/content?content_id=bench" | result)"
  echo "RSS after: $(rss_mb) MB"
  stop_server
  start_server --max-hashing 4
  before=$(rss_mb)
  echo "overload: POST /h/hash, --max-hashing 4, wrk -t1 -c32 -d${dur}s: $(wrk -t1 -c32 -d"${dur}s" -s "$work/upload.lua" "$addr/h/hash" | result) (non-2xx are 503s)"
  echo "  right after, raw_lookup -c16 -d5s: $(wrk -t1 -c16 -d5s -s "$work/lookup.lua" "$addr" | result); RSS $before -> $(rss_mb) MB"
  stop_server
} | tee "$report"
echo "written to $report"
