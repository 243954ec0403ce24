/// Resolving a command the way jitexec will run it.
public enum CommandResolver {
    /// The outcome of a lookup; paths are canonical (realpath).
    public enum Resolution: Equatable, Sendable {
        /// A regular file with an execute bit.
        case found(String)
        /// It exists but is a directory, a non-executable file or a special file (exit 126).
        case notExecutable(String)
        /// Nothing by that name (exit 127).
        case notFound
    }

    /// A name with a "/" is canonicalized as given (relative to the working directory, via realpath);
    /// a bare name is searched in the ABSOLUTE entries of `securePath` only (relative and empty entries
    /// are ignored). The first executable wins; a non-executable hit is reported only when none is found.
    public static func resolve(_ name: String, securePath: [String], system: some SystemLookup) -> Resolution {
        guard !name.isEmpty else { return .notFound }
        if name.contains("/") { return check(name, system: system) ?? .notFound }
        var firstUnusable: Resolution?
        for directory in securePath where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            switch check(candidate, system: system) {
            case .found(let path)?: return .found(path)
            case .notExecutable(let path)?: firstUnusable = firstUnusable ?? .notExecutable(path)
            case .notFound?, nil: continue
            }
        }
        return firstUnusable ?? .notFound
    }

    /// The canonical path and what it is; nil when it does not exist.
    private static func check(_ path: String, system: some SystemLookup) -> Resolution? {
        guard let canonical = system.canonicalPath(path) else { return nil }
        switch system.fileKind(canonical) {
        case .regularExecutable: return .found(canonical)
        case .missing: return nil
        case .regularNotExecutable, .directory, .other: return .notExecutable(canonical)
        }
    }
}
