import JitexecBase
import JitexecStore
import Testing

@testable import JitexecCore

/// Who reads which records of `jitctl log` when they are not an admin (`LogView`).
@Suite struct LogViewTests {
    static func record(_ seq: Int64, _ event: String, by actor: String, _ fields: [String: JSONValue]) -> AuditRecord {
        AuditRecord(seq: seq, time: 0, host: "web1", event: event, actor: actor, fields: fields, prevHash: "", hash: "")
    }

    /// alice files #1, bob approves it (grant #1), alice runs under it (session 5), carol revokes it;
    /// dave files #2 and bob approves that too (grant #2, session 6); erin's request #3 is denied.
    static let history: [AuditRecord] = [
        record(1, "request.filed", by: "alice", ["request": .int(1)]),
        record(2, "approval.added", by: "bob", ["request": .int(1)]),
        record(
            3, "request.approved", by: "bob", ["request": .int(1), "grant": .int(1), "requester": .string("alice")]),
        record(4, "grant.created", by: "bob", ["request": .int(1), "grant": .int(1), "user": .string("alice")]),
        record(5, "exec.start", by: "alice", ["grant": .int(1), "session": .int(5)]),
        record(6, "exec.end", by: "alice", ["grant": .int(1), "session": .int(5)]),
        record(7, "session.attach", by: "root", ["session": .int(5)]),
        record(8, "grant.revoked", by: "carol", ["grant": .int(1), "user": .string("alice")]),
        record(9, "request.filed", by: "dave", ["request": .int(2)]),
        record(10, "approval.added", by: "bob", ["request": .int(2)]),
        record(11, "grant.created", by: "bob", ["request": .int(2), "grant": .int(2), "user": .string("dave")]),
        record(12, "exec.start", by: "dave", ["grant": .int(2), "session": .int(6)]),
        record(13, "request.filed", by: "erin", ["request": .int(3)]),
        record(14, "request.denied", by: "carol", ["request": .int(3), "requester": .string("erin")]),
    ]

    static func seen(by viewer: String) -> [Int64] {
        var view = LogView(viewer: viewer)
        return history.filter { view.admits($0) }.map(\.seq)
    }

    @Test func theRequesterSeesWhoApprovedRevokedAndWhatRanUnderTheirGrant() {
        #expect(Self.seen(by: "alice") == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func anApproverSeesWhatRanUnderGrantsTheyApprovedButNotOtherRequests() {
        #expect(Self.seen(by: "bob") == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12])
    }

    @Test func aRequesterWhoseRequestWasDeniedSeesTheDenial() {
        #expect(Self.seen(by: "erin") == [13, 14])
    }

    @Test func someoneUninvolvedSeesOnlyWhatTheyDid() {
        #expect(Self.seen(by: "carol") == [8, 14])
        #expect(Self.seen(by: "mallory").isEmpty)
    }
}
