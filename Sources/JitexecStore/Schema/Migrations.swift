/// The schema, as numbered migrations keyed on `PRAGMA user_version`. A migration, once released,
/// never changes: a new schema is a new entry at the end.
enum Migrations {
    /// The SQL that brings a database from `version - 1` to `version`.
    struct Migration {
        let version: Int32
        let sql: String
    }

    static let all: [Migration] = [
        Migration(version: 1, sql: SchemaV1.sql),
        Migration(version: 2, sql: SchemaV2.sql),
        Migration(version: 3, sql: SchemaV3.sql),
        Migration(version: 4, sql: SchemaV4.sql),
        Migration(version: 5, sql: SchemaV5.sql),
        Migration(version: 6, sql: SchemaV6.sql),
    ]

    /// The newest schema this build knows.
    static var latest: Int32 { all.last!.version }

    /// Brings the database to `target` (default: the newest). All pending migrations run in ONE
    /// `BEGIN IMMEDIATE` transaction, so concurrent openers migrate once and nobody sees half a
    /// schema. A database newer than this build is refused, never downgraded.
    static func migrate(_ db: Database, to target: Int32 = latest) throws {
        let found = try db.userVersion()
        try refuseNewer(found, db)
        guard found < target else { return }
        try db.transaction(.immediate) {
            // Another process may have migrated while we waited for the write lock.
            let current = try db.userVersion()
            try refuseNewer(current, db)
            guard current < target else { return }
            for migration in all where migration.version > current && migration.version <= target {
                try db.execute(migration.sql)
            }
            try db.execute("PRAGMA user_version = \(target)")
        }
    }

    private static func refuseNewer(_ version: Int32, _ db: Database) throws {
        guard version <= latest else {
            throw StoreError.schemaTooNew(path: db.path, found: version, known: latest)
        }
    }
}
