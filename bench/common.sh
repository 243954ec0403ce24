# Shared by bench.sh and scale.sh (sourced): the Debian packages a benchmark needs, its two users,
# and jitexec installed into its own prefix with one rule for /usr/bin/true. Before sourcing, set
# P (the prefix), SERVICE (its PAM service), RUNDIR, USER_B, APPROVER.

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
