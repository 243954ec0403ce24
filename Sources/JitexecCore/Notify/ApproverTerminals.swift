import Glibc
import JitexecBase
import JitexecSystem

/// Telling logged-in approvers about a new request on their terminals: like wall(1), but only to
/// them, only to terminals they own, never to one with `mesg n`, and never waiting on a terminal.
enum ApproverTerminals {
    /// One login session from utmpx.
    struct Session: Equatable, Sendable {
        var user: String
        /// `ut_line`: the terminal below /dev, e.g. `pts/3`.
        var line: String
    }

    /// The USER_PROCESS entries of utmpx (getutxent).
    static func sessions() -> [Session] {
        var found: [Session] = []
        setutxent()
        defer { endutxent() }
        while let entry = getutxent() {
            guard entry.pointee.ut_type == USER_PROCESS else { continue }
            let user = withUnsafeBytes(of: entry.pointee.ut_user) { fixedString($0) }
            let line = withUnsafeBytes(of: entry.pointee.ut_line) { fixedString($0) }
            found.append(Session(user: user, line: line))
        }
        return found
    }

    /// A NUL-padded utmp field as text; nil bytes after the first NUL are ignored.
    static func fixedString(_ raw: UnsafeRawBufferPointer) -> String {
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A terminal name jitexec will open below /dev: one or two components (`tty1`, `pts/3`), each
    /// of letters, digits, `_`, `-` and `.` and neither `.` nor `..`. Anything else (`../etc/passwd`,
    /// `/dev/sda`, `:0`, empty) is refused.
    static func isSafeLine(_ line: String) -> Bool {
        let parts = line.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part != "." && part != ".." && part.utf8.count <= 32
                && part.utf8.allSatisfy { c in
                    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                        || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
                }
        }
    }

    /// The sessions to tell: those of `users`, with a safe line, each terminal once.
    static func targets(_ sessions: [Session], users: Set<String>) -> [Session] {
        var seen = Set<String>()
        return sessions.filter { users.contains($0.user) && isSafeLine($0.line) && seen.insert($0.line).inserted }
    }

    /// Writes `message` to each target terminal; returns how many got it.
    @discardableResult
    static func tell(_ users: Set<String>, message: String, sessions: [Session] = sessions()) -> Int {
        var told = 0
        for session in targets(sessions, users: users) {
            guard let account = try? Accounts.byName(session.user) else { continue }
            if write(Array(message.utf8), line: session.line, owner: account.uid) { told += 1 }
        }
        return told
    }

    /// Opens /dev/LINE without following a final symbolic link, without making it a controlling
    /// terminal and without blocking; writes only when it is a terminal owned by `owner` with group
    /// write on (`mesg y`). One non-blocking write: a full terminal loses the message, nothing waits.
    static func write(_ bytes: [UInt8], line: String, owner: uid_t) -> Bool {
        guard isSafeLine(line) else { return false }
        let fd = open("/dev/\(line)", O_WRONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFCHR, st.st_uid == owner, st.st_mode & S_IWGRP != 0,
            isatty(fd) == 1
        else { return false }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return written > 0
    }
}
