#!/usr/bin/env bash
# The hot path's timeline (called by bench.sh after the ratio): uprobes on the library calls that
# bound each phase of `jitexec -n /usr/bin/true` under a live grant, recorded for RUNS runs by the
# bench user in a terminal session, and the median of each phase (bench/timeline.py). The probes
# cost time of their own (inserting them at each exec most, then a microsecond or two a hit), so
# the phases add up to more than a run without them: they show where the time goes, not the total.
set -euo pipefail
P=$1 USER_B=$2 RUNS=$3
# The grant bench.sh set up is for a command run from the checkout (a command grant is bound to
# the request's working directory); from anywhere else `jitexec -n` would file a request and wait.
cd "$(dirname "$0")/.."
J="$P/usr/bin/jitexec"
lib() { ldd "$J" | awk -v name="$1" '$1 ~ "^"name {print $3}'; }
LIBC=$(lib libc.so) LIBPAM=$(lib libpam.so)
# SQLite is linked into the installed binary (the Makefile's STATIC_LIBS) as local symbols, which
# perf probe finds by name only with debug information: its open is probed at its address, which
# perf probe takes as a file offset (lld starts the code segment a page past its file offset).
DB_OPEN=$(python3 bench/elf.py offset "$J" sqlite3_open_v2)
probes=(
  "$J" "jxbench:main=main"
  "$LIBC" "jxbench:groups=getgrouplist" "$LIBC" "jxbench:groups_ret=getgrouplist%return"
  "$LIBPAM" "jxbench:pam_start=pam_start" "$LIBPAM" "jxbench:acct_ret=pam_acct_mgmt%return"
  "$J" "jxbench:db_open=$DB_OPEN"
  "$LIBPAM" "jxbench:setcred=pam_setcred" "$LIBPAM" "jxbench:session_ret=pam_open_session%return"
  "$LIBC" "jxbench:sync=fdatasync" "$LIBC" "jxbench:sync_ret=fdatasync%return"
  "$LIBPAM" "jxbench:close_session=pam_close_session"
)
perf probe -q -d 'jxbench:*' >/dev/null 2>&1 || true
trap "perf probe -q -d 'jxbench:*' >/dev/null 2>&1 || true" EXIT
for ((i = 0; i < ${#probes[@]}; i += 2)); do
  if ! out=$(perf probe -q -x "${probes[i]}" "${probes[i + 1]}" 2>&1); then
    echo "timeline: no uprobe ${probes[i + 1]} on ${probes[i]}: $out"
    exit 0
  fi
done
cat > "$P/out/timeline.sh" <<INNER
set -e
"$J" -S -v <<<"pw-$USER_B-secret"
"$J" -n /usr/bin/true
for i in \$(seq $RUNS); do "$J" -n /usr/bin/true; done
INNER
chmod 0755 "$P/out/timeline.sh"
# System-wide (-a): events of a setuid process are not inherited from an unprivileged parent.
script -qec "perf record -q -a -e 'jxbench:*' -e sched:sched_process_exec -e sched:sched_process_fork \
  -e sched:sched_process_exit -o $P/out/timeline.data -- runuser -u $USER_B -- bash $P/out/timeline.sh" \
  /dev/null >/dev/null
perf script -i "$P/out/timeline.data" -F comm,pid,time,event,trace 2>/dev/null > "$P/out/timeline.txt"
python3 bench/timeline.py "$P/out/timeline.txt"
