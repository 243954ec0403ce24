import JitexecBase

/// Why the store could not do what was asked, written for the person at the terminal, with the
/// next step. Every store error makes jitexec and jitctl exit 1 (SPEC "Exit status").
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database file or its directory cannot be opened, read or written.
    case unavailable(path: String, reason: String)
    /// Another jitexec held the write lock for longer than the busy timeout.
    case busy(path: String, waitedMillis: Int32)
    /// The file is not a SQLite database, or SQLite found it damaged.
    case corrupt(path: String, reason: String)
    /// The database refused an audit record (a constraint, a trigger): the transaction it
    /// belongs to is rolled back, so what it would have recorded did not happen.
    case auditRefused(path: String, reason: String)
    /// One stored row cannot be read back (an unknown state, a malformed argv or JSON).
    case corruptRecord(table: String, id: Int64, problem: String)
    /// The database was migrated by a newer jitexec.
    case schemaTooNew(path: String, found: Int32, known: Int32)
    /// The fleet database's schema is older than this jitexec's, and this host's role may not
    /// migrate it (only a role that owns the schema may).
    case schemaNeedsOwner(path: String, found: Int32, known: Int32)
    /// This person already approved this request; one person counts once.
    case duplicateApproval(requestID: Int64, approver: String)
    /// A record refers to a request that does not exist.
    case noSuchRequest(id: Int64)
    /// A record the caller built cannot be stored as it is (a NUL inside an argv word, ...).
    case invalidRecord(String)
    /// A status change that is not pending → final.
    case invalidTransition(from: RequestStatus, to: RequestStatus)
    /// A reader or writer was used after its transaction ended, or a write through a reader.
    case transactionEnded
    /// `read`/`write` called from inside another `read`/`write` body on the same store.
    case nestedTransaction
    /// Any other SQLite failure.
    case sqlite(SQLiteError)
    /// The fleet database cannot be reached: libpq missing, a bad URL, refused, unreachable,
    /// authentication or TLS failed, no answer within the timeout, the connection lost.
    case unreachable(server: String, reason: String)
    /// Any other PostgreSQL failure.
    case postgresql(PGError)

    public var exitStatus: Int32 { 1 }

    /// The store may answer again soon (the fleet database down or unreachable, or locked): a
    /// wait rides it out; a run or a decision fails closed on it all the same.
    public var isTransient: Bool {
        switch self {
        case .unreachable, .busy: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .unavailable(let path, let reason):
            return "cannot use the jitexec database \(path): \(reason); "
                + "check that its directory exists, is root-owned and is not full"
        case .busy(let path, let waited):
            return "the jitexec database \(path) stayed locked by another process for \(waited) ms; try again"
        case .auditRefused(let path, let reason):
            return "the audit log in \(path) refused a record (\(Escape.text(reason))), so nothing was changed; "
                + "run 'jitctl verify' and check the database"
        case .corrupt(let path, let reason):
            return "the jitexec database \(path) is damaged (\(reason)); "
                + "restore it from a backup and compare the audit log with the syslog copy"
        case .corruptRecord(let table, let id, let problem):
            return "a stored \(table) record (\(id)) cannot be read: \(problem); "
                + "run 'jitctl verify' and restore from a backup"
        case .schemaTooNew(let path, let found, let known):
            return "\(path): database schema \(found) is newer than this jitexec (\(known)); upgrade jitexec"
        case .schemaNeedsOwner(let path, let found, let known):
            return "\(path): database schema \(found) is older than this jitexec's (\(known)), and this host's role "
                + "may not migrate it, so nothing was done; run 'jitctl verify' once on one host with the schema "
                + "owner's URL in url_file (README, Fleet), then try again"
        case .duplicateApproval(let id, let approver):
            return
                "\(approver) has already approved request #\(id); each person counts once, another approver is needed"
        case .noSuchRequest(let id):
            return "there is no request #\(id); run 'jitctl requests --all' to see the requests"
        case .invalidRecord(let problem):
            return "cannot store this record: \(problem)"
        case .invalidTransition(let from, let to):
            return "a request cannot go from \(from.rawValue) to \(to.rawValue); only pending requests are decided"
        case .transactionEnded:
            return "internal error: the store was used outside its transaction; please report this bug"
        case .nestedTransaction:
            return "internal error: a store transaction was started inside another; please report this bug"
        case .sqlite(let error):
            return "the jitexec database failed: \(error); run 'jitctl verify' and check the disk"
        case .unreachable(let server, let reason):
            return "cannot use the fleet database \(server): \(Escape.text(reason)); nothing was done; "
                + "check that the server is up and reachable from this host, then try again"
        case .postgresql(let error):
            return "the fleet database failed: \(Escape.text(error.description)); "
                + "run 'jitctl verify' and check the database server's log"
        }
    }

    /// The store error for a PostgreSQL failure on the fleet database `server`.
    init(_ error: PGError, server: String, timeoutMillis: Int32) {
        if error.isBusy {
            self = .busy(path: server, waitedMillis: timeoutMillis)
        } else if error.isUnavailable || error.kind == .badURL {
            self = .unreachable(server: server, reason: error.reason)
        } else {
            self = .postgresql(error)
        }
    }

    /// The store error for a SQLite failure on the database at `path`.
    init(_ error: SQLiteError, path: String, busyTimeoutMillis: Int32) {
        if error.isBusy {
            self = .busy(path: path, waitedMillis: busyTimeoutMillis)
        } else if error.isCorrupt {
            self = .corrupt(path: path, reason: error.message.isEmpty ? error.codeName : error.message)
        } else if error.isUnavailable {
            self = .unavailable(path: path, reason: error.reason)
        } else {
            self = .sqlite(error)
        }
    }
}
