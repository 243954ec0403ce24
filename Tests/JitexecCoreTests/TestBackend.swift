import Glibc
import JitexecBase

@testable import JitexecStore

/// The store the workflow tests run over: SQLite in the fixture's temporary directory or, when
/// `JITEXEC_TEST_PG_URL` names a PostgreSQL database (`make unit-test` starts a throwaway cluster
/// and runs the workflow suites a second time with it), a fresh schema in that database per
/// fixture. The same tests, the same assertions: every workflow rule holds on both backends.
enum TestBackend {
    static var postgresURL: String? { getenv("JITEXEC_TEST_PG_URL").map { String(cString: $0) } }

    /// A URL whose connections use a new, empty schema; nil on SQLite.
    static func scratchURL() throws -> String? {
        guard let base = postgresURL else { return nil }
        let schema = "t_" + (0..<12).map { _ in String(UInt8.random(in: 0..<16), radix: 16) }.joined()
        try PGConnection.connect(url: base, timeoutMillis: 5000).script("CREATE SCHEMA \(schema)")
        return base + (base.contains("?") ? "&" : "?") + "options=-c%20search_path%3D\(schema)"
    }

    static func open(_ path: String, url: String?, host: String, clock: TestClock) throws -> any JitStore {
        if let url {
            return try PostgreSQLStore(
                url: url, label: "the test database", host: host, clock: { clock.now }, auditSink: { _ in })
        }
        return try SQLiteStore(path: path, host: host, clock: { clock.now }, auditSink: { _ in })
    }
}
