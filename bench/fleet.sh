#!/usr/bin/env bash
# The hot path on the fleet store (called by bench.sh inside `pg_support.py run` and `pool`, which
# start a throwaway PostgreSQL cluster and a pgbouncer in front of it, and name them in
# JITEXEC_TEST_PG_URL and JITEXEC_TEST_POOL): the bench install switched to
# `[store] backend = "postgresql"`, a second install of the same build switched to a database of its
# own through pgbouncer (as a host behind a pooler, README "Fleet"), a live grant filed and approved
# for each, then hyperfine as in bench.sh beside sudo.
set -euo pipefail
P=$1 USER_B=$2 APPROVER=$3 RUNS=$4
PP=$P-pooled

. bench/common.sh
bench_fleet_store "$P" "$JITEXEC_TEST_PG_URL"
bench_live_grant "$P"
(P=$PP SERVICE=jitexec-bench-pooled RUNDIR=/run/jitexec-bench-pooled && bench_install 1h)
# A database of its own (as a second fleet), so its grant is its own too.
bench_database jitexec_pooled >/dev/null
bench_fleet_store "$PP" "postgresql:///jitexec_pooled?$JITEXEC_TEST_POOL"
bench_live_grant "$PP"

cat > "$P/out/fleet.sh" <<INNER
set -e
for p in "$P" "$PP"; do
  "\$p/usr/bin/jitexec" -S -v <<<"pw-$USER_B-secret"
  "\$p/usr/bin/jitexec" -n /usr/bin/true
done
hyperfine -N --style basic --warmup 30 --runs $RUNS --export-json "$P/out/fleet.json" \\
  -n direct '/usr/bin/true' \\
  -n sudo 'sudo -n /usr/bin/true' \\
  -n jitexec-postgresql "$P/usr/bin/jitexec -n /usr/bin/true" \\
  -n jitexec-pooled "$PP/usr/bin/jitexec -n /usr/bin/true" \\
  -n jitexec-start "$P/usr/bin/jitexec -V" \\
  -n jitexec-decide "$P/usr/bin/jitexec -n -l /usr/bin/true"
INNER
chmod 0755 "$P/out/fleet.sh"
runuser -u "$USER_B" -- script -qec "bash $P/out/fleet.sh" /dev/null

# The fleet store's own pieces (bench/floor/floor.c), as root in a terminal session of their own:
# libpq loaded as jitexec loads it, a connection as jitexec makes it (GSSAPI off), a first statement.
# The URL (a password in it) goes in a root-only file, not on a command line.
url=$JITEXEC_TEST_PG_URL
case $url in *\?*) url="$url&gssencmode=disable" ;; *) url="$url?gssencmode=disable" ;; esac
(umask 077 && printf '%s\n' "$url" > "$P/out/floor-pq.url")
cat > "$P/out/fleet-floor.sh" <<FLOOR
set -e
hyperfine -N --style basic --warmup 30 --runs $RUNS --export-json "$P/out/fleet-floor.json" \\
  -n direct '/usr/bin/true' \\
  -n c-process "$P/out/floor exit" \\
  -n pq-load "$P/out/floor pq-load" \\
  -n pq-connect "$P/out/floor pq-connect $P/out/floor-pq.url" \\
  -n pq-query "$P/out/floor pq-query $P/out/floor-pq.url"
FLOOR
script -qec "bash $P/out/fleet-floor.sh" /dev/null >/dev/null
python3 bench/report.py "$P/out/fleet.json" "$P/out/fleet-floor.json"
