import Glibc
import JitexecBase
import JitexecSystem

/// The command's environment, rebuilt from an allowlist. A caller variable survives only when
/// its name matches `env_keep`, is not on the hard denylist, and its value passes the check for
/// that name; then the target's HOME, USER, LOGNAME, SHELL, PATH and the JITEXEC_* extras are set.
public enum Environment {
    /// The sanitized environment, "K=V" entries sorted by name, one per name.
    /// - Parameters:
    ///   - env: the caller's entries; entries without `=` or with an empty name are dropped, and
    ///     of several entries with one name only the first is considered (the one getenv sees).
    ///   - keep: `env_keep` globs ("TERM", "LC_*"); "*" still cannot pass a denied name.
    ///   - extra: JITEXEC_USER, JITEXEC_UID, JITEXEC_COMMAND, JITEXEC_REQUEST, JITEXEC_GRANT.
    public static func sanitized(
        from env: [UserText], keep: [String], target: Account, securePath: String,
        extra: [(String, String)]
    ) -> [UserText] {
        sanitized(
            from: env, keep: keep, target: target, securePath: securePath, extra: extra,
            zoneinfo: defaultZoneinfo)
    }

    /// The tree TZ file names must stay in.
    static let defaultZoneinfo = "/usr/share/zoneinfo"
    /// Longest value kept for TERM, LANG, LANGUAGE, LC_* and TZ.
    static let maxLocaleLength = 256
    /// Longest value kept for any other variable.
    static let maxValueLength = 4096

    /// `sanitized` with the zoneinfo tree as a parameter (tests).
    static func sanitized(
        from env: [UserText], keep: [String], target: Account, securePath: String,
        extra: [(String, String)], zoneinfo: String
    ) -> [UserText] {
        // Every candidate with its rank; sorted by name, then rank, only the first of each name is
        // considered. jitexec's own values (the target's, then the extras: the later one of a name
        // first) rank before the caller's, so they replace them; of the caller's entries of one
        // name, the first is the one getenv sees. A caller's entry whose name is not kept, or is
        // denied, never passes, and neither does any other of that name: such entries are left
        // out before the sort (most of a caller's environment), and only the value of the first
        // of a name is checked after it. Sorting, not a Set or Dictionary of byte arrays: their
        // first use costs the hot path generic metadata and conformance lookups (README,
        // "Benchmark").
        let forced = [
            ("HOME", target.home), ("USER", target.name), ("LOGNAME", target.name),
            ("SHELL", target.shell), ("PATH", securePath),
        ]
        var candidates: [(name: [UInt8], value: [UInt8], rank: Int)] = []
        for (index, (name, value)) in (forced + extra).enumerated() {
            let nameBytes = Array(name.utf8)
            let valueBytes = Array(value.utf8)
            guard isValidName(nameBytes), !valueBytes.contains(0) else { continue }
            candidates.append((nameBytes, valueBytes, -1 - index))
        }
        let kept = KeptNames(keep)
        for (position, entry) in env.enumerated() {
            guard let split = entry.bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = Array(entry.bytes[..<split])
            guard isValidName(name), kept.contains(name), !isDenied(name) else { continue }
            candidates.append((name, Array(entry.bytes[(split + 1)...]), position))
        }
        candidates.sort { $0.name == $1.name ? $0.rank < $1.rank : $0.name.lexicographicallyPrecedes($1.name) }
        var result: [UserText] = []
        var previous: [UInt8]?
        for (name, value, rank) in candidates where name != previous {
            previous = name
            guard rank < 0 || isSafeValue(value, for: name, zoneinfo: zoneinfo) else { continue }
            result.append(UserText(bytes: name + [UInt8(ascii: "=")] + value))
        }
        return result
    }

    /// A name execve can carry and a shell could see: not empty, no `=`, no NUL.
    static func isValidName(_ name: [UInt8]) -> Bool {
        !name.isEmpty && !name.contains(UInt8(ascii: "=")) && !name.contains(0)
    }

    /// The `env_keep` globs, which a kept name matches as fnmatch would (no special meaning for
    /// `/`). Those fnmatch can only match by equality (no `*`, `?`, `[` or backslash) are compared
    /// as bytes, and so is a literal prefix followed by one `*` (`LC_*`), which matches exactly the
    /// names that start with it (no flags: `*` matches any bytes). fnmatch runs only for the
    /// others, on the name as a C string made once.
    struct KeptNames {
        let literals: [[UInt8]]
        let prefixes: [[UInt8]]
        let globs: [String]

        init(_ patterns: [String]) {
            var literals: [[UInt8]] = []
            var prefixes: [[UInt8]] = []
            var globs: [String] = []
            for pattern in patterns {
                let bytes = Array(pattern.utf8)
                let special = bytes.indices.filter { Self.isSpecial(bytes[$0]) }
                if special.isEmpty {
                    literals.append(bytes)
                } else if special == [bytes.count - 1], bytes.last == UInt8(ascii: "*") {
                    prefixes.append(Array(bytes.dropLast()))
                } else {
                    globs.append(pattern)
                }
            }
            self.literals = literals
            self.prefixes = prefixes
            self.globs = globs
        }

        static func isSpecial(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[")
                || byte == UInt8(ascii: "\\")
        }

        func contains(_ name: [UInt8]) -> Bool {
            if literals.contains(name) || prefixes.contains(where: { name.starts(with: $0) }) { return true }
            guard !globs.isEmpty else { return false }
            return UserText(bytes: name).withCString { cName in globs.contains { fnmatch($0, cName, 0) == 0 } }
        }
    }

    /// Names that never pass, whatever `env_keep` says: loader, interpreter and shell hooks, and
    /// the names jitexec sets itself.
    static let deniedNames = [
        "BASH_ENV", "ENV", "IFS", "PATH", "SHELLOPTS", "BASHOPTS", "PS4", "PS1", "PS2",
        "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "FPATH", "ZDOTDIR", "HOME", "USER", "LOGNAME",
        "SHELL", "MAIL", "TMPDIR", "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN",
        "RES_OPTIONS", "NLSPATH", "LOCPATH", "GLIBC_TUNABLES", "TERMINFO", "TERMINFO_DIRS",
        "TERMPATH", "TERMCAP", "KRB5_CONFIG", "KRB5_KTNAME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS", "CLASSPATH", "NODE_OPTIONS", "NODE_PATH", "EDITOR", "VISUAL",
        "PAGER", "MANPAGER", "BROWSER", "LESSOPEN", "LESSCLOSE", "LESSKEY", "SSL_CERT_FILE",
        "SSL_CERT_DIR", "OPENSSL_CONF",
    ]

    /// Name prefixes that never pass.
    static let deniedPrefixes = [
        "LD_", "SWIFT_", "PYTHON", "PERL", "RUBY", "BASH_FUNC_", "JITEXEC_", "MALLOC_", "DYLD_",
        "GCONV_", "LUA_", "GIT_", "SUDO_", "SYSTEMD_",
    ]

    /// The hard denylist, applied on top of the allowlist.
    static func isDenied(_ name: [UInt8]) -> Bool {
        guard let text = UserText(bytes: name).string else { return true }
        if deniedNames.contains(text) { return true }
        if deniedPrefixes.contains(where: { text.hasPrefix($0) }) { return true }
        // bash exported functions: BASH_FUNC_name%%. Compared as bytes: String.contains(String)
        // would link the regex engine (_StringProcessing) into the setuid binary for this one call.
        let percent = UInt8(ascii: "%")
        return zip(name, name.dropFirst()).contains { $0 == percent && $1 == percent }
    }

    /// The value check for `name`: never a shell function, locale and terminal names without
    /// `/` or `%`, TZ only inside the zoneinfo tree, everything bounded.
    static func isSafeValue(_ value: [UInt8], for name: [UInt8], zoneinfo: String) -> Bool {
        if value.starts(with: Array("()".utf8)) { return false }
        let text = String(decoding: name, as: UTF8.self)
        if text == "TZ" { return isSafeTimeZone(value, zoneinfo: zoneinfo) }
        if text == "TERM" || text == "LANG" || text == "LANGUAGE" || text.hasPrefix("LC_") {
            return isSafeLocaleName(value)
        }
        return value.count <= maxValueLength
    }

    /// A terminal type or locale name: printable ASCII, bounded, no `/` (a path to a terminfo or
    /// locale file) and no `%` (format strings).
    static func isSafeLocaleName(_ value: [UInt8]) -> Bool {
        value.count <= maxLocaleLength
            && value.allSatisfy { (0x20...0x7e).contains($0) && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "%") }
    }

    /// TZ names a regular file inside the zoneinfo tree (`:Europe/Paris`,
    /// `/usr/share/zoneinfo/UTC`) or is a POSIX TZ string without `/` (`UTC`, `EST5EDT`).
    static func isSafeTimeZone(_ value: [UInt8], zoneinfo: String) -> Bool {
        guard value.count <= maxLocaleLength, value.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            return false
        }
        let slash = UInt8(ascii: "/")
        var rest = value[...]
        let isFileName = rest.first == UInt8(ascii: ":")
        if isFileName { rest = rest.dropFirst() }
        guard !rest.isEmpty, !containsDotDot(rest) else { return false }
        let root = Array(zoneinfo.utf8)
        if rest.first == slash {
            guard rest.starts(with: root + [slash]) else { return false }
            rest = rest.dropFirst(root.count + 1)
        } else if !isFileName && !rest.contains(slash) {
            return true  // a POSIX TZ string or a bare zone name: cannot leave the tree
        }
        return isRegularFile(String(decoding: Array(rest), as: UTF8.self), inside: zoneinfo)
    }

    /// True when the bytes contain "..": never needed by a zone name or a POSIX TZ string.
    private static func containsDotDot(_ bytes: ArraySlice<UInt8>) -> Bool {
        let dot = UInt8(ascii: ".")
        return zip(bytes, bytes.dropFirst()).contains { $0 == dot && $1 == dot }
    }

    /// `relative` resolves (symlinks followed) to a regular file below `root`.
    private static func isRegularFile(_ relative: String, inside root: String) -> Bool {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            return false
        }
        guard let realRoot = FileSystem.canonicalPath(root), let real = FileSystem.canonicalPath(root + "/" + relative),
            real.hasPrefix(realRoot + "/")
        else { return false }
        var info = stat()
        return stat(real, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
