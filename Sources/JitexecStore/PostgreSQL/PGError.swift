import JitexecBase

/// A failed PostgreSQL call: what jitexec was doing, the server's SQLSTATE when there is one, and
/// libpq's or the server's message.
public struct PGError: SQLEngineError, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// libpq could not be loaded.
        case library
        /// The URL file's content is not usable (malformed, a `service=`).
        case badURL
        /// No connection: refused, unreachable, authentication, TLS.
        case connect
        /// No answer within the timeout.
        case timeout
        /// The connection broke during a call.
        case connectionLost
        /// The server refused a statement (see `sqlstate`).
        case statement
    }

    public let kind: Kind
    /// The server's five-character error code, "" when the failure was not the server's.
    public let sqlstate: String
    public let message: String
    /// What jitexec was doing.
    public let context: String

    init(_ kind: Kind, _ message: String, sqlstate: String = "", context: String = "") {
        self.kind = kind
        self.sqlstate = sqlstate
        // libpq's messages end in a newline and can span lines ("connection to server ... failed: ...").
        self.message = message.split(whereSeparator: { $0.isNewline }).map { $0.trimmingWhitespace }
            .filter { !$0.isEmpty }.joined(separator: "; ")
        self.context = context
    }

    var isUniqueViolation: Bool { sqlstate == "23505" }
    var isForeignKeyViolation: Bool { sqlstate == "23503" }
    /// Lock wait over the timeout (55P03), statement timeout (57014) or serialization failures (40xxx).
    var isBusy: Bool { sqlstate == "55P03" || sqlstate == "57014" || sqlstate.hasPrefix("40") }
    /// The server or the way to it: nothing jitexec asked was at fault.
    var isUnavailable: Bool {
        [.library, .connect, .timeout, .connectionLost].contains(kind) || sqlstate.hasPrefix("08")
            || sqlstate.hasPrefix("57P") || sqlstate == "53100" || sqlstate == "53300"
    }
    var isOperational: Bool { isBusy || isUnavailable || kind == .badURL }
    var reason: String { message.isEmpty ? "\(kind)" : message }

    public var description: String {
        let code = sqlstate.isEmpty ? "" : " (SQLSTATE \(sqlstate))"
        let doing =
            context.isEmpty
            ? "" : ", while \(context.oneLine)"
        return "PostgreSQL: \(reason)\(code)\(doing)"
    }
}
