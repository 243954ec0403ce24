import CJitexecPQ
import JitexecBase
import JitexecSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One PostgreSQL connection through libpq (loaded on first use, see CJitexecPQ). It owns the
/// `PGconn*` and closes it in `deinit`, the only place it is closed. Every call waits on the socket
/// with a deadline (`timeoutMillis`), so a dead server or network never hangs a login or a terminal:
/// the server's own statement timeout answers first, the client's deadline a second later.
/// Not thread-safe by itself: `PostgreSQLStore` serializes every use.
final class PGConnection: SQLEngine {
    private let handle: OpaquePointer
    let timeoutMillis: Int32
    /// Set once a call broke the connection (timeout, lost socket): the store opens a new one.
    private(set) var isBroken = false
    /// Not broken, and libpq still has it open.
    var isUsable: Bool { !isBroken && jx_pq_connection_ok(handle) == 1 }
    /// Set once the server-side limits (`limits`) are: no statement runs before them.
    private var limited = false
    /// A statement sent and not waited for (`sendUnwaited`): its result is read first by the next use.
    private var unread: String?

    private init(handle: OpaquePointer, timeoutMillis: Int32) {
        self.handle = handle
        self.timeoutMillis = timeoutMillis
    }

    deinit { jx_pq_finish(handle) }

    /// Connects to the server `url` names, within `timeoutMillis`.
    static func connect(url: String, timeoutMillis: Int32) throws -> PGConnection {
        var message = [CChar](repeating: 0, count: 512)
        guard jx_pq_load(&message, message.count) == 0 else { throw PGError(.library, String(nulTerminated: message)) }
        // The process's first connection: OpenSSL's start, which libpq makes in its SCRAM exchange
        // once the server has answered (1.3-2 ms), is made meanwhile on a thread of its own (none
        // with one CPU); it is over before this returns.
        let warming = jx_pq_take_crypto_warmup() == 1 ? BackgroundThread.start { jx_pq_warm_crypto() } : nil
        defer { warming?.join() }
        guard let raw = jx_pq_connect_start(url, timeoutMillis, &message, message.count) else {
            throw PGError(.badURL, String(nulTerminated: message))
        }
        let connection = PGConnection(handle: raw, timeoutMillis: timeoutMillis)
        let deadline = Clocks.monotonic().wholeMilliseconds + Int64(timeoutMillis)
        while true {
            switch jx_pq_connect_poll(raw) {
            case 3:
                guard jx_pq_set_nonblocking(raw) == 0 else { throw connection.failure(.connect, "connecting") }
                return connection
            case 1: try connection.wait(for: Int16(POLLIN), until: deadline, doing: "connecting")
            case 2: try connection.wait(for: Int16(POLLOUT), until: deadline, doing: "connecting")
            default: throw connection.failure(.connect, "connecting")
            }
        }
    }

    // MARK: Server-side limits

    /// The server-side limits, as a select list: a statement over the deadline is cancelled
    /// (`statement_timeout`), a lock not had within it is given up (`lock_timeout`), and a session
    /// idle in a transaction for twice the deadline is ended (`idle_in_transaction_session_timeout`:
    /// a caller who stops their jitexec in the middle of a write cannot keep the fleet's lock). They
    /// are set by the connection's first statement, not sent as `options` when connecting: a
    /// connection pooler (pgbouncer) refuses that parameter, and in session mode resets what a
    /// client set (`DISCARD ALL`) before the next client has the server connection.
    var limits: String {
        let deadline = "'\(timeoutMillis)'"
        return "set_config('statement_timeout', \(deadline), false), set_config('lock_timeout', \(deadline), false), "
            + "set_config('idle_in_transaction_session_timeout', '\(2 * Int64(timeoutMillis))', false)"
    }

    /// How many columns `limits` selects: `firstQuery`'s own columns come after them.
    static let limitColumns: Int32 = 3

    /// The connection's first statement, `SELECT <limits>, <columns>`: the limits and a first read in
    /// one round trip (every run connects anew, so this is a run's first statement). The rows'
    /// columns are numbered after the limits' (`limitColumns`). When it fails (a table `columns`
    /// reads is missing), nothing of it was applied, and the next statement sets the limits first.
    func firstQuery<T>(_ columns: String, _ values: [SQLValue], _ read: (PGRow) throws -> T) throws -> [T] {
        precondition(!limited, "firstQuery after the connection's first statement")
        let result = try execute("SELECT \(limits), \(columns)", values, settingLimits: true)
        limited = true
        return try (0..<jx_pq_ntuples(result.handle)).map { try read(PGRow(result: result, row: $0)) }
    }

    /// Sets the limits in a statement of their own, unless they are set.
    private func limit(_ doing: String) throws {
        guard !limited else { return }
        guard jx_pq_send_query(handle, "SELECT \(limits)") == 1 else { throw failure(.connectionLost, doing) }
        _ = try collect(doing)
        limited = true
    }

    // MARK: SQLEngine

    @discardableResult func run(_ sql: String, _ values: [SQLValue]) throws -> Int64 {
        let result = try execute(sql, values)
        return Int64(String(cString: jx_pq_cmd_tuples(result.handle))) ?? 0
    }

    func forEachRow(_ sql: String, _ values: [SQLValue], _ body: (PGRow) throws -> Void) throws {
        let result = try execute(sql, values)
        for row in 0..<jx_pq_ntuples(result.handle) { try body(PGRow(result: result, row: row)) }
    }

    /// Runs parameterless SQL, possibly several statements (schema scripts, BEGIN/COMMIT).
    func script(_ sql: String) throws {
        try sendScript(sql)
        _ = try collect(sql)
    }

    /// Runs parameterless SQL, possibly several statements, and returns the last one's rows, each
    /// column as text (nil for NULL): the protocol that carries several statements in one message
    /// answers in text.
    func scriptRows(_ sql: String) throws -> [[String?]] {
        try sendScript(sql)
        guard let result = try collect(sql) else { return [] }
        return (0..<jx_pq_ntuples(result.handle)).map {
            let row = PGRow(result: result, row: $0)
            return (0..<jx_pq_nfields(result.handle)).map { row.optionalText($0) }
        }
    }

    /// Sends parameterless SQL and returns once it is sent, without waiting for its result: the
    /// connection's next use reads it first, and throws if it failed. For the COMMIT of a read-only
    /// transaction, whose answer changes nothing the reader was given: its round trip then overlaps
    /// what the caller does next.
    func sendUnwaited(_ sql: String) throws {
        try sendScript(sql)
        try flush(sql, until: Clocks.monotonic().wholeMilliseconds + Int64(timeoutMillis) + 1000)
        unread = sql
    }

    /// Hands parameterless SQL to libpq, after what was sent unwaited is answered and the limits set.
    private func sendScript(_ sql: String) throws {
        try settle()
        try ensureUsable(sql)
        try limit(sql)
        guard jx_pq_send_query(handle, sql) == 1 else { throw failure(.connectionLost, sql) }
    }

    /// Reads the result of what `sendUnwaited` sent, if anything.
    private func settle() throws {
        guard let sql = unread else { return }
        unread = nil
        _ = try collect(sql)
    }

    // MARK: Notifications

    var socket: Int32 { jx_pq_socket(handle) }

    /// Waits up to `millis` for a NOTIFY on a channel this connection LISTENs to; the payloads
    /// received (empty when none came in time).
    func notifications(waitingMillis millis: Int32) throws -> [String] {
        try ensureUsable("waiting for notifications")
        var payloads = drainNotifications()
        guard payloads.isEmpty else { return payloads }
        var entry = pollfd(fd: jx_pq_socket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, millis)
        guard ready > 0 else { return [] }
        guard jx_pq_consume_input(handle) == 1 else { throw failure(.connectionLost, "waiting for notifications") }
        payloads = drainNotifications()
        return payloads
    }

    private func drainNotifications() -> [String] {
        var payloads: [String] = []
        var channel = [CChar](repeating: 0, count: 64)
        var payload = [CChar](repeating: 0, count: 256)
        while jx_pq_next_notify(handle, &channel, channel.count, &payload, payload.count) == 1 {
            payloads.append(String(nulTerminated: payload))
        }
        return payloads
    }

    // MARK: Running a statement

    /// Sends one statement with its parameters (binary, `?` numbered `$1…`), waits for its result.
    private func execute(_ sql: String, _ values: [SQLValue], settingLimits: Bool = false) throws -> PGResultSet {
        try settle()
        try ensureUsable(sql)
        if !settingLimits { try limit(sql) }
        let text = Self.numberParameters(sql)
        let params = PGParameters(values)
        let sent = params.withPointers { types, pointers, lengths, formats in
            jx_pq_send_params(handle, text, Int32(values.count), types, pointers, lengths, formats)
        }
        guard sent == 1 else { throw failure(.connectionLost, sql) }
        guard let result = try collect(sql) else { throw PGError(.statement, "no result", context: sql) }
        return result
    }

    /// Flushes what was sent and reads every result of it; the last one. A failed result throws
    /// (after the connection was drained, so it stays usable).
    private func collect(_ sql: String) throws -> PGResultSet? {
        let deadline = Clocks.monotonic().wholeMilliseconds + Int64(timeoutMillis) + 1000
        try flush(sql, until: deadline)
        var last: PGResultSet?
        var firstError: PGError?
        while true {
            while jx_pq_is_busy(handle) == 1 {
                try wait(for: Int16(POLLIN), until: deadline, doing: sql)
                guard jx_pq_consume_input(handle) == 1 else { throw failure(.connectionLost, sql) }
            }
            guard let raw = jx_pq_get_result(handle) else { break }
            let result = PGResultSet(raw)
            switch jx_pq_result_kind(raw) {
            case 0, 1: last = result
            default:
                let state = jx_pq_result_sqlstate(raw).map { String(cString: $0) } ?? ""
                // The first line only ("ERROR:  ..."; the rest points into the SQL), without the severity.
                var message =
                    String(cString: jx_pq_result_message(raw)).split(separator: "\n").first.map(String.init) ?? ""
                for severity in ["ERROR:  ", "FATAL:  ", "PANIC:  "] where message.hasPrefix(severity) {
                    message.removeFirst(severity.count)
                }
                if firstError == nil {
                    firstError = PGError(
                        state.isEmpty ? .connectionLost : .statement, message, sqlstate: state, context: sql)
                }
                // No SQLSTATE, a connection exception (08) or the server going away (57P): done.
                if state.isEmpty || state.hasPrefix("08") || state.hasPrefix("57P") { isBroken = true }
            }
        }
        if let firstError { throw firstError }
        return last
    }

    /// Sends what libpq still holds of `sql`.
    private func flush(_ sql: String, until deadline: Int64) throws {
        while true {
            let flushed = jx_pq_flush(handle)
            if flushed == 0 { return }
            guard flushed == 1 else { throw failure(.connectionLost, sql) }
            try wait(for: Int16(POLLIN | POLLOUT), until: deadline, doing: sql)
            guard jx_pq_consume_input(handle) == 1 else { throw failure(.connectionLost, sql) }
        }
    }

    /// Waits until the socket is ready for `events`, or throws `.timeout` at `deadline` (the
    /// connection is then abandoned: what the server did with the call is unknown).
    private func wait(for events: Int16, until deadline: Int64, doing: String) throws {
        var entry = pollfd(fd: jx_pq_socket(handle), events: events, revents: 0)
        while true {
            let left = deadline - Clocks.monotonic().wholeMilliseconds
            guard left > 0 else {
                isBroken = true
                throw PGError(.timeout, "no answer from the database server within \(timeoutMillis) ms", context: doing)
            }
            let ready = poll(&entry, 1, Int32(min(left, Int64(Int32.max))))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                isBroken = true
                throw PGError(.connectionLost, String(cString: strerror(errno)), context: doing)
            }
        }
    }

    private func ensureUsable(_ doing: String) throws {
        guard !isBroken, jx_pq_connection_ok(handle) == 1 else {
            isBroken = true
            throw PGError(.connectionLost, "the connection to the database server was lost", context: doing)
        }
    }

    /// libpq's message for the connection's last failure; marks it broken.
    private func failure(_ kind: PGError.Kind, _ doing: String) -> PGError {
        isBroken = true
        return PGError(kind, String(cString: jx_pq_error_message(handle)), context: doing)
    }

    /// `?` → `$1`, `$2`, … The store's SQL has no `?` inside literals or identifiers.
    static func numberParameters(_ sql: String) -> String {
        guard sql.contains("?") else { return sql }
        var out = ""
        var n = 0
        for character in sql {
            if character == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(character)
            }
        }
        return out
    }
}

/// One result; cleared in `deinit`, the only place it is cleared.
final class PGResultSet {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { jx_pq_clear(handle) }
}

/// One row of a binary-format result.
struct PGRow: SQLRow {
    let result: PGResultSet
    let row: Int32

    func isNull(_ column: Int32) -> Bool { jx_pq_getisnull(result.handle, row, column) == 1 }

    /// int8, int4, int2 and bool columns, sent big-endian.
    func int64(_ column: Int32) -> Int64 {
        withBytes(column) { raw in
            guard !raw.isEmpty else { return 0 }
            var value: Int64 = raw[0] & 0x80 != 0 && raw.count > 1 ? -1 : 0
            for byte in raw { value = (value << 8) | Int64(byte) }
            return value
        }
    }

    func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        guard !isNull(column), let base = jx_pq_getvalue(result.handle, row, column) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: base, count: Int(jx_pq_getlength(result.handle, row, column))))
    }
}

/// Statement parameters in binary format: int8 big-endian, text as UTF-8, bytea as it is.
private struct PGParameters {
    static let int8: UInt32 = 20
    static let text: UInt32 = 25
    static let bytea: UInt32 = 17

    var types: [UInt32] = []
    var bytes: [UInt8] = []
    var ranges: [Range<Int>?] = []

    init(_ values: [SQLValue]) {
        for value in values {
            switch value {
            case .null: add(0, nil)
            case .int(let v): add(Self.int8, withUnsafeBytes(of: v.bigEndian) { Array($0) })
            case .text(let s): add(Self.text, Array(s.utf8))
            case .textBytes(let b), .blob(let b): add(Self.bytea, b)
            }
        }
        bytes.append(0)  // a valid address for empty values
    }

    private mutating func add(_ type: UInt32, _ value: [UInt8]?) {
        types.append(type)
        guard let value else { return ranges.append(nil) }
        ranges.append(bytes.count..<bytes.count + value.count)
        bytes += value
    }

    func withPointers<T>(
        _ body: (
            UnsafePointer<UInt32>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
        )
            -> T
    ) -> T {
        bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = ranges.map { $0.map { base + $0.lowerBound } }
            let lengths = ranges.map { Int32($0?.count ?? 0) }
            let formats = [Int32](repeating: 1, count: ranges.count)
            return body(types, pointers, lengths, formats)
        }
    }
}
