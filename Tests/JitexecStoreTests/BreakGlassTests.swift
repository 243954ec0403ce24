import JitexecBase
import Testing

@testable import JitexecStore

@Suite struct BreakGlassTests {
    private func breakGlassGrant(_ f: StoreFixture, reason: UserText = "INC-7 \u{1b}[2J db down") throws -> Int64 {
        try f.store.write { w in
            let id = try w.insertGrant(Sample.grant(requestID: nil, source: .breakGlass))
            try w.insertBreakGlassUse(
                BreakGlassUse(
                    grantID: id, reason: reason, ticket: "INC-7", cwd: UserText(bytes: [0x2f, 0xff]), tty: "/dev/pts/3",
                    createdAt: Sample.now))
            return id
        }
    }

    @Test func useRoundTripsAndWaitsForReview() throws {
        let f = try StoreFixture()
        let id = try breakGlassGrant(f)
        let expected = BreakGlassUse(
            grantID: id, reason: "INC-7 \u{1b}[2J db down", ticket: "INC-7", cwd: UserText(bytes: [0x2f, 0xff]),
            tty: "/dev/pts/3", createdAt: Sample.now)
        #expect(try f.store.read { try $0.breakGlassUse(grantID: id) } == expected)
        #expect(try f.store.read { try $0.breakGlassUses(unreviewedOnly: true) } == [expected])
        #expect(try f.store.read { try $0.breakGlassUse(grantID: id + 1) } == nil)
    }

    @Test func reviewIsRecordedOnceAndLeavesTheQueue() throws {
        let f = try StoreFixture()
        let first = try breakGlassGrant(f)
        let second = try breakGlassGrant(f, reason: "second")
        #expect(
            try f.store.write {
                try $0.reviewBreakGlassUse(
                    grantID: first, verdict: .flagged, by: "carol", at: Sample.now + .microseconds(5), comment: "why?")
            })
        // A second review of the same use is refused (compare-and-set), and so is an unknown use.
        #expect(
            try !f.store.write {
                try $0.reviewBreakGlassUse(
                    grantID: first, verdict: .ok, by: "dave", at: Sample.now + .microseconds(6), comment: nil)
            })
        #expect(
            try !f.store.write {
                try $0.reviewBreakGlassUse(
                    grantID: 999, verdict: .ok, by: "dave", at: Sample.now + .microseconds(6), comment: nil)
            })
        let reviewed = try #require(try f.store.read { try $0.breakGlassUse(grantID: first) })
        #expect(reviewed.verdict == .flagged && reviewed.reviewedBy == "carol" && reviewed.comment == "why?")
        #expect(reviewed.reviewedAt == Sample.now + .microseconds(5))
        #expect(try f.store.read { try $0.breakGlassUses(unreviewedOnly: true) }.map(\.grantID) == [second])
        #expect(try f.store.read { try $0.breakGlassUses(unreviewedOnly: false) }.map(\.grantID) == [second, first])
    }

    @Test func useOfAnUnknownGrantIsRefused() throws {
        let f = try StoreFixture()
        #expect(throws: (any Error).self) {
            try f.store.write { w in
                try w.insertBreakGlassUse(BreakGlassUse(grantID: 42, reason: "x", createdAt: Sample.now))
            }
        }
    }
}
