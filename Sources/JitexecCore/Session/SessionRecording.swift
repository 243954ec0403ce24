import Glibc
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// The recording of one session (`record = true`): `LOCALSTATEDIR/log/jitexec/sessions/ID.cast`,
/// asciicast v2, root-only. Fail closed: a folder that cannot be made trusted or is full refuses
/// the run before `exec.start`; a file that cannot be created after it ends the run with `exec.end`
/// saying why; a write that fails while the command runs ends the command (`SessionControl`).
final class SessionRecording {
    let path: String
    private let fd: Int32
    let writer: AsciicastWriter

    private init(path: String, fd: Int32, writer: AsciicastWriter) {
        self.path = path
        self.fd = fd
        self.writer = writer
    }

    /// Before `exec.start`: the folder exists (created root-only when missing), is trusted, and
    /// holds less than `sessions_max`.
    static func prepareFolder(_ ctx: Context, settings: Settings) throws(JitError) {
        let dir = ctx.paths.sessionsDir
        try createDirectories(dir)
        try TrustedFiles.requireRootOwned(dir, kind: .directory)
        let used = folderSize(dir)
        guard used < settings.sessionsMax else {
            throw .unavailable(
                "session recordings fill \(ByteSize.approximate(used)) of sessions_max (\(ByteSize.exact(settings.sessionsMax))); "
                    + "an admin must move old recordings away or raise sessions_max; nothing was run")
        }
    }

    /// After `exec.start`: the file of session `id` (created, never reused or followed) and its
    /// header. Its size counts toward `record_max`.
    static func open(
        _ ctx: Context, _ run: DecidedRun, _ id: Int64, _ spec: ExecSpec, _ settings: Settings
    ) throws(JitError) -> SessionRecording {
        let title =
            "jitexec session #\(id): \(ctx.invoker.name) as \(run.target.name): "
            + run.command.map(\.escaped).joined(separator: " ")
        let limit = settings.recordMax
        let path = ctx.paths.recording(session: id)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o600)
        guard fd >= 0 else {
            throw .unavailable("cannot create the session recording \(path): \(errnoText()); nothing was run")
        }
        let (width, height) = SessionControl.initialSize(of: spec)
        var env: [String: String] = [:]
        for entry in spec.environment {
            let text = String(decoding: entry.bytes, as: UTF8.self)
            for key in ["TERM", "SHELL"] where text.hasPrefix(key + "=") {
                env[key] = String(text.dropFirst(key.count + 1))
            }
        }
        let started = Clocks.monotonic()
        do {
            let writer = try AsciicastWriter(
                fd: fd, limit: limit, width: width, height: height, timestamp: ctx.clock().wholeSeconds, title: title,
                env: env, elapsed: { Clocks.monotonic() - started })
            return SessionRecording(path: path, fd: fd, writer: writer)
        } catch {
            _ = Glibc.close(fd)
            throw .unavailable("cannot write the session recording \(path): \(error.description); nothing was run")
        }
    }

    /// After the command: the last bytes written and synced, the file closed; its size and SHA-256
    /// (nil when it cannot be read back).
    func finish() -> FileDigest.Result? {
        try? writer.finish()
        _ = fsync(fd)
        let digest = FileDigest.of(fd: fd)
        _ = Glibc.close(fd)
        return digest
    }

    /// Creates the missing directories of `LOCALSTATEDIR/log/jitexec/sessions`: the parents 0755,
    /// the folder itself 0700, each only under a trusted parent.
    private static func createDirectories(_ dir: String) throws(JitError) {
        var missing: [String] = []
        var current = dir
        var st = stat()
        while lstat(current, &st) != 0 && errno == ENOENT, let slash = current.lastIndex(of: "/"),
            slash > current.startIndex
        {
            missing.append(current)
            current = String(current[..<slash])
        }
        for path in missing.reversed() {
            let parent = String(path[..<path.lastIndex(of: "/")!])
            try TrustedFiles.requireRootOwned(parent, kind: .directory)
            guard mkdir(path, path == dir ? 0o700 : 0o755) == 0 || errno == EEXIST else {
                throw .unavailable("cannot create \(path): \(errnoText()); nothing was run")
            }
        }
    }

    /// The bytes the folder's regular files take.
    static func folderSize(_ dir: String) -> Int64 {
        (FileSystem.entries(of: dir) ?? []).reduce(0) { total, name in
            var st = stat()
            guard lstat("\(dir)/\(name)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return total }
            return total + Int64(st.st_size)
        }
    }
}

/// What `jitctl check` says about a policy's session keys: which rules record (with input or not),
/// which end commands at their grant's end, and where recordings go with their caps.
public enum SessionPolicySummary {
    public static func lines(_ policy: Policy, paths: Paths = .builtIn) -> [String] {
        var lines: [String] = []
        for rule in policy.rules where rule.record || rule.enforceExpiry {
            var what: [String] = []
            if rule.record {
                what.append(rule.recordInput ? "records sessions with keyboard input" : "records sessions")
            }
            if rule.enforceExpiry { what.append("ends commands when their grant expires or is revoked") }
            lines.append("rule '\(rule.name)': " + what.joined(separator: ", "))
        }
        if policy.rules.contains(where: \.record) {
            lines.append(
                "recordings: \(paths.sessionsDir), at most \(ByteSize.exact(policy.settings.recordMax)) each (record_max), "
                    + "\(ByteSize.exact(policy.settings.sessionsMax)) in all (sessions_max)")
        }
        return lines
    }
}
