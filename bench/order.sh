#!/usr/bin/env bash
# make hot-path-order (root): writes bench/hot-path.order, the functions one `jitexec -n
# /usr/bin/true` under a live grant executes, in the installed binary's own code (Swift, the Swift
# runtime, SQLite). The release link (the Makefile's LINKER_FLAGS) places them first in .text, so
# a run touches fewer pages of the binary: fewer page faults, and fewer pages to unmap at exit.
#
# Exact, not sampled: one run under valgrind's callgrind, which lists every function that ran.
# Valgrind runs no setuid program, so the run is root's own (a root caller, a copy installed
# without the setuid bit and without debug information, which valgrind cannot read); root's run
# takes the same steps as another caller's under a cached credential, bar the password check.
# Functions renamed since the file was written are not found and simply stay where they are;
# `make bench` says how many of the file's names the binary still has.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make hot-path-order must run as root"; exit 1; }

P=/tmp/jitexec-order
SERVICE=jitexec-order
RUNDIR=/run/jitexec-order
USER_B=jit-bench
APPROVER=jit-benchapp
. bench/common.sh
bench_packages valgrind
bench_install 1h
sed -i 's/^users = .*/users = ["root"]/' "$P/etc/jitexec/policy.toml"
J="$P/usr/bin/jitexec"
chmod u-s "$J"
strip --strip-debug "$J"
cd /tmp
"$J" -S --no-wait /usr/bin/true </dev/null 2>/dev/null || true
runuser -u "$APPROVER" -- "$P/usr/bin/jitctl" approve 1 -S <<<"pw-$APPROVER-secret" >/dev/null
"$J" -n /usr/bin/true
rm -f "$P/out/callgrind".*
# In a terminal session, as the bench's runs are: the pty relay runs too. Valgrind stops at the
# exit's holder (a clone it does not support; exit.c), so the profile is written on the way in
# (--dump-before), with everything the run did; valgrind's status is not the run's.
script -qec "valgrind -q --tool=callgrind --demangle=no --dump-before=jitexec_exit \
  --callgrind-out-file=$P/out/callgrind.%p $J -n /usr/bin/true" /dev/null >/dev/null || true
cd - >/dev/null
python3 bench/order.py "$J" "$P"/out/callgrind.* > bench/hot-path.order
echo "bench/hot-path.order: $(wc -l < bench/hot-path.order) functions"
