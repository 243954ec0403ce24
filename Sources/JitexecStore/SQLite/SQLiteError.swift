import CSQLite
import JitexecBase

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed SQLite call: the result codes, SQLite's own message and what jitexec was doing.
public struct SQLiteError: SQLEngineError, Sendable, Equatable, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public let code: Int32
    /// The extended result code (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_IOERR_FSYNC`, ...).
    public let extendedCode: Int32
    /// SQLite's message for this failure (`UNIQUE constraint failed: approvals.request_id, ...`).
    public let message: String
    /// The SQL statement or the operation that failed.
    public let context: String
    /// The operating system's errno behind an I/O failure (`sqlite3_system_errno`), 0 when none.
    public let systemErrno: Int32

    public init(extendedCode: Int32, message: String, context: String, systemErrno: Int32 = 0) {
        self.code = extendedCode & 0xff
        self.extendedCode = extendedCode
        self.message = message
        self.context = context
        self.systemErrno = systemErrno
    }

    /// SQLite's message, with the operating system's reason when there is one: SQLite says
    /// "disk I/O error" for a full disk too, the errno says "No space left on device".
    var reason: String {
        let text = message.isEmpty ? codeName : message
        guard systemErrno != 0, let os = strerror(systemErrno) else { return text }
        return "\(text): \(String(cString: os))"
    }

    /// SQLite's generic text for the extended code, e.g. "database is locked".
    public var codeName: String { String(cString: sqlite3_errstr(extendedCode)) }

    public var description: String {
        let generic = codeName
        let detail = message.isEmpty || message == generic ? generic : "\(message) (\(generic))"
        return "SQLite error \(extendedCode): \(detail.oneLine), while \(context.oneLine)"
    }

    var isOperational: Bool { isBusy || isCorrupt || isUnavailable }
    var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    var isCorrupt: Bool { code == SQLITE_CORRUPT || code == SQLITE_NOTADB }
    var isUniqueViolation: Bool {
        extendedCode == Extended.constraintUnique || extendedCode == Extended.constraintPrimaryKey
    }
    var isForeignKeyViolation: Bool { extendedCode == Extended.constraintForeignKey }
    /// The file could not be opened, read or written: permissions, a missing directory, a full disk.
    var isUnavailable: Bool {
        [SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_AUTH].contains(code)
    }
}

/// Extended result codes are C expressions (`SQLITE_CONSTRAINT | (8<<8)`) that Swift does not import.
enum Extended {
    static let constraintForeignKey = SQLITE_CONSTRAINT | (3 << 8)
    static let constraintPrimaryKey = SQLITE_CONSTRAINT | (6 << 8)
    static let constraintUnique = SQLITE_CONSTRAINT | (8 << 8)
}
