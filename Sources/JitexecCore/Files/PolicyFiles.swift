import Glibc
import JitexecPolicy
import JitexecSystem

/// Reading the installed policy: policy.toml, then policy.d/*.toml in name order, each one through
/// the trusted-file check.
enum PolicyFiles {
    @Sendable static func readLive(_ ctx: Context) throws(JitError) -> [PolicySource] {
        var sources = [try read(ctx.paths.policyFile)]
        for file in try dropIns(ctx.paths.policyDir) {
            sources.append(try read(file))
        }
        return sources
    }

    static func read(_ path: String) throws(JitError) -> PolicySource {
        let bytes = try TrustedFiles.readTrustedFile(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadable(path: path, reason: "not valid UTF-8")
        }
        return PolicySource(path: path, text: text)
    }

    /// The `*.toml` files of policy.d (none when the directory does not exist), hidden files
    /// skipped, sorted by name bytes. The directory itself must be trusted.
    static func dropIns(_ dir: String) throws(JitError) -> [String] {
        var st = stat()
        if lstat(dir, &st) != 0 && errno == ENOENT { return [] }
        try TrustedFiles.requireRootOwned(dir, kind: .directory)
        return try dropInNames(dir).map { "\(dir)/\($0)" }
    }

    /// The names of the `*.toml` files in `dir` (hidden files skipped), sorted by name bytes.
    static func dropInNames(_ dir: String) throws(JitError) -> [String] {
        guard let all = FileSystem.entries(of: dir) else { throw .unreadable(path: dir, reason: errnoText()) }
        let names = all.filter { !$0.hasPrefix(".") && $0.hasSuffix(".toml") }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
