import Glibc
import JitexecSystem
import Synchronization

/// The process's own privileges: the setuid precondition and acting as the real user.
public enum Privileges {
    /// jitexec and jitctl do nothing unless they run with euid 0 (installed setuid root).
    static func requireRoot(program: String) throws(JitError) {
        guard geteuid() == 0 else { throw .notSetuidRoot(program: program) }
    }

    /// The running binary must be the installed one: the path the kernel executed
    /// (`/proc/self/exe`) is `PREFIX/bin/PROGRAM`, root-owned with every directory above it. A copy or
    /// a hard link elsewhere (an old, perhaps vulnerable, setuid jitexec kept after an upgrade) is
    /// executed by another path and refused. The link count is not checked: a hard link root's own
    /// tools make elsewhere (perf's build-id cache) must not lock everyone out.
    static func requireInstalledBinary(program: String, paths: Paths) throws(JitError) {
        let installed = paths.binary(program)
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw .untrusted(path: "/proc/self/exe", problem: .cannotInspect(errnoText())) }
        let running = buffer.withUnsafeBufferPointer {
            String(decoding: $0[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let canonical = try TrustedFiles.requireRootOwned(installed, kind: .program)
        guard running == canonical else {
            throw .untrusted(path: running, problem: .notTheInstalledBinary(installed: installed))
        }
    }

    /// Who started the process: the real ids before `takeRealRoot`. Set once, at start-up.
    public struct Caller: Sendable {
        public var uid: uid_t
        public var gid: gid_t
    }

    private static let callerBox = Mutex<Caller?>(nil)

    /// The caller's real ids (the process's own real ids until `takeRealRoot` ran).
    public static var caller: Caller { callerBox.withLock { $0 } ?? Caller(uid: getuid(), gid: getgid()) }

    /// Makes root the real, effective and saved uid and gid, after noting who the caller was.
    /// From then on the caller cannot signal the process (kill(2) needs a matching real or saved
    /// uid; SIGCONT within the session excepted), so stopping or killing their own jitexec or
    /// jitctl can neither hold the store's lock nor bank a run. Signals from their terminal (Ctrl-C,
    /// Ctrl-Z) still arrive. The supplementary groups stay the caller's. PAM then runs with root as the
    /// real uid too, as in sudo (pam_rootok is refused in jitexec's service, see Authentication).
    static func takeRealRoot() throws(JitError) {
        let noted = Caller(uid: getuid(), gid: getgid())
        callerBox.withLock { if $0 == nil { $0 = noted } }
        // setre*id with the real id given sets the saved id to the new effective one: all three 0.
        guard setregid(0, 0) == 0, setreuid(0, 0) == 0 else {
            throw .notPermitted("cannot take root's identity (\(errnoText())); is jitexec installed setuid root?")
        }
    }

    /// Limits the caller set (`ulimit -f 0`, `-n 3`, `-v 50000`, `-t 1`, `-c`) must not make jitexec,
    /// or a helper it starts (the notification runner, the policy compiler, the on-call command), die
    /// half-way or silently. Every soft limit is raised to at least what jitexec needs (to the hard
    /// limit where it cannot be raised further); when a hard limit is itself too low, jitexec refuses
    /// up front, naming the `ulimit` to fix, rather than fail in the middle. Helpers inherit these
    /// limits, never the caller's. SIGXFSZ is ignored, so an over-long write fails with an error (and
    /// a rolled-back transaction) instead of killing the process; the command gets the default
    /// disposition back. Core dumps are off. The command's limits come from the PAM session
    /// (pam_limits), as with sudo.
    static func resetLimits() throws(JitError) {
        signal(SIGXFSZ, SIG_IGN)
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
        for need in neededLimits {
            let now = raise(need.resource, to: need.wanted)
            guard now >= need.least else {
                let shown = now == rlim_t.max ? "unlimited" : "\(now / need.unit)"
                throw .notPermitted(
                    "your \(need.name) limit (ulimit -\(need.flag)) is \(shown); jitexec needs \(need.shownLeast): run 'ulimit -\(need.flag) \(need.fix)' and try again"
                )
            }
        }
        for other in [__RLIMIT_NPROC, __RLIMIT_SIGPENDING, __RLIMIT_MEMLOCK, __RLIMIT_MSGQUEUE, __RLIMIT_LOCKS] {
            _ = raise(other, to: rlim_t.max)
        }
    }

    /// One limit jitexec raises and how much it must get.
    private struct NeededLimit {
        var resource: __rlimit_resource
        var name: String
        var flag: String
        var wanted: rlim_t
        var least: rlim_t
        var unit: rlim_t
        var shownLeast: String
        var fix: String
    }

    private static let neededLimits: [NeededLimit] = [
        NeededLimit(
            resource: RLIMIT_FSIZE, name: "file size", flag: "f", wanted: .max, least: .max, unit: 1024,
            shownLeast: "it unlimited to write its store safely", fix: "unlimited"),
        NeededLimit(
            resource: RLIMIT_NOFILE, name: "open-file", flag: "n", wanted: 1024, least: 64, unit: 1,
            shownLeast: "at least 64", fix: "1024"),
        NeededLimit(
            resource: RLIMIT_AS, name: "virtual memory", flag: "v", wanted: .max, least: .max, unit: 1024,
            shownLeast: "it unlimited (its helpers map more than a small limit allows)", fix: "unlimited"),
        NeededLimit(
            resource: RLIMIT_DATA, name: "data size", flag: "d", wanted: .max, least: .max, unit: 1024,
            shownLeast: "it unlimited", fix: "unlimited"),
        NeededLimit(
            resource: RLIMIT_CPU, name: "CPU time", flag: "t", wanted: .max, least: .max, unit: 1,
            shownLeast: "it unlimited (a run may wait for approval for hours)", fix: "unlimited"),
        NeededLimit(
            resource: RLIMIT_STACK, name: "stack size", flag: "s", wanted: 8 << 20, least: 1 << 20, unit: 1024,
            shownLeast: "at least 1024 KiB", fix: "8192"),
    ]

    /// Raises the soft limit of `resource` to at least `wanted` (the hard limit too where the process
    /// may, else up to the hard limit); returns the soft limit now in force.
    private static func raise(_ resource: __rlimit_resource, to wanted: rlim_t) -> rlim_t {
        let which = __rlimit_resource_t(resource.rawValue)
        var current = rlimit()
        guard getrlimit(which, &current) == 0 else { return 0 }
        if current.rlim_cur >= wanted { return current.rlim_cur }
        var raised = rlimit(rlim_cur: wanted, rlim_max: max(current.rlim_max, wanted))
        if setrlimit(which, &raised) == 0 { return wanted }
        raised = rlimit(rlim_cur: current.rlim_max, rlim_max: current.rlim_max)
        return setrlimit(which, &raised) == 0 ? current.rlim_max : current.rlim_cur
    }

    /// The invoking user: the caller's real uid, which they cannot forge. With `groupsBeside`, their
    /// group list is looked up on a thread of its own while the caller goes on (`Accounts.byUIDBeside`).
    static func invoker(groupsBeside: Bool) throws(JitError) -> PendingAccount {
        let uid = caller.uid
        let found = try lookingUp { () throws(UserDatabase.LookupError) -> PendingAccount? in
            groupsBeside ? try Accounts.byUIDBeside(uid) : try Accounts.byUID(uid).map(PendingAccount.init)
        }
        guard let found else { throw .unknownInvoker(uid: uid) }
        return found
    }

    /// Opens a file named by the caller with the caller's own rights, so a setuid jitctl never
    /// reads for a user what the user could not read (e.g. `jitctl check /etc/shadow`).
    public static func readAsRealUser(_ path: String) throws(JitError) -> [UInt8] {
        guard
            let (fd, openError) = asCallerEffective({ () -> (Int32, Int32) in
                let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
                return (fd, errno)
            })
        else {
            throw .unreadable(path: path, reason: "cannot switch to your own identity")
        }
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(openError))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        return try TrustedFiles.readAll(fd, path: path)
    }
}

extension Privileges {
    /// Runs `body` with the caller's effective uid and gid (real and saved stay root, so the caller
    /// still cannot signal the process; the supplementary groups are the caller's already), then
    /// takes root back. nil, with nothing run, when the switch fails. Regaining root must work (the
    /// saved uid is 0); if it does not, the process stops there.
    static func asCallerEffective<T>(_ body: () -> T) -> T? {
        let (uid, gid) = (caller.uid, caller.gid)
        let (euid, egid) = (geteuid(), getegid())
        guard uid != euid || gid != egid else { return body() }
        guard setegid(gid) == 0 else { return nil }
        guard seteuid(uid) == 0 else {
            _ = setegid(egid)
            return nil
        }
        defer {
            guard seteuid(euid) == 0, setegid(egid) == 0 else { fatalError("cannot restore privileges") }
        }
        return body()
    }
}

/// The host name, as rules and grants carry it.
func currentHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
