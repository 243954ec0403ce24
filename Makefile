# jitexec — build, install and test.
#
# Paths are compiled into the binaries (nothing at run time changes them):
#   make PREFIX=/usr/local SYSCONFDIR=/etc LOCALSTATEDIR=/var RUNDIR=/run PAM_SERVICE=jitexec install
PREFIX        ?= /usr/local
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
RUNDIR        ?= /run
PAM_SERVICE   ?= jitexec
PAMDIR        ?= /etc/pam.d
MANDIR        ?= $(PREFIX)/share/man
VERSION       ?= 0.1.0

BINDIR    := $(PREFIX)/bin
# Linux-PAM lowercases the service name: PAM_SERVICE=jitexec-itF reads /etc/pam.d/jitexec-itf.
PAMFILE   := $(PAMDIR)/$(shell printf '%s' '$(PAM_SERVICE)' | tr '[:upper:]' '[:lower:]')
SHAREDIR  := $(PREFIX)/share/jitexec
LIBEXECDIR := $(PREFIX)/libexec/jitexec
CONFDIR   := $(SYSCONFDIR)/jitexec
STATEDIR  := $(LOCALSTATEDIR)/lib/jitexec
LOGDIR    := $(LOCALSTATEDIR)/log/jitexec
SCRATCH   ?= .build
PYTEST_ARGS ?=
SWIFT     ?= swift
SHELL     := /bin/bash

export JITEXEC_PREFIX=$(PREFIX)
export JITEXEC_SYSCONFDIR=$(SYSCONFDIR)
export JITEXEC_LOCALSTATEDIR=$(LOCALSTATEDIR)
export JITEXEC_RUNDIR=$(RUNDIR)
export JITEXEC_PAM_SERVICE=$(PAM_SERVICE)
export JITEXEC_VERSION=$(VERSION)

# The installed binaries carry the Swift runtime and, with it, its C++ and unwinder support
# (libstdc++, libgcc_eh) statically: loading and relocating libstdc++.so and libgcc_s.so cost a
# setuid start about 0.8 ms (see the README's "Benchmark"). So do they carry Debian's SQLite
# (libsqlite3.a from libsqlite3-dev): as a shared library it cost a run 0.3-0.5 ms, its loading and
# every later symbol lookup of PAM's and NSS's modules, which searches each library loaded at start
# (the README's "Benchmark" says what that trades). So do they carry Nettle (libnettle.a from
# nettle-dev, the audit chain's SHA-256): 0.11-0.15 ms a run more. The link line asks for -lstdc++,
# -lsqlite3 and -lnettle; a folder holding only those static archives, searched first, makes them
# the archives. libpam stays shared (its modules need it), and so does libm (glibc's libm.a needs
# symbols only libc.a has).
# No -export-dynamic: nothing looks jitexec's own symbols up at run time, and an exported C symbol
# could stand in for a library's (PAM modules resolve their symbols through the executable first).
# Full RELRO (-z now): the GOT is read-only before main, as sudo's is. No $ORIGIN run path
# (--disable-local-rpath): the libraries come from the system's directories only.
# The toolchain's lld links them, with each function compiled into a section of its own
# (-function-sections) and the functions a run executes (bench/hot-path.order, written by
# `make hot-path-order`) placed first: a run touches fewer of the binary's pages (the README's
# "Benchmark"). Names the file lists that the code no longer has are skipped. Relative
# relocations packed (-z pack-relative-relocs, DT_RELR): 3.6 KB of them to read at start, not
# 480 KB; glibc 2.36 or later runs them, an older loader refuses the binary (GLIBC_ABI_DT_RELR).
# `make link-flags` prints them in swiftc's form (make bench builds its smallest Swift program so).
STATIC_LIBS := $(abspath $(SCRATCH))/static-libs
HOT_PATH_ORDER := $(abspath bench/hot-path.order)
LD_OPTIONS := -z pack-relative-relocs --no-export-dynamic -z now
LINKER_FLAGS := -Xswiftc -use-ld=lld -Xlinker --symbol-ordering-file=$(HOT_PATH_ORDER) \
  -Xlinker --no-warn-symbol-ordering -Xlinker -L$(STATIC_LIBS) $(addprefix -Xlinker ,$(LD_OPTIONS))
# swiftc's own -L: a -Xlinker -L lands after the compiler's library folders, which hold libstdc++.so.
LINK_FLAGS := -use-ld=lld -L$(STATIC_LIBS) $(addprefix -Xlinker ,$(LD_OPTIONS)) -Xclang-linker -static-libgcc
# Concrete generic types' metadata reached by accessor calls, not by demangling the type's name at
# its first use (-disable-concrete-type-metadata-mangled-name-accessors): a run demangled about 180
# names, now about 60 (the standard library's own); 20 KB more code.
RELEASE_FLAGS := -c release --static-swift-stdlib --disable-local-rpath --scratch-path $(SCRATCH) $(LINKER_FLAGS) \
  -Xswiftc -Xclang-linker -Xswiftc -static-libgcc -Xswiftc -Xfrontend -Xswiftc -function-sections \
  -Xcc -ffunction-sections -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors

.PHONY: all build release static-libs link-flags install uninstall deb test test-deps lint unit-test integration-test check-root clean deps quickstart first-run bench bench-ab bench-scale hot-path-order fuzz test-asan test-tsan

all: build

build:
	$(SWIFT) build --scratch-path $(SCRATCH)

release: static-libs
	@# SwiftPM sees neither the order file nor the static archives, which both products link with: a
	@# newer order file, or another list of archives, relinks them (missing, they link again).
	@for input in $(HOT_PATH_ORDER) $(STATIC_LIBS)/list; do \
	  if [ $$input -nt $(SCRATCH)/release/jitexec ]; then rm -f $(SCRATCH)/release/jitexec $(SCRATCH)/release/jitctl; fi; \
	done
	$(SWIFT) build $(RELEASE_FLAGS) --product jitexec
	$(SWIFT) build $(RELEASE_FLAGS) --product jitctl

STATIC_ARCHIVES := libstdc++.a libsqlite3.a libnettle.a
static-libs:
	@mkdir -p $(STATIC_LIBS) && rm -f $(STATIC_LIBS)/*.a && for lib in $(STATIC_ARCHIVES); do \
	  ln -s "$$(clang -print-file-name=$$lib)" $(STATIC_LIBS)/$$lib; \
	  [ -f $(STATIC_LIBS)/$$lib ] || { echo "$$lib not found (clang -print-file-name=$$lib); run 'make deps'"; exit 1; }; \
	done
	@echo '$(STATIC_ARCHIVES)' | cmp -s - $(STATIC_LIBS)/list || echo '$(STATIC_ARCHIVES)' > $(STATIC_LIBS)/list

link-flags: static-libs
	@echo '$(LINK_FLAGS)'

# Debian packages the build needs (needs root and the network to Debian's mirrors).
DEBS := libpam0g-dev libsqlite3-dev libstdc++-12-dev sqlite3 libpq-dev nettle-dev pkg-config passwd login curl man-db
# And what the tests drive: pamtester and a real sshd + ssh client for login gating, PostgreSQL and
# pgbouncer for the fleet store, pytest and pexpect (ptys) for the integration harness,
# dpkg-dev/lintian/man-db for the package test, the three shells whose Tab completion is tested, and
# strace (which files a run syncs).
TEST_DEBS := $(DEBS) pamtester openssh-server openssh-client sshpass asciinema postgresql pgbouncer openssl \
  dpkg-dev binutils lintian mandoc bash-completion zsh fish strace
deps: check-root
	$(call install-debs,$(DEBS))

# Installs only what is missing, so a developer who has everything runs `make test` without root.
define install-debs
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  [ "$$(id -u)" = 0 ] || { echo "missing Debian packages: $$missing; run 'make test' as root once to install them"; exit 1; }; \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install -q pytest
	python3 -c "import pexpect" 2>/dev/null || python3 -m pip install -q pexpect
endef

test-deps:
	$(call install-debs,$(TEST_DEBS))

# Install and show the first run against the installed policy and the embedded SQLite store.
quickstart: deps install first-run

first-run:
	$(BINDIR)/jitexec -V
	$(BINDIR)/jitctl check
	$(BINDIR)/jitctl explain -- systemctl restart nginx || true
	$(BINDIR)/jitctl verify
	man -w jitexec jitctl jitexec.toml jitexec-formats

check-root:
	@[ "$$(id -u)" = 0 ] || { echo "make install must run as root (the binaries are setuid root)"; exit 1; }

# DESTDIR stages an install for a package (make deb): nothing there needs root, the package gives
# every file to root. Without DESTDIR this is the live install and needs root.
DESTDIR ?=
OWN     := $(if $(DESTDIR),,-o root -g root)
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/share/zsh/vendor-completions,$(PREFIX)/share/zsh/site-functions)
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The pages, the sample policy, the notifier and the automation programs name the installed paths:
# the default install's in the repo, this install's once installed.
SUBST := sed -e 's|/etc/jitexec|$(CONFDIR)|g' \
             -e 's|/usr/local/bin/jitexec|$(BINDIR)/jitexec|g' -e 's|/usr/local/bin/jitctl|$(BINDIR)/jitctl|g' \
             -e 's|/usr/local/share/jitexec|$(SHAREDIR)|g' -e 's|/usr/local/libexec/jitexec|$(LIBEXECDIR)|g'
# The automated approvers jitexec ships (see jitexec.toml(5), [[automation]]).
AUTOMATIONS := maintenance-window ticket-check
D := $(DESTDIR)

install: $(if $(DESTDIR),,check-root) release
	install -d $(OWN) -m 0755 $(D)$(BINDIR)
	install $(OWN) -m 4755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/jitexec" $(D)$(BINDIR)/jitexec
	install $(OWN) -m 4755 "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/jitctl" $(D)$(BINDIR)/jitctl
	install -d $(OWN) -m 0755 $(D)$(SHAREDIR)
	$(SUBST) packaging/notify-webhook > $(D)$(SHAREDIR)/notify-webhook.tmp
	chmod 0755 $(D)$(SHAREDIR)/notify-webhook.tmp && mv $(D)$(SHAREDIR)/notify-webhook.tmp $(D)$(SHAREDIR)/notify-webhook
	@# jitexec runs an automation only from a root-owned file that group and others cannot write.
	install -d $(OWN) -m 0755 $(D)$(LIBEXECDIR)
	for prog in $(AUTOMATIONS); do \
	  $(SUBST) packaging/automation/$$prog > $(D)$(LIBEXECDIR)/$$prog.tmp \
	    $(if $(DESTDIR),,&& chown root:root $(LIBEXECDIR)/$$prog.tmp) \
	    && chmod 0755 $(D)$(LIBEXECDIR)/$$prog.tmp && mv $(D)$(LIBEXECDIR)/$$prog.tmp $(D)$(LIBEXECDIR)/$$prog || exit 1; \
	done
	install -d $(OWN) -m 0755 $(D)$(MANDIR)/man5 $(D)$(MANDIR)/man8
	for page in jitexec.toml.5 jitexec-formats.5 jitexec.8 jitctl.8; do \
	  $(SUBST) man/$$page > $(D)$(MANDIR)/man$${page##*.}/$$page && chmod 0644 $(D)$(MANDIR)/man$${page##*.}/$$page || exit 1; \
	done
	install -d $(OWN) -m 0755 $(D)$(BASHCOMPDIR) $(D)$(ZSHCOMPDIR) $(D)$(FISHCOMPDIR)
	install $(OWN) -m 0644 packaging/completions/jitexec.bash $(D)$(BASHCOMPDIR)/jitexec
	install $(OWN) -m 0644 packaging/completions/jitctl.bash $(D)$(BASHCOMPDIR)/jitctl
	install $(OWN) -m 0644 packaging/completions/_jitexec packaging/completions/_jitctl $(D)$(ZSHCOMPDIR)/
	install $(OWN) -m 0644 packaging/completions/jitexec.fish packaging/completions/jitctl.fish $(D)$(FISHCOMPDIR)/
	install -d $(OWN) -m 0755 $(D)$(PAMDIR)
	@if [ -e $(D)$(PAMFILE) ]; then echo "keeping existing $(PAMFILE)"; \
	else install $(OWN) -m 0644 pam/jitexec $(D)$(PAMFILE); fi
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@PAM_SERVICE@|$(notdir $(PAMFILE))|g' pam/jitexec-login > $(D)$(PAMFILE)-login.tmp
	$(if $(DESTDIR),,chown root:root $(PAMFILE)-login.tmp &&) chmod 0644 $(D)$(PAMFILE)-login.tmp
	mv $(D)$(PAMFILE)-login.tmp $(D)$(PAMFILE)-login
	install -d $(OWN) -m 0755 $(D)$(CONFDIR) $(D)$(CONFDIR)/policy.d
	@if [ -e $(D)$(CONFDIR)/policy.toml ]; then echo "keeping existing $(CONFDIR)/policy.toml"; \
	else $(SUBST) packaging/policy.toml > $(D)$(CONFDIR)/policy.toml && chmod 0644 $(D)$(CONFDIR)/policy.toml; fi
	@# A package creates the state directories and RUNDIR/jitexec in its postinst / tmpfiles.d.
	$(if $(DESTDIR),,install -d -o root -g root -m 0700 $(STATEDIR) $(LOGDIR) $(LOGDIR)/sessions)
	$(if $(DESTDIR),,install -d -o root -g root -m 0755 $(RUNDIR))
	$(if $(DESTDIR),,install -d -o root -g root -m 0700 $(RUNDIR)/jitexec)
	@echo "installed jitexec $(VERSION): $(D)$(BINDIR)/jitexec (setuid root), policy $(D)$(CONFDIR)/policy.toml"

uninstall: check-root
	rm -f $(BINDIR)/jitexec $(BINDIR)/jitctl $(SHAREDIR)/notify-webhook
	rmdir $(SHAREDIR) 2>/dev/null || true
	rm -f $(addprefix $(LIBEXECDIR)/,$(AUTOMATIONS))
	rmdir $(LIBEXECDIR) 2>/dev/null || true
	rm -f $(MANDIR)/man5/jitexec.toml.5 $(MANDIR)/man5/jitexec-formats.5 $(MANDIR)/man8/jitexec.8 $(MANDIR)/man8/jitctl.8
	rm -f $(BASHCOMPDIR)/jitexec $(BASHCOMPDIR)/jitctl $(ZSHCOMPDIR)/_jitexec $(ZSHCOMPDIR)/_jitctl
	rm -f $(FISHCOMPDIR)/jitexec.fish $(FISHCOMPDIR)/jitctl.fish
	@echo "kept $(CONFDIR), $(STATEDIR), $(LOGDIR), $(PAMFILE) and $(PAMFILE)-login (your policy and the audit history); remove them by hand if you mean it"

# A Debian package, jitexec_VERSION_ARCH.deb in DEB_OUT, built with dpkg-deb (see packaging/deb/build
# and the README's "Debian package"). Its own build folder: its paths are /usr, /etc, /var, /run.
DEB_OUT ?= .
MAINTAINER ?= jitexec developers <jitexec@example.org>
deb:
	$(call install-debs,$(DEBS) dpkg-dev binutils)
	bash packaging/deb/build '$(VERSION)' '$(DEB_OUT)' '$(MAINTAINER)'

# The whole suite: what the tests need (installed when missing), unit tests, then the integration
# tests against an installed setuid binary.
test: test-deps
	$(MAKE) lint
	$(MAKE) unit-test
	$(MAKE) integration-test

# The repo's own .swift-format, strictly: a finding fails the build (swift format ships with the toolchain).
lint:
	swift format lint --recursive --strict Package.swift Sources Tests Fuzz

# The unit suites that run over a store, and so run on both backends (see Tests/JitexecCoreTests/TestBackend.swift).
PG_SUITES := Workflow|RunPipeline|SessionRun|FleetStore
unit-test:
	JITEXEC_WERROR=1 $(SWIFT) build --build-tests --scratch-path $(SCRATCH)
	# Serial: some suites test process-wide signal dispositions and would see each other.
	JITEXEC_WERROR=1 $(SWIFT) test --skip-build --no-parallel --scratch-path $(SCRATCH)
	# The store-backed suites again on PostgreSQL: a throwaway cluster (root starts it as its own
	# account; without root this says loudly that it skipped).
	python3 Tests/integration/pg_support.py run -- \
	  $(SWIFT) test --skip-build --no-parallel --scratch-path $(SCRATCH) --filter '$(PG_SUITES)'

integration-test:
	$(SWIFT) build --scratch-path $(SCRATCH) --product jitexec-audit-stress
	SCRATCH=$(SCRATCH) AUDIT_STRESS="$$($(SWIFT) build --scratch-path $(SCRATCH) --show-bin-path)/jitexec-audit-stress" \
	  python3 -m pytest -v Tests/integration $(PYTEST_ARGS)

# Unit tests under AddressSanitizer / ThreadSanitizer (own build folders).
test-asan:
	$(SWIFT) build --build-tests --scratch-path .build-asan --sanitize=address
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan.supp:print_suppressions=0 \
	  $(SWIFT) test --skip-build --no-parallel --scratch-path .build-asan --sanitize=address

test-tsan:
	$(SWIFT) build --build-tests --scratch-path .build-tsan --sanitize=thread
	$(SWIFT) test --skip-build --no-parallel --scratch-path .build-tsan --sanitize=thread

# libFuzzer: each target replays Fuzz/regressions/ (crash inputs found before, committed), then runs
# FUZZ_SECONDS (CI: a short smoke). New crashes land in Fuzz/crashes/ and fail the run.
# Swift's hashing runs with a fixed seed (SWIFT_DETERMINISTIC_HASHING): otherwise every process
# hashes differently, the coverage libFuzzer follows differs, and the same -seed=N takes another path
# (two runs of fuzz-policy with -seed=1 reached 2,400 and 2,516 edges in 4,000 inputs; with it, 2,494
# both times), so CI's fixed-seed smoke would not be the run the developers made.
FUZZ_ENV := SWIFT_DETERMINISTIC_HASHING=1 SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan.supp
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
# Extra flags for fuzz-policy only (CI: -runs=N, see .ci/run).
FUZZ_POLICY_FLAGS ?=
FUZZERS := fuzz-policy fuzz-pattern fuzz-escape fuzz-time
fuzz:
	mkdir -p Fuzz/crashes
	for f in $(FUZZERS); do \
	  JITEXEC_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz --product $$f -Xswiftc -sanitize=fuzzer,address || exit 1; \
	done
	for f in $(FUZZERS); do \
	  r=Fuzz/regressions/$${f#fuzz-}; \
	  if [ -d $$r ]; then $(FUZZ_ENV) .build-fuzz/debug/$$f $$r/* >/dev/null 2>&1 \
	    || { echo "$$f fails on a committed regression input in $$r"; exit 1; }; fi; \
	  c=Fuzz/corpus/$${f#fuzz-}; w=$$(mktemp -d); cp -r $$c/. $$w/; \
	  $(FUZZ_ENV) .build-fuzz/debug/$$f -max_total_time=$(FUZZ_SECONDS) -detect_leaks=0 $(FUZZ_FLAGS) $$([ $$f = fuzz-policy ] && echo $(FUZZ_POLICY_FLAGS)) -artifact_prefix=Fuzz/crashes/$$f- -print_final_stats=1 $$w 2>&1 \
	    | grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY" ; \
	  s=$${PIPESTATUS[0]}; rm -rf $$w; [ "$$s" = 0 ] || { echo "$$f found a crash: see Fuzz/crashes/"; exit 1; }; \
	done

# Start-up cost against sudo and doas, one hyperfine run (root; see bench/bench.sh).
bench:
	bash bench/bench.sh

# One change measured: this working tree's jitexec against BASE's (default HEAD~1), paired runs
# interleaved in one session, on SQLite or BACKEND=postgresql [POOLER=1] (root; see bench/ab.sh).
bench-ab:
	BASE='$(BASE)' BACKEND='$(BACKEND)' AB_ROUNDS='$(AB_ROUNDS)' POOLER='$(POOLER)' bash bench/ab.sh

# Does the hot path's cost grow with history? A fresh store against 1M audit records and 200k old
# requests (SCALE_RECORDS, SCALE_REQUESTS), and verify/log/requests on it (root; see bench/scale.sh).
bench-scale:
	bash bench/scale.sh

# bench/hot-path.order from one run under callgrind (root; see bench/order.sh). Run it after
# changes to the hot path, with the build to be measured installed by it.
hot-path-order:
	bash bench/order.sh

clean:
	rm -rf .build .build-*
