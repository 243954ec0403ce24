import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// A pending request lives for the policy's `request_ttl`; past it, it is expired and nothing can
/// decide it any more.
@Suite struct WorkflowRequestExpiryTests {
    @Test func aRequestIsStillPendingJustBeforeItsTTL() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(.hours(1) - .microseconds(1))
        try f.expireStale()
        #expect(try f.request(request.id).status == .pending)
        #expect(try f.records("request.expired").isEmpty)
    }

    @Test func aPendingRequestPastItsTTLExpires() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(hours: 1)
        let expiredAt = f.clock.now
        try f.expireStale()
        let stored = try f.request(request.id)
        #expect(stored.status == .expired)
        #expect(stored.decidedAt == expiredAt)
        #expect(stored.decidedBy == nil)
        let records = try f.records("request.expired")
        #expect(records.map(\.actor) == ["alice"])
        #expect(records.first?.fields == ["request": .int(request.id)])
    }

    @Test func anExpiredRequestIsExpiredOnceOnly() throws {
        let f = try WorkflowFixture()
        _ = try f.file(f.ask("restarts"))
        f.clock.advance(hours: 2)
        try f.expireStale()
        try f.expireStale()
        #expect(try f.records("request.expired").count == 1)
    }

    @Test func anExpiredRequestCannotBeApproved() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 61)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already expired; nothing to do")) {
            try f.approve(request.id, by: People.bob)
        }
        #expect(try f.approvals(of: request.id).isEmpty)
        #expect(try f.grants().isEmpty)
    }

    @Test func anExpiredRequestCannotBeDenied() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 61)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already expired; nothing to do")) {
            try f.deny(request.id, by: People.bob)
        }
        #expect(try f.records("request.denied").isEmpty)
    }

    @Test func anExpiredRequestCannotBeCancelled() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 61)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already expired; nothing to do")) {
            try f.cancel(request.id, by: People.alice)
        }
        #expect(try f.records("request.cancelled").isEmpty)
    }

    @Test func anExpiredRequestIsNotReusedWhenTheSameIsAskedAgain() throws {
        let f = try WorkflowFixture()
        let old = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 61)
        let (new, reused) = try f.fileOrReuse(f.ask("restarts"))
        #expect(!reused)
        #expect(new.id != old.id)
        #expect(try f.request(old.id).status == .expired)
        #expect(try f.events() == ["request.filed", "request.expired", "request.filed"])
    }

    @Test func theTTLIsTheOneOfThePolicyAtFilingTime() throws {
        let f = try WorkflowFixture(Policies.standard.replacing(#"request_ttl = "1h""#, with: #"request_ttl = "10m""#))
        let filedAt = f.clock.now
        let request = try f.file(f.ask("restarts"))
        #expect(request.expiresAt == filedAt + .minutes(10))
        f.clock.advance(minutes: 10)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already expired; nothing to do")) {
            try f.approve(request.id, by: People.bob)
        }
    }
}
