#!/usr/bin/env bash
# Bank import and load at scale: how long a 1M / 10M-line PDQ list takes to import into a fresh
# SQLite store (atomic, one transaction), to re-import (idempotent: adds nothing), and to load
# from the store into a ready index and answer one query (what `ward match` and `ward serve`
# pay at start). Usage: bench/bank/run.sh [SIZES...]   (default: 1000000 10000000)
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
cargo build --release -q -p ward
ward="$root/target/release/ward"
work="$root/bench/work/bank"
mkdir -p "$work"
out="$root/bench/runs/$(date +%Y-%m-%d)-$(hostname -s)"
mkdir -p "$out"
report="$out/bank.txt"
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }'; }
{
  echo "# bank import/load, $(date -u +%FT%TZ), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  printf '%-10s %12s %12s %14s %10s\n' hashes import_s reimport_s load+query_s db_MB
  for n in "${sizes[@]}"; do
    list="$work/list-$n.txt"
    [ -s "$list" ] || python3 - "$n" "$list" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
r = random.Random(n)
with open(path, "w") as f:
    for _ in range(n):
        f.write("%064x\n" % r.getrandbits(256))
PY
    db="$work/bank-$n.db"
    rm -f "$db" "$db-wal" "$db-shm"
    WARD_DB="$db" "$ward" bank create big >/dev/null
    t_import=$(WARD_DB="$db" secs "$ward" bank import big "$list")
    t_again=$(WARD_DB="$db" secs "$ward" bank import big "$list")
    probe=$(sed -n "$((n / 2))p" "$list")
    t_load=$(WARD_DB="$db" secs "$ward" match --hash "$probe")
    WARD_DB="$db" "$ward" match --hash "$probe" | grep -q ",big," || { echo "planted hash not found" >&2; exit 1; }
    mb=$(( $(stat -c %s "$db") / 1000000 ))
    printf '%-10s %12.1f %12.1f %14.1f %10s\n' "$n" "$t_import" "$t_again" "$t_load" "$mb"
  done
} | tee "$report"
echo "written to $report"
