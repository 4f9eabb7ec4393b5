#!/usr/bin/env bash
# Load figures for docs/performance.md: wrk against the release server on SQLite or
# PostgreSQL, each endpoint next to the trivial handler (GET /healthz) in the same run.
#
#   server/bench/load.sh sqlite|postgres [SECONDS] [CONNECTIONS]
#
# Only loopback traffic; every wrk run is bounded by SECONDS. PostgreSQL: a fresh database
# bench_<pid> on 127.0.0.1:5432 (user postgres), dropped at the end.
set -euo pipefail
backend=${1:?sqlite or postgres}
secs=${2:-10}
conns=${3:-16}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${PASSGATE_SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/passgate-server}
export BENCH_DIR=$here PASSGATE_LOG=error
work=$(mktemp -d)
port=$((18100 + RANDOM % 800))
args=(--data-dir "$work/data")
db=""
if [ "$backend" = postgres ]; then
    db=bench_$$
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
    args+=(--database-url "postgres://postgres@127.0.0.1:5432/$db")
fi
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --demo --token-rate-limit 0 --listen "127.0.0.1:$port" "${args[@]}" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
url=http://127.0.0.1:$port
ops=$(awk -F'\t' '$1=="ops" {print $3}' "$work/data/demo-tokens.txt")
gate=$("$bin" token create --role checkpoint --name bench "${args[@]}" | tail -1)

run() { # name script path token [env…]
    local name=$1 script=$2 path=$3 token=$4
    shift 4
    local line
    line=$(env TOKEN="$token" "$@" wrk -t1 -c"$conns" -d"${secs}s" --latency \
        -s "$here/$script" "$url$path" | grep '^RESULT')
    # shellcheck disable=SC2086
    set -- $line
    printf '%-8s %-22s %9s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  errors %s\n' \
        "$backend" "$name" "$3" "$4" "$5" "$6" "$7"
}

from=$(date -u -d '-1 hour' +%FT%TZ)
until=$(date -u -d '+7 days' +%FT%TZ)
version=$(curl -s "$url/metrics" | awk '$1=="passgate_bundle_version" {print $2}')
bundle_bytes=$(curl -s -H "Authorization: Bearer $gate" "$url/api/v1/sync/bundle" | wc -c)
delta_bytes=$(curl -s -H "Authorization: Bearer $gate" "$url/api/v1/sync/bundle?since=$((version - 1))" | wc -c)
echo "# $backend, wrk -t1 -c$conns -d${secs}s, bundle version $version: full $bundle_bytes bytes, delta from $((version - 1)) $delta_bytes bytes; $(nproc) cores shared by server, database and wrk"
run trivial get.lua /healthz ""
run bundle get.lua /api/v1/sync/bundle "$gate"
run trivial get.lua /healthz ""
run bundle-delta get.lua "/api/v1/sync/bundle?since=$((version - 1))" "$gate"
run trivial get.lua /healthz ""
# Plain JSON batches; a server that takes only signed batches from enrolled devices
# (issue 3) refuses them, and the step says so instead of measuring refusals.
probe=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $gate" \
    -H 'content-type: application/json' -d '{"checkpoint_id":1,"records":[]}' "$url/api/v1/sync/upload")
if [ "$probe" = 200 ]; then
    run upload-100 upload.lua /api/v1/sync/upload "$gate" BATCH=100 CHECKPOINT=1 RUN=1
    run trivial get.lua /healthz ""
else
    echo "$backend upload: skipped, the server answers $probe to a plain JSON batch (it wants signed batches from an enrolled device)"
fi
run issue issue.lua /api/v1/passes "$ops" VALID_FROM="$from" VALID_UNTIL="$until"
curl -s "$url/metrics" | grep -E '^passgate_(sync_records_total|passes_issued_total|bundle_version)' | sed "s/^/# $backend /"
if [ -n "$db" ]; then
    q() { psql -h 127.0.0.1 -U postgres -d "$db" -tAc "$1"; }
    for t in scans passes; do
        rows=$(q "SELECT count(*) FROM $t")
        bytes=$(q "SELECT pg_total_relation_size('$t')")
        echo "# postgres $t: $rows rows, $bytes bytes with indexes = $((bytes / (rows > 0 ? rows : 1))) bytes/row"
    done
else
    echo "# sqlite files: $(du -cb "$work/data"/passgate.db* | tail -1 | cut -f1) bytes"
fi
