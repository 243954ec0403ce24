#!/usr/bin/env bash
# make bench (RUNDIR on /run, a tmpfs, as in production): whole-process start-up cost of a privileged /usr/bin/true, side by side in
# hyperfine rounds (ROUNDS below), as an unprivileged user: (a) directly, (b) sudo -n with NOPASSWD, (c) doas -n with
# nopass, (d) jitexec with a live grant and a fresh credential cache, on SQLite. Prints each
# overhead over (a) and the ratio jitexec/sudo; then the same on the PostgreSQL fleet store. Needs root (it installs into its own prefix and creates users).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make bench must run as root"; exit 1; }

P=/tmp/jitexec-bench
SERVICE=jitexec-bench
USER_B=jit-bench
APPROVER=jit-benchapp
RUNS=${BENCH_RUNS:-300}
# The comparison runs in ROUNDS hyperfine runs of RUNS/ROUNDS runs each, merged by report.py:
# hyperfine measures its commands one after another, and the machine's speed drifts over the
# seconds between sudo's block and jitexec's (one round of 300 each moved the ratio by up to 0.3
# between bench runs minutes apart); in rounds, every command is sampled across the whole window.
ROUNDS=${BENCH_ROUNDS:-6}

RUNDIR=/run/jitexec-bench
. bench/common.sh
bench_packages hyperfine sudo opendoas pamtester gcc linux-perf pgbouncer
bench_install 1h

echo "$USER_B ALL=(root) NOPASSWD: /usr/bin/true" > /etc/sudoers.d/jitexec-bench
chmod 0440 /etc/sudoers.d/jitexec-bench
echo "permit nopass $USER_B as root cmd /usr/bin/true" > /etc/doas.conf
chmod 0600 /etc/doas.conf

# A live grant: the bench user files a request (from the checkout), the approver approves it.
bench_live_grant "$P"

# The floor's pieces (see bench/floor/floor.c) and the smallest static Swift program, linked as
# the installed binaries are (make link-flags), with the start-up code that hands the runtime its
# arguments (Sources/CJitexecStartup/arguments.c: no search of /proc/self/maps for them).
gcc -O2 -o "$P/out/floor" bench/floor/floor.c -lutil
clang -O2 -c Sources/CJitexecStartup/arguments.c -o "$P/out/arguments.o"
# shellcheck disable=SC2046 # the flags are words
swiftc -O -static-stdlib bench/floor/exit.swift "$P/out/arguments.o" -o "$P/out/swift-exit" $(make -s link-flags) 2>/dev/null
for b in "$P/out/swift-exit" "$P/usr/bin/jitexec"; do
  if readelf -d "$b" | grep -q 'NEEDED.*lib\(stdc++\|gcc_s\)'; then
    echo "make bench: $b loads libstdc++ or libgcc_s; the floor and jitexec must be linked alike (make link-flags)"
    exit 1
  fi
done
if readelf -d "$P/usr/bin/jitexec" | grep -q 'NEEDED.*lib\(sqlite3\|nettle\)'; then
  echo "make bench: jitexec loads libsqlite3.so or libnettle.so; the Makefile's release build links them in (STATIC_LIBS)"
  exit 1
fi
for b in "$P/out/swift-exit" "$P/usr/bin/jitexec"; do
  if grep -q /proc/self/maps "$b"; then
    echo "make bench: $b carries the Swift runtime's search for argv (/proc/self/maps); see Sources/CJitexecStartup/arguments.c"
    exit 1
  fi
done
if grep -q NETTLE_FAT_OVERRIDE "$P/usr/bin/jitexec"; then
  echo "make bench: jitexec carries Nettle's CPU dispatch (cpuid at every start); see Sources/CJitexecNettle/nettle.c"
  exit 1
fi
if grep -q com.apple.main-thread "$P/usr/bin/jitexec"; then
  echo "make bench: jitexec carries libdispatch (its constructor runs at every start); see the comment in Sources/jitexec/main.swift"
  exit 1
fi
# The functions a run executes come first in jitexec's code (the Makefile's HOT_PATH_ORDER).
python3 bench/order.py --check "$P/usr/bin/jitexec" bench/hot-path.order || exit 1
cat > "$P/out/inner.sh" <<INNER
set -e
# Fresh credential cache for this terminal session, then everything inside the same session.
"$P/usr/bin/jitexec" -S -v <<<"pw-$USER_B-secret"
"$P/usr/bin/jitexec" -n /usr/bin/true
for round in \$(seq $ROUNDS); do
  hyperfine -N --style none --warmup 20 --runs $((RUNS / ROUNDS)) --export-json "$P/out/results-\$round.json" \
    -n direct '/usr/bin/true' \
    -n sudo 'sudo -n /usr/bin/true' \
    -n doas 'doas -n /usr/bin/true' \
    -n jitexec-sqlite "$P/usr/bin/jitexec -n /usr/bin/true" \
    -n jitexec-start "$P/usr/bin/jitexec -V" \
    -n jitexec-decide "$P/usr/bin/jitexec -n -l /usr/bin/true"
done
INNER
chmod 0755 "$P/out/inner.sh"
# script(1) gives the run a terminal session, as a person at a shell would have.
runuser -u "$USER_B" -- script -qec "bash $P/out/inner.sh" /dev/null
# The floor, measured right after in the same terminal session, as root (PAM's session phase
# needs it, as it does for sudo and jitexec): each piece the contract requires and nothing else.
cat > "$P/out/floor.sh" <<FLOOR
set -e
hyperfine -N --style basic --warmup 30 --runs $RUNS --export-json "$P/out/floor.json" \
  -n direct '/usr/bin/true' \
  -n c-process "$P/out/floor exit" \
  -n swift-start "$P/out/swift-exit" \
  -n pam-account-session "pamtester $SERVICE $USER_B acct_mgmt open_session close_session" \
  -n fsync "$P/out/floor fsync $P/var/lib/jitexec" \
  -n fork-exec "$P/out/floor spawn /usr/bin/true" \
  -n pty-fork-exec "$P/out/floor pty /usr/bin/true"
FLOOR
script -qec "bash $P/out/floor.sh" /dev/null >/dev/null
echo "side by side: $ROUNDS hyperfine rounds of $((RUNS / ROUNDS)) runs of each command, merged"
python3 bench/report.py "$(seq -f "$P/out/results-%g.json" -s , "$ROUNDS")" "$P/out/floor.json"
echo "audit records written by the jitexec runs: $("$P/usr/bin/jitctl" log --json --event exec.start | wc -l) exec.start"
# Where a run's time goes, phase by phase (see bench/timeline.sh), with the same install and grant.
bash bench/timeline.sh "$P" "$USER_B" "$RUNS"

# The same hot path on the fleet store: a throwaway PostgreSQL cluster over loopback (scram, no TLS,
# commits synced), its own hyperfine run beside sudo, directly and through pgbouncer set up as the
# README's "Fleet" says (see bench/fleet.sh).
echo
echo "fleet store (PostgreSQL over loopback):"
python3 Tests/integration/pg_support.py run --durable -- python3 Tests/integration/pg_support.py pool -- \
  bash bench/fleet.sh "$P" "$USER_B" "$APPROVER" "$RUNS"
