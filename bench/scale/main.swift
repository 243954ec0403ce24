// jitexec-bench-scale DBPATH RECORDS REQUESTS
//
// Fills the store at DBPATH (through the store's own API, so the audit chain is valid) with the
// history `make bench-scale` measures against: REQUESTS old requests, each decided (approved with
// an expired grant, denied or expired), and RECORDS audit records in all, the requests' own records
// among them, spread over the 90 days before now. Nothing in it is pending or live.
import JitexecBase
import JitexecStore
import JitexecSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array("jitexec-bench-scale: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let records = Int64(arguments[2]), let requests = Int64(arguments[3]), records >= 0,
    requests >= 0, records >= requests * 3
else {
    fail("usage: jitexec-bench-scale DBPATH RECORDS REQUESTS (RECORDS at least 3 x REQUESTS)")
}

/// The clock the store stamps records with: from 90 days ago, one step per record, ending a day ago.
let now = Clocks.wall()
let start = now.adding(seconds: -90 * 86_400)
let step = (89 * 86_400 * 1_000_000) / max(records, 1)
let tick = Mutex<Int64>(0)
let clock: @Sendable () -> Instant = { tick.withLock { start.adding(micros: $0 * step) } }
func advance() { tick.withLock { $0 += 1 } }

do {
    let store = try SQLiteStore(path: arguments[1], host: "scale", clock: clock, auditSink: { _ in })
    let users = (0..<200).map { "user\($0)" }
    var written: Int64 = 0
    var filed: Int64 = 0
    let batch: Int64 = 2_000
    while written < records {
        try store.write { w in
            for _ in 0..<batch where written < records {
                let at = clock()
                if filed < requests && records - written >= 3 {
                    // A request, its decision and (when approved) its grant: three records.
                    let user = users[Int(filed % Int64(users.count))]
                    let command: [UserText] = ["/usr/bin/systemctl", "restart", UserText("unit\(filed % 50)")]
                    var request = Request(
                        kind: .command, requester: user, requesterUID: 2000, runAs: "root", host: "scale",
                        command: command, rule: "bench", reason: UserText("INC-\(filed) scale history"),
                        scope: .command, approvalsNeeded: 1, createdAt: at, expiresAt: at.adding(seconds: 3600))
                    request.id = try w.insertRequest(request)
                    _ = try w.appendAudit(
                        AuditEvent(
                            event: "request.filed", actor: user,
                            fields: ["request": .int(request.id), "rule": .string("bench")]))
                    let outcome = filed % 10
                    let status: RequestStatus = outcome < 8 ? .approved : (outcome == 8 ? .denied : .expired)
                    _ = try w.setRequestStatus(
                        id: request.id, from: .pending, to: status, at: at, by: outcome == 9 ? nil : "approver",
                        comment: nil)
                    _ = try w.appendAudit(
                        AuditEvent(
                            event: "request.\(status.rawValue)", actor: outcome == 9 ? user : "approver",
                            fields: ["request": .int(request.id)]))
                    if status == .approved {
                        let grant = Grant(
                            requestID: request.id, user: user, runAs: "root", host: "scale", scope: .command,
                            command: command, rule: "bench", notBefore: at, expiresAt: at.adding(seconds: 900))
                        let id = try w.insertGrant(grant)
                        _ = try w.recordExpiry(grantID: id, at: at.adding(seconds: 900))
                        _ = try w.appendAudit(
                            AuditEvent(event: "grant.created", actor: "approver", fields: ["grant": .int(id)]))
                    } else {
                        _ = try w.appendAudit(
                            AuditEvent(
                                event: "approval.added", actor: "approver", fields: ["request": .int(request.id)]))
                    }
                    filed += 1
                    written += 3
                } else {
                    _ = try w.appendAudit(
                        AuditEvent(
                            event: "exec.end", actor: users[Int(written % Int64(users.count))],
                            fields: ["status": .int(0), "duration_ms": .int(written % 977)]))
                    written += 1
                }
                advance()
            }
        }
    }
} catch {
    fail("\(error)")
}
