import Glibc
import JitexecBase
import JitexecPolicy
import JitexecSystem

/// The policy as `jitctl` compiled it from TOML, kept root-only in the state directory. jitexec
/// links no TOML parser (TOMLKit needs full Foundation, which costs every run milliseconds of
/// start-up), so it reads this instead — but only while it matches the policy files exactly: the
/// same paths, device, inode, size, mtime and ctime of every file (anyone who can change those can
/// already change the policy), written by this version, and at most `maxAge` old. Otherwise jitexec
/// has the installed jitctl compile it again first. An invalid policy is compiled too, as its errors,
/// so every run refuses with the first one until the files change.
public struct CompiledPolicy: Sendable {
    static let format = 4
    /// Recompiled at least this often, so that command paths canonicalized at compile time
    /// (symbolic links, bare names through secure_path) follow changes on the host.
    static let maxAgeSeconds: Int64 = 600

    var format: Int
    var version: String
    var compiledAt: Int64
    var sources: [SourceStamp]
    var policy: Policy?
    var errors: [Diagnostic]
    /// The on-call schedule file as it was when its shifts were compiled into `policy`.
    var schedule: SourceStamp?
    /// While the policy is invalid: the last valid one, which only the login gate consults (to know
    /// whom it must refuse while it cannot decide).
    var lastGood: Policy?

    public init(
        version: String, compiledAt: Int64, sources: [SourceStamp], policy: Policy?, errors: [Diagnostic],
        schedule: SourceStamp? = nil, lastGood: Policy? = nil
    ) {
        self.format = Self.format
        self.version = version
        self.compiledAt = compiledAt
        self.sources = sources
        self.policy = policy
        self.errors = errors
        self.schedule = schedule
        self.lastGood = lastGood
    }

    /// The policy of the compiled file, or the last valid one while the policy is invalid; nil
    /// when there is no trusted compiled file.
    public static func lastGoodPolicy(_ ctx: Context) -> Policy? {
        lastGoodPolicy(paths: ctx.paths)
    }

    /// The same from the paths alone (the login gate when its context cannot be made).
    public static func lastGoodPolicy(paths: Paths) -> Policy? {
        read(paths: paths).flatMap { $0.policy ?? $0.lastGood }
    }

    /// What identifies one policy file's contents without reading it.
    public struct SourceStamp: Equatable, Sendable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtime: Int64
        var ctime: Int64
    }

    /// Where the compiled policy lives.
    static func path(_ ctx: Context) -> String { path(paths: ctx.paths) }
    static func path(paths: Paths) -> String { "\(paths.stateDir)/policy.compiled.json" }

    /// A stamp of `path` without any trust check; all zero when it does not exist (so a file
    /// appearing later makes the stamp stale).
    public static func stamp(_ path: String) -> SourceStamp {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            return SourceStamp(path: path, device: 0, inode: 0, size: 0, mtime: 0, ctime: 0)
        }
        return SourceStamp(
            path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
            mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            ctime: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }

    /// The installed policy files (trusted-file checks included), stamped.
    public static func stamps(_ ctx: Context) throws(JitError) -> [SourceStamp] {
        // policy.toml and policy.d share one folder: checked once, then each file as an entry of
        // it (or of policy.d). Anything that check refuses is checked again file by file, so a
        // refusal names what it always named.
        if let stamps = try? stampsInCheckedFolder(ctx.paths) { return stamps }
        var result: [SourceStamp] = []
        for path in [ctx.paths.policyFile] + (try PolicyFiles.dropIns(ctx.paths.policyDir)) {
            try TrustedFiles.requireRootOwned(path, kind: .file)
            result.append(try existingStamp(path))
        }
        return result
    }

    /// `stamps` with the policy folder walked once (`Paths` puts policy.toml and policy.d in it);
    /// throws whenever anything is not as expected (the caller then checks file by file).
    private static func stampsInCheckedFolder(_ paths: Paths) throws(JitError) -> [SourceStamp] {
        let folder = paths.policyFolder
        let checked = try TrustedFiles.requireRootOwned(folder, kind: .directory)
        try TrustedFiles.requireRootOwned(Paths.policyFileName, inCheckedDirectory: checked, kind: .file)
        var result = [try existingStamp(paths.policyFile)]
        var st = stat()
        guard lstat(paths.policyDir, &st) == 0 else {
            guard errno == ENOENT else { throw .untrusted(path: paths.policyDir, problem: .cannotInspect(errnoText())) }
            return result
        }
        let dropIns = try TrustedFiles.requireRootOwned(
            Paths.dropInFolderName, inCheckedDirectory: checked, kind: .directory)
        for name in try PolicyFiles.dropInNames(dropIns) {
            try TrustedFiles.requireRootOwned(name, inCheckedDirectory: dropIns, kind: .file)
            result.append(try existingStamp("\(paths.policyDir)/\(name)"))
        }
        return result
    }

    /// The stamp of a file just checked; it must still be there.
    private static func existingStamp(_ path: String) throws(JitError) -> SourceStamp {
        let stamp = stamp(path)
        guard stamp.inode != 0 else { throw .unreadable(path: path, reason: "it disappeared while being checked") }
        return stamp
    }

    /// jitexec's policy loader: the compiled policy when it is current, else compile it first.
    @Sendable public static func load(_ ctx: Context) throws(JitError) -> Policy {
        let stamps = try stamps(ctx)
        let compiled: CompiledPolicy
        if let current = read(ctx), current.isCurrent(stamps, ctx) {
            compiled = current
        } else {
            try runCompiler(ctx)
            guard let fresh = read(ctx), fresh.isCurrent(try Self.stamps(ctx), ctx) else {
                throw .storeUnavailable("the policy could not be compiled; run 'jitctl check' to see why")
            }
            compiled = fresh
        }
        if let policy = compiled.policy, compiled.errors.isEmpty { return policy }
        guard let first = compiled.errors.first else {
            throw .storeUnavailable("the compiled policy is empty; run 'jitctl check'")
        }
        throw .policyInvalid(first: first, errors: compiled.errors.count)
    }

    func isCurrent(_ stamps: [SourceStamp], _ ctx: Context) -> Bool {
        let age = ctx.clock().wholeSeconds - compiledAt
        return format == Self.format && version == ctx.paths.version && sources == stamps
            && age >= 0 && age < Self.maxAgeSeconds && (schedule.map { Self.stamp($0.path) == $0 } ?? true)
    }

    /// The compiled policy, or nil when it is missing, untrusted or unreadable.
    static func read(_ ctx: Context) -> CompiledPolicy? { read(paths: ctx.paths) }

    static func read(paths: Paths) -> CompiledPolicy? {
        guard let bytes = try? TrustedFiles.readTrustedFile(path(paths: paths)) else { return nil }
        return try? CompiledPolicy(json: try JSONFields(JSONReader.parse(bytes[...])))
    }

    /// Writes it atomically (0600, rename over the old one) into the trusted state directory.
    public func write(_ ctx: Context) throws(JitError) {
        try StoreAccess.requireStateDirectory(ctx)
        let data = Array((json.canonical + "\n").utf8)
        let target = Self.path(ctx)
        let temporary = "\(target).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .storeUnavailable("cannot write \(temporary): \(errnoText())") }
        let ok = FileSystem.writeAll(fd, data)
        close(fd)
        guard ok, rename(temporary, target) == 0 else {
            unlink(temporary)
            throw .storeUnavailable("cannot write \(target): \(errnoText())")
        }
    }

    /// Runs the installed jitctl (root-owned, checked like every trusted file) to compile the policy,
    /// with an empty environment and no input or output.
    static func runCompiler(_ ctx: Context) throws(JitError) {
        let jitctl = ctx.paths.binary("jitctl")
        try TrustedFiles.requireRootOwned(jitctl, kind: .program)
        guard let root = try? Accounts.byUID(0) else {
            throw .storeUnavailable("cannot run \(jitctl) to compile the policy: root's account cannot be read")
        }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw .storeUnavailable("cannot open /dev/null: \(errnoText())") }
        defer { close(null) }
        // No input or output (its errors are compiled into the file: jitexec reports the first one
        // itself, in one line), and its own session and process group: a Ctrl-Z typed at the
        // caller's terminal must not stop it (this process would wait for it forever).
        let spec = ExecSpec(
            path: jitctl, argv: ["jitctl", "compile-policy"], environment: ["PATH=/usr/bin:/bin"], identity: root,
            umask: 0o022, cwd: "/")
        let pid: pid_t
        do {
            pid = try Spawn.child(spec, descriptors: [null, null, null], controllingTerminal: -1, newSession: true)
        } catch {
            throw .storeUnavailable("cannot run \(jitctl) to compile the policy: \(error.description)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

// The compiled policy as JSON, by hand (see `PolicyCoding`): jitexec reads it on every run.
extension CompiledPolicy.SourceStamp {
    var json: JSONValue {
        .object([
            "path": .string(path), "device": .int(Int64(bitPattern: device)), "inode": .int(Int64(bitPattern: inode)),
            "size": .int(size), "mtime": .int(mtime), "ctime": .int(ctime),
        ])
    }

    init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            path: try f.string("path"), device: UInt64(bitPattern: try f.int("device")),
            inode: UInt64(bitPattern: try f.int("inode")), size: try f.int("size"), mtime: try f.int("mtime"),
            ctime: try f.int("ctime"))
    }
}

extension CompiledPolicy {
    var json: JSONValue {
        .object([
            "format": .int(Int64(format)), "version": .string(version), "compiled_at": .int(compiledAt),
            "sources": .array(sources.map(\.json)), "policy": policy?.json ?? .null,
            "errors": .array(errors.map(\.json)), "schedule": schedule?.json ?? .null,
            "last_good": lastGood?.json ?? .null,
        ])
    }

    init(json f: JSONFields) throws(JSONReader.Failure) {
        // Another format is another shape: read no further (it is compiled again).
        format = Int(clamping: try f.int("format"))
        guard format == Self.format else { throw JSONReader.Failure(reason: "format \(format)") }
        version = try f.string("version")
        compiledAt = try f.int("compiled_at")
        sources = try f.array("sources").map { (item) throws(JSONReader.Failure) in
            try SourceStamp(json: try JSONFields(item))
        }
        policy = try f.optional("policy") { (f, k) throws(JSONReader.Failure) in try Policy(json: try f.fields(k)) }
        errors = try f.array("errors").map { (item) throws(JSONReader.Failure) in
            try Diagnostic(json: try JSONFields(item))
        }
        schedule = try f.optional("schedule") { (f, k) throws(JSONReader.Failure) in
            try SourceStamp(json: try f.fields(k))
        }
        lastGood = try f.optional("last_good") { (f, k) throws(JSONReader.Failure) in
            try Policy(json: try f.fields(k))
        }
    }
}
