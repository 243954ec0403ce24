# Shared by bench.sh, fleet.sh, ab.sh and scale.sh (sourced): the Debian packages a benchmark
# needs, its two users, jitexec installed into its own prefix with one rule for /usr/bin/true, a
# live grant for it, the switch to the fleet store and a database for it. Before sourcing, set P
# (the prefix), SERVICE (its PAM service), RUNDIR, USER_B, APPROVER.

# bench_packages PKG...: installs those missing.
bench_packages() {
  local need=""
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"; done
  if [ -n "$need" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
  fi
}

# bench_install DEFAULT_GRANT: the users (password pw-NAME-secret), a fresh install in $P and its
# policy: USER_B may run /usr/bin/true once APPROVER approves.
bench_install() {
  for u in "$USER_B" "$APPROVER"; do
    id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
    echo "$u:pw-$u-secret" | chpasswd
  done
  rm -rf "$P" "$RUNDIR" && mkdir -m 0755 "$P"
  rm -f "/etc/pam.d/$SERVICE"
  make -s install PREFIX="$P/usr" SYSCONFDIR="$P/etc" LOCALSTATEDIR="$P/var" RUNDIR="$RUNDIR" \
    PAM_SERVICE="$SERVICE" >/dev/null
  cat > "$P/etc/jitexec/policy.toml" <<POLICY
[settings]
credential_cache = "30m"
default_grant = "$1"
max_grant = "4h"

[[rule]]
name = "bench"
users = ["$USER_B"]
commands = ["/usr/bin/true"]
action = "approve"
approvers = ["$APPROVER"]
POLICY
  chmod 0644 "$P/etc/jitexec/policy.toml"
  mkdir -p "$P/out" && chown "$USER_B" "$P/out"
}

# bench_live_grant PREFIX: a live grant for USER_B's /usr/bin/true in the install at PREFIX, filed
# from the current folder (a command grant is bound to the request's working directory) and
# approved by APPROVER.
bench_live_grant() {
  runuser -u "$USER_B" -- "$1/usr/bin/jitexec" -S --no-wait /usr/bin/true <<<"pw-$USER_B-secret" >/dev/null 2>&1 || true
  local id
  id=$("$1/usr/bin/jitctl" requests --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
  runuser -u "$APPROVER" -- "$1/usr/bin/jitctl" approve "$id" -S <<<"pw-$APPROVER-secret" >/dev/null
}

# bench_fleet_store PREFIX URL: the install at PREFIX switched to the fleet store at the libpq URL
# (in a root-only url_file), checked by jitctl check.
bench_fleet_store() {
  (umask 077 && printf '%s\n' "$2" > "$1/etc/jitexec/store.url")
  printf '\n[store]\nbackend = "postgresql"\nurl_file = "%s"\n' "$1/etc/jitexec/store.url" >> "$1/etc/jitexec/policy.toml"
  "$1/usr/bin/jitctl" check >/dev/null
}

# bench_database NAME: a new, empty database NAME on the throwaway cluster JITEXEC_TEST_PG_URL
# names (pg_support.py run); prints the URL that reaches it directly. Through the pooler
# (pg_support.py pool) it is postgresql:///NAME?$JITEXEC_TEST_POOL.
bench_database() {
  PGOPTIONS="-c client_min_messages=warning" psql -X -q "$JITEXEC_TEST_PG_URL" \
    -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >&2
  python3 - "$JITEXEC_TEST_PG_URL" "$1" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))
PY
}
