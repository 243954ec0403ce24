import Glibc

/// The process's own privileges: the setuid precondition and acting as the real user.
public enum Privileges {
    /// jitexec and jitctl do nothing unless they run with euid 0 (installed setuid root).
    public static func requireRoot(program: String) throws(JitError) {
        guard geteuid() == 0 else { throw .notSetuidRoot(program: program) }
    }

    /// The running binary must be the installed one (`PREFIX/bin/PROGRAM`, root-owned, one hard link,
    /// every directory above root-owned): a hard-linked copy in a user's directory would keep an old,
    /// perhaps vulnerable, setuid jitexec alive after an upgrade.
    public static func requireInstalledBinary(program: String, paths: Paths) throws(JitError) {
        let installed = paths.binary(program)
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw .untrusted(path: "/proc/self/exe", problem: .cannotInspect(errnoText())) }
        let running = buffer.withUnsafeBufferPointer { String(decoding: $0[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let canonical = try TrustedFiles.requireRootOwned(installed, kind: .file)
        guard running == canonical else {
            throw .untrusted(path: running, problem: .notTheInstalledBinary(installed: installed))
        }
    }

    /// Limits the caller set (`ulimit -f 0`, `-n 3`, `-c`) must not make jitexec die half-way
    /// through a write or dump its memory. Soft limits are raised to at least the hard limit (to
    /// unlimited where the process may); when the hard limit itself is too low, jitexec refuses up
    /// front rather than fail in the middle. SIGXFSZ is ignored, so an over-long write fails with an
    /// error (and a rolled-back transaction) instead of killing the process; the command gets the
    /// default disposition back. Core dumps are off. The command's limits come from the PAM session
    /// (pam_limits), as with sudo.
    public static func resetLimits() throws(JitError) {
        signal(SIGXFSZ, SIG_IGN)
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
        let fileSize = raise(RLIMIT_FSIZE, to: rlim_t.max)  // RLIM_INFINITY
        guard fileSize == rlim_t.max else {
            throw .notPermitted("your file size limit (ulimit -f) is \(fileSize / 1024) KiB; jitexec needs it unlimited to write its store safely: run 'ulimit -f unlimited' and try again")
        }
        let files = raise(RLIMIT_NOFILE, to: 1024)
        guard files >= 64 else {
            throw .notPermitted("your open-file limit (ulimit -n) is \(files); jitexec needs at least 64: run 'ulimit -n 1024' and try again")
        }
    }

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

    /// The invoking user: the real uid, which the caller cannot forge.
    public static func invoker() throws(JitError) -> Account {
        let uid = getuid()
        guard let account = Accounts.byUID(uid) else { throw .unknownInvoker(uid: uid) }
        return account
    }

    /// Opens a file named by the caller with the caller's own rights, so a setuid jitctl never
    /// reads for a user what the user could not read (e.g. `jitctl check /etc/shadow`).
    public static func readAsRealUser(_ path: String) throws(JitError) -> [UInt8] {
        let ruid = getuid(), rgid = getgid(), euid = geteuid(), egid = getegid()
        let dropping = ruid != euid
        if dropping {
            guard setegid(rgid) == 0, seteuid(ruid) == 0 else {
                throw .unreadable(path: path, reason: "cannot switch to your own identity")
            }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        let openError = errno
        if dropping {
            // Regaining root must work (the saved set-user-ID is 0); if not, stop here.
            guard seteuid(euid) == 0, setegid(egid) == 0 else { fatalError("cannot restore privileges") }
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

/// The host name, as rules and grants carry it.
public func currentHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
