import CSQLite
import JitexecBase
import Testing

@testable import JitexecStore

#if canImport(Glibc)
    import Glibc
#endif

/// A connection keeps the statements it compiled and reuses them (Database.recycle): the same SQL
/// is compiled once per process, and a kept statement never holds a read, a binding or the file.
@Suite struct StatementCacheTests {
    /// A database file of its own, removed with its directory; `open` gives another connection to it.
    private struct Scratch {
        let directory: TemporaryDirectory
        init() throws { directory = try TemporaryDirectory() }
        var path: String { directory.file("cache.db") }
        func open() throws -> Database { try Database.open(path: path, busyTimeoutMillis: 5000) }
    }

    /// Every statement the connection has compiled and not finalized.
    private func compiled(_ db: Database) -> Int {
        var count = 0
        var statement = sqlite3_next_stmt(db.handle, nil)
        while let current = statement {
            count += 1
            statement = sqlite3_next_stmt(db.handle, current)
        }
        return count
    }

    @Test func theSameSQLIsCompiledOnceAndRunsAgainWithItsNewValues() throws {
        let scratch = try Scratch()
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (a INTEGER)")
        let before = compiled(db)
        for value in 1...5 { try db.run("INSERT INTO t (a) VALUES (?)", [.int(Int64(value))]) }
        #expect(compiled(db) == before + 1)
        #expect(try db.queryInt("SELECT sum(a) FROM t WHERE a > ?", [.int(Int64(3))]) == 9)
        #expect(try db.queryInt("SELECT sum(a) FROM t WHERE a > ?", [.int(Int64(1))]) == 14)
        #expect(compiled(db) == before + 2)
        // BEGIN and COMMIT are kept statements too.
        _ = try db.transaction(.immediate) { try db.run("INSERT INTO t (a) VALUES (?)", [.int(Int64(6))]) }
        _ = try db.transaction(.immediate) { try db.run("INSERT INTO t (a) VALUES (?)", [.int(Int64(7))]) }
        #expect(compiled(db) == before + 4)
        #expect(try db.queryInt("SELECT count(*) FROM t") == 7)
    }

    @Test func aKeptStatementNoLongerHoldsTheReadItLeftUnfinished() throws {
        let scratch = try Scratch()
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2), (3)")
        // queryInt reads the first of three rows and stops: the statement goes back to the cache
        // with rows left, and must not keep its snapshot open.
        #expect(try db.queryInt("SELECT a FROM t ORDER BY a") == 1)
        let other = try scratch.open()
        try other.run("DELETE FROM t WHERE a = 1")
        #expect(try db.queryInt("SELECT a FROM t ORDER BY a") == 2)
    }

    @Test func aKeptStatementIsRecompiledAfterTheSchemaChanges() throws {
        let scratch = try Scratch()
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (a INTEGER)")
        try db.run("INSERT INTO t (a) VALUES (?)", [.int(Int64(1))])
        let other = try scratch.open()
        try other.execute("DROP TABLE t; CREATE TABLE t (b TEXT, a INTEGER NOT NULL)")
        try db.run("INSERT INTO t (a) VALUES (?)", [.int(Int64(2))])
        #expect(try other.queryInt("SELECT a FROM t WHERE b IS NULL") == 2)
        #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (a) VALUES (?)", [.null]) }
    }

    @Test func theCacheIsBoundedAndClosingLeavesNoStatementOrLogBehind() throws {
        let scratch = try Scratch()
        do {
            let db = try scratch.open()
            try db.execute("CREATE TABLE t (a INTEGER)")
            for n in 0..<(Database.idleLimit * 2) {
                try db.run("INSERT INTO t (a) VALUES (\(n))")
            }
            #expect(compiled(db) <= Database.idleLimit)
            #expect(try db.queryInt("SELECT count(*) FROM t") == Int64(Database.idleLimit * 2))
        }
        // The last connection's close checkpoints and removes the log; a statement left unfinalized
        // would defer the close and leave it.
        #expect(access(scratch.path + "-wal", F_OK) != 0)
        let reopened = try scratch.open()
        #expect(try reopened.queryInt("SELECT count(*) FROM t") == Int64(Database.idleLimit * 2))
    }
}
