#!/usr/bin/env bash
# make bench-ab [BASE=REV] [BACKEND=postgresql] [AB_ROUNDS=N]: this working tree's jitexec against
# REV's (default HEAD~1), side by side in one terminal session (bench/ab.py: N rounds, default
# 1000, each running /usr/bin/true, sudo -n and both jitexecs once in a new random order), with
# the paired difference and its 95% interval. Each build is installed into a prefix of its own with
# a live grant, as make bench installs one. BACKEND=postgresql compares them on the fleet store (one
# throwaway cluster with its commits synced, a database for each build); with POOLER=1 this tree's
# build connects through pgbouncer (pg_support.Pooler, as the README sets one up) and REV's
# directly, so BASE=HEAD measures the pooler alone; with POOLER=both, both builds connect through
# it. REV's tree is built in /tmp/jitexec-ab/base-build, kept between runs. Needs root (it installs
# and creates users).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make bench-ab must run as root"; exit 1; }
BASE=${BASE:-HEAD~1}
BACKEND=${BACKEND:-sqlite}
ROUNDS=${AB_ROUNDS:-1000}
POOLER=${POOLER:-}
case $BACKEND in sqlite | postgresql) ;; *) echo "make bench-ab: BACKEND is sqlite or postgresql"; exit 2 ;; esac
[ -z "$POOLER" ] || [ "$BACKEND" = postgresql ] || { echo "make bench-ab: POOLER needs BACKEND=postgresql"; exit 2; }
rev=$(git rev-parse --verify --short "$BASE^{commit}") || { echo "make bench-ab: no commit $BASE"; exit 2; }
if [ "$BACKEND" = postgresql ] && [ -z "${JITEXEC_TEST_PG_URL:-}" ]; then
  bench_pooler=()
  [ -z "$POOLER" ] || bench_pooler=(python3 Tests/integration/pg_support.py pool --)
  exec python3 Tests/integration/pg_support.py run --durable -- "${bench_pooler[@]}" env BASE="$rev" \
    BACKEND="$BACKEND" AB_ROUNDS="$ROUNDS" POOLER="$POOLER" bash "$0"
fi

W=/tmp/jitexec-ab
USER_B=jit-bench
APPROVER=jit-benchapp
. bench/common.sh
bench_packages sudo
echo "$USER_B ALL=(root) NOPASSWD: /usr/bin/true" > /etc/sudoers.d/jitexec-bench
chmod 0440 /etc/sudoers.d/jitexec-bench
mkdir -p "$W" && chmod 0755 "$W"

# REV's tree, extracted again only when REV changed (its build folder keeps what did not change).
if [ "$(cat "$W/base-rev" 2>/dev/null)" != "$rev" ]; then
  rm -rf "$W/base-src" && mkdir -p "$W/base-src"
  git archive "$rev" | tar -x -C "$W/base-src"
  echo "$rev" > "$W/base-rev"
fi

# ab_install NAME SOURCE SCRATCH: a release build of SOURCE in its own prefix, with a grant for
# /usr/bin/true filed from $W (a command grant is bound to the request's working directory).
ab_install() {
  P=/tmp/jitexec-ab-$1 SERVICE=jitexec-ab-$1 RUNDIR=/run/jitexec-ab-$1
  (cd "$2" && export SCRATCH=$3 && bench_install 4h)
  if [ "$BACKEND" = postgresql ]; then
    local url
    url=$(bench_database "ab_$1")
    if [ "$POOLER" = both ] || { [ -n "$POOLER" ] && [ "$1" = head ]; }; then
      url="postgresql:///ab_$1?$JITEXEC_TEST_POOL"
    fi
    bench_fleet_store "$P" "$url"
  fi
  (cd "$W" && bench_live_grant "$P")
}
echo "building and installing $rev (base) and this working tree (head)..."
ab_install base "$W/base-src" "$W/base-build"
ab_install head "$PWD" "$PWD/.build-bench"

case $POOLER in both) through=" (both through pgbouncer)" ;; "") through="" ;; *) through=" through pgbouncer" ;; esac
echo "side by side on $BACKEND: base = $rev, head = this working tree$through"
cp bench/ab.py "$W/ab.py"
cd "$W"
runuser -u "$USER_B" -- script -qec "python3 $W/ab.py $ROUNDS pw-$USER_B-secret \
  base=/tmp/jitexec-ab-base/usr/bin/jitexec head=/tmp/jitexec-ab-head/usr/bin/jitexec" /dev/null
