#!/usr/bin/env bash
# make bench-scale: does the cost grow with history? The same hot path as make bench (an
# unprivileged user's `jitexec -n /usr/bin/true` under a live grant, in a terminal session) on a
# fresh store and on one holding SCALE_RECORDS audit records (default 1M) and SCALE_REQUESTS old
# decided requests with their grants (default 200k), built through the store's own API
# (bench/scale, a valid chain); then jitctl verify, log --since 1h and requests on the big store.
# Needs root (its own prefix, PAM service and users, like make bench).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make bench-scale must run as root"; exit 1; }
export PATH="/opt/swift/usr/bin:$PATH"

P=/tmp/jitexec-scale          # the big store's install
PF=/tmp/jitexec-scale-fresh   # a fresh store's, measured beside it
SERVICE=jitexec-scale
USER_B=jit-bench
APPROVER=jit-benchapp
RECORDS=${SCALE_RECORDS:-1000000}
REQUESTS=${SCALE_REQUESTS:-200000}
RUNS=${BENCH_RUNS:-200}

RUNDIR=/run/jitexec-scale
. bench/common.sh
bench_packages hyperfine
bench_install 4h
P=$PF SERVICE=$SERVICE-fresh RUNDIR=$RUNDIR-fresh bench_install 4h
# The builder from the same build as the installed binaries (make install's flags and scratch folder).
BUILD=(swift build -c release --static-swift-stdlib --scratch-path "${SCRATCH:-.build}")
"${BUILD[@]}" --product jitexec-bench-scale >/dev/null
BUILDER="$("${BUILD[@]}" --show-bin-path)/jitexec-bench-scale"
DB="$P/var/lib/jitexec/jitexec.db"

# 1. A fresh store, in an install of its own.
rm -f "$PF/var/lib/jitexec/jitexec.db"{,-wal,-shm}
bench_live_grant "$PF"

# 2. The big store: the history built first, then today's live grant on top of it.
rm -f "$DB" "$DB-wal" "$DB-shm"
echo "building a store of $RECORDS audit records and $REQUESTS decided requests..."
started=$(date +%s)
"$BUILDER" "$DB" "$RECORDS" "$REQUESTS"
echo "built in $(( $(date +%s) - started ))s"
# The builder leaves a few hundred MB of dirty pages: written back during the runs below, they
# would slow every fsync of theirs (measured: 1.27x instead of 1.03x when alternated by hand).
sync
bench_live_grant "$P"

# The hot path on both, in a terminal session as a person would run it (see bench.sh), side by side
# in one hyperfine run, fresh and big twice each in turn: measured minutes apart, the machine's
# drift alone moved the ratio by 0.3.
cat > "$P/out/inner.sh" <<INNER
set -e
cd "$PWD"
for prefix in "$PF" "$P"; do
  "\$prefix/usr/bin/jitexec" -S -v <<<"pw-$USER_B-secret"
  "\$prefix/usr/bin/jitexec" -n /usr/bin/true
done
hyperfine -N --style basic --warmup 20 --runs $((RUNS / 2)) --export-json "$P/out/hot.json" \\
  -n direct '/usr/bin/true' \\
  -n jitexec-fresh "$PF/usr/bin/jitexec -n /usr/bin/true" -n jitexec-history "$P/usr/bin/jitexec -n /usr/bin/true" \\
  -n jitexec-fresh-2 "$PF/usr/bin/jitexec -n /usr/bin/true" -n jitexec-history-2 "$P/usr/bin/jitexec -n /usr/bin/true"
INNER
runuser -u "$USER_B" -- script -qec "bash $P/out/inner.sh" /dev/null >/dev/null

# 3. The admin's views of the big store, as root.
hyperfine -N --style basic --warmup 1 --runs 5 --export-json "$P/out/views.json" \
  -n verify "$P/usr/bin/jitctl verify" \
  -n "log --since 1h" "$P/usr/bin/jitctl log --since 1h" \
  -n requests "$P/usr/bin/jitctl requests" >/dev/null
python3 bench/scale_report.py "$P/out/hot.json" "$P/out/views.json" "$RECORDS" "$REQUESTS"
