import JitexecBase

/// `jitctl store migrate --to postgresql`: one host's SQLite history copied into the fleet database,
/// in one fleet write transaction (all or nothing).
///
/// Requests, approvals, grants (with their recorded expiries), break-glass uses and sessions get new
/// ids in the fleet (other hosts' rows already use the old ones); each keeps its host. The host's
/// audit chain cannot be spliced into the fleet's (its records are hashed after their own
/// predecessors), so it is kept verbatim in `imported_audit` under its origin, and one
/// `store.migrated` record in the fleet chain names the origin, how many records it had and its head
/// hash. `jitctl verify` on any host checks the fleet chain and every imported chain against its
/// anchor. A host is moved once; its SQLite file is left as it was.
public enum HostMigration {
    public struct Summary: Sendable, Equatable {
        public var requests = 0
        public var grants = 0
        public var sessions = 0
        public var records = 0
        public var head = AuditChain.genesisHash
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case sourceChainBroken(String)
        case alreadyImported(origin: String)

        public var description: String {
            switch self {
            case .sourceChainBroken(let problem):
                return "this host's audit chain is broken (\(problem)); nothing was copied: "
                    + "run 'jitctl verify' and keep the database as evidence"
            case .alreadyImported(let origin):
                return "the fleet database already holds the history of \(origin); nothing was copied"
            }
        }
    }

    /// One host's rows, read in one snapshot.
    private struct History {
        var requests: [Request] = []
        var approvals: [Int64: [Approval]] = [:]
        var grants: [Grant] = []
        var expiries: [(grant: Int64, at: Int64)] = []
        var breakGlass: [BreakGlassUse] = []
        var sessions: [Session] = []
        var records: [AuditRecord] = []
    }

    public static func copy(from source: SQLiteStore, to fleet: PostgreSQLStore, origin: String) throws -> Summary {
        let history = try read(source)
        var verifier = AuditChainVerifier()
        for record in history.records {
            if let broken = verifier.check(record) { throw Failure.sourceChainBroken(broken.description) }
        }
        return try fleet.write { w in
            guard let fleetConnection = w as? StoreConnection<PGConnection> else { throw StoreError.transactionEnded }
            let db = fleetConnection.db
            let seen = try db.query("SELECT count(*) FROM imported_audit WHERE origin = ?", [.text(origin)]) {
                $0.int64(0)
            }
            guard seen.first == 0 else { throw Failure.alreadyImported(origin: origin) }
            var summary = Summary()
            var requestIDs: [Int64: Int64] = [:]
            for request in history.requests {
                requestIDs[request.id] = try w.insertRequest(request)
                for var approval in history.approvals[request.id] ?? [] {
                    approval.requestID = requestIDs[request.id]!
                    try w.insertApproval(approval)
                }
            }
            var grantIDs: [Int64: Int64] = [:]
            for var grant in history.grants {
                let old = grant.id
                grant.requestID = grant.requestID.flatMap { requestIDs[$0] }
                grantIDs[old] = try w.insertGrant(grant)
            }
            for expiry in history.expiries {
                guard let id = grantIDs[expiry.grant] else { continue }
                try db.run(
                    "INSERT INTO grant_expiries (grant_id, recorded_at) VALUES (?, ?)", [.int(id), .int(expiry.at)])
            }
            for var use in history.breakGlass {
                guard let id = grantIDs[use.grantID] else { continue }
                use.grantID = id
                try w.insertBreakGlassUse(use)
            }
            for var session in history.sessions {
                session.grantID = session.grantID.flatMap { grantIDs[$0] }
                session.requestID = session.requestID.flatMap { requestIDs[$0] }
                let id = try w.insertSession(session)
                try db.run(
                    """
                    UPDATE sessions SET ended_at = ?, ended = ?, exit_status = ?, recording_size = ?,
                        recording_sha256 = ?, stop_by = ?, stop_comment = ?, stop_at = ?
                    WHERE id = ?
                    """,
                    [
                        .int(session.endedAt), .text(session.ended?.rawValue), .int(session.exitStatus.map(Int64.init)),
                        .int(session.recordingSize), .text(session.recordingSHA256), .text(session.stopBy),
                        .user(session.stopComment), .int(session.stopAt), .int(id),
                    ])
            }
            for r in history.records {
                try db.run(
                    """
                    INSERT INTO imported_audit (origin, seq, time, host, event, actor, fields, prev_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(origin), .int(r.seq), .int(r.time), .text(r.host), .text(r.event), .text(r.actor),
                        .text(JSONValue.object(r.fields).canonical), .text(r.prevHash), .text(r.hash),
                    ])
            }
            summary.requests = history.requests.count
            summary.grants = history.grants.count
            summary.sessions = history.sessions.count
            summary.records = history.records.count
            summary.head = history.records.last?.hash ?? AuditChain.genesisHash
            _ = try w.appendAudit(
                AuditEvent(
                    event: "store.migrated", actor: "root",
                    fields: [
                        "origin": .string(origin), "records": .int(Int64(summary.records)),
                        "head": .string(summary.head),
                        "requests": .int(Int64(summary.requests)), "grants": .int(Int64(summary.grants)),
                        "sessions": .int(Int64(summary.sessions)),
                    ]))
            return summary
        }
    }

    private static func read(_ source: SQLiteStore) throws -> History {
        try source.read { r in
            var h = History()
            h.requests = try r.requests(status: nil, requester: nil).reversed()
            for request in h.requests { h.approvals[request.id] = try r.approvals(requestID: request.id) }
            h.grants = try r.grants(user: nil, liveAt: nil).reversed()
            h.breakGlass = try r.breakGlassUses(unreviewedOnly: false).reversed()
            h.sessions = try r.sessions(SessionFilter())
            try r.forEachAuditRecord { h.records.append($0) }
            h.expiries = try source.connection.db.query("SELECT grant_id, recorded_at FROM grant_expiries", []) {
                (grant: $0.int64(0), at: $0.int64(1))
            }
            return h
        }
    }

    /// Every imported chain checked on its own and against its `store.migrated` anchor in the fleet
    /// chain: one line per origin; nil problems when all hold.
    public static func verifyImported(_ fleet: PostgreSQLStore) throws -> [(origin: String, problem: String?)] {
        try fleet.read { r in
            guard let connection = r as? StoreConnection<PGConnection> else { throw StoreError.transactionEnded }
            let db = connection.db
            // The last anchor of each origin. A host's own store moves under its own name (`origin`
            // is the moving host's, and the fleet's triggers bind each host's role to its name), so
            // an anchor written on another host is a forgery of that host's history.
            var anchors: [String: (records: Int64, head: String, seq: Int64, host: String)] = [:]
            for record in try r.auditRecords(AuditFilter(event: "store.migrated")) {
                guard case .string(let origin)? = record.fields["origin"],
                    case .string(let head)? = record.fields["head"],
                    case .int(let count)? = record.fields["records"]
                else { continue }
                anchors[origin] = (count, head, record.seq, record.host)
            }
            let origins = try db.query("SELECT DISTINCT origin FROM imported_audit ORDER BY origin", []) { $0.text(0) }
            var results: [(origin: String, problem: String?)] = []
            for origin in Set(origins).union(anchors.keys).sorted() {
                var verifier = AuditChainVerifier()
                var problem: String?
                try db.forEachRow(
                    "SELECT \(AuditRow.columns) FROM imported_audit WHERE origin = ? ORDER BY seq", [.text(origin)]
                ) { row in
                    guard problem == nil else { return }
                    // Each imported record is checked as the fleet chain's are (verify): as stored.
                    let stored = AuditRow.stored(row)
                    do {
                        if let broken = try verifier.check(stored: stored) { problem = broken.description }
                    } catch StoreError.corruptRecord(_, let seq, let reason) {
                        problem = verifier.unreadable(seq: seq, problem: reason).description
                    }
                }
                if problem == nil {
                    if let anchor = anchors[origin], anchor.host != origin {
                        problem =
                            "the store.migrated record \(anchor.seq) that anchors it was written on "
                            + "\(Escape.text(anchor.host)), not on \(Escape.text(origin)) itself"
                    } else if let anchor = anchors[origin] {
                        if case .intact(let count, let head) = verifier.result,
                            count != anchor.records || head != anchor.head
                        {
                            problem =
                                "it holds \(count) records with head \(head), but the fleet chain anchored "
                                + "\(anchor.records) records with head \(anchor.head)"
                        }
                    } else {
                        problem = "no store.migrated record in the fleet chain anchors it"
                    }
                }
                results.append((origin, problem))
            }
            return results
        }
    }
}
