import Glibc

/// The process's own privileges: the setuid precondition and acting as the real user.
public enum Privileges {
    /// jitexec and jitctl do nothing unless they run with euid 0 (installed setuid root).
    public static func requireRoot(program: String) throws(JitError) {
        guard geteuid() == 0 else { throw .notSetuidRoot(program: program) }
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
