import JitexecBase
import Testing

@testable import JitexecStore

@Suite struct GrantTests {
    /// A request to hang grants on.
    private func requestID(_ f: StoreFixture) throws -> Int64 {
        try f.store.write { try $0.insertRequest(Sample.request()) }
    }

    @Test func grantsRoundTrip() throws {
        let f = try StoreFixture()
        let rid = try requestID(f)
        var command = Sample.grant(requestID: rid, usesLeft: 3)
        command.command = ["/usr/bin/env", "", "a b", UserText(bytes: [0xfe])]
        var rule = Sample.grant(requestID: rid)
        rule.scope = .rule
        rule.command = nil
        var breakGlass = Sample.grant(requestID: nil, source: .breakGlass)
        breakGlass.scope = .rule
        breakGlass.command = nil
        for var grant in [command, rule, breakGlass] {
            grant.id = try f.store.write { try $0.insertGrant(grant) }
            #expect(try f.store.read { try $0.grant(id: grant.id) } == grant)
        }
        #expect(try f.store.read { try $0.grant(id: 999) } == nil)
    }

    @Test func approvalGrantWithoutRequestIsRefused() throws {
        let f = try StoreFixture()
        #expect(throws: StoreError.self) { try f.store.write { try $0.insertGrant(Sample.grant(requestID: nil)) } }
        #expect(throws: StoreError.noSuchRequest(id: 5)) {
            try f.store.write { try $0.insertGrant(Sample.grant(requestID: 5)) }
        }
    }

    @Test func singleUseGrantIsConsumedOnce() throws {
        let f = try StoreFixture()
        let id = try f.store.write {
            try $0.insertGrant(Sample.grant(requestID: try $0.insertRequest(Sample.request()), usesLeft: 1))
        }
        #expect(try f.store.write { try $0.consumeGrantUse(id: id, at: Sample.now + .microseconds(1)) })
        #expect(try !f.store.write { try $0.consumeGrantUse(id: id, at: Sample.now + .microseconds(2)) })
        #expect(try f.store.read { try $0.grant(id: id) }?.usesLeft == 0)
    }

    @Test func unlimitedGrantStaysUnlimited() throws {
        let f = try StoreFixture()
        let id = try f.store.write {
            try $0.insertGrant(Sample.grant(requestID: try $0.insertRequest(Sample.request())))
        }
        for n in 1...3 {
            #expect(try f.store.write { try $0.consumeGrantUse(id: id, at: Sample.now + .microseconds(n)) })
        }
        #expect(try f.store.read { try $0.grant(id: id) }?.usesLeft == nil)
    }

    @Test func expiredGrantIsNotConsumable() throws {
        let f = try StoreFixture()
        let grant = Sample.grant(requestID: try requestID(f), usesLeft: 5)
        let id = try f.store.write { try $0.insertGrant(grant) }
        #expect(try !f.store.write { try $0.consumeGrantUse(id: id, at: grant.expiresAt) })
        #expect(try !f.store.write { try $0.consumeGrantUse(id: id, at: grant.expiresAt + .microseconds(1)) })
        #expect(try f.store.write { try $0.consumeGrantUse(id: id, at: grant.expiresAt - .microseconds(1)) })
        #expect(try f.store.read { try $0.grant(id: id) }?.usesLeft == 4)
    }

    @Test func grantNotYetStartedIsNotConsumable() throws {
        let f = try StoreFixture()
        let grant = Sample.grant(requestID: try requestID(f), notBefore: Sample.now + .microseconds(10))
        let id = try f.store.write { try $0.insertGrant(grant) }
        #expect(try !f.store.write { try $0.consumeGrantUse(id: id, at: Sample.now + .microseconds(9)) })
        #expect(try f.store.write { try $0.consumeGrantUse(id: id, at: Sample.now + .microseconds(10)) })
    }

    @Test func revokedGrantIsNotConsumable() throws {
        let f = try StoreFixture()
        let id = try f.store.write {
            try $0.insertGrant(Sample.grant(requestID: try $0.insertRequest(Sample.request())))
        }
        #expect(try f.store.write { try $0.revokeGrant(id: id, by: "bob", at: Sample.now + .microseconds(1)) })
        #expect(try !f.store.write { try $0.revokeGrant(id: id, by: "carol", at: Sample.now + .microseconds(2)) })
        #expect(try !f.store.write { try $0.revokeGrant(id: 999, by: "carol", at: Sample.now + .microseconds(2)) })
        #expect(try !f.store.write { try $0.consumeGrantUse(id: id, at: Sample.now + .microseconds(3)) })
        let stored = try f.store.read { try $0.grant(id: id) }
        #expect(stored?.revokedBy == "bob")
        #expect(stored?.revokedAt == Sample.now + .microseconds(1))
    }

    @Test func liveGrantsExcludeExpiredRevokedAndUsedUp() throws {
        let f = try StoreFixture()
        let now = Sample.now + Sample.minute * 5
        let ids = try f.store.write { w throws -> [String: Int64] in
            let rid = try w.insertRequest(Sample.request())
            let ids = [
                "live": try w.insertGrant(Sample.grant(requestID: rid, usesLeft: 2)),
                "expired": try w.insertGrant(Sample.grant(requestID: rid, expiresAt: now)),
                "revoked": try w.insertGrant(Sample.grant(requestID: rid)),
                "usedUp": try w.insertGrant(Sample.grant(requestID: rid, usesLeft: 1)),
                "future": try w.insertGrant(Sample.grant(requestID: rid, notBefore: now + .microseconds(1))),
                "bob": try w.insertGrant(Sample.grant(requestID: rid, user: "bob")),
            ]
            #expect(try w.revokeGrant(id: ids["revoked"]!, by: "alice", at: now - .microseconds(1)))
            #expect(try w.consumeGrantUse(id: ids["usedUp"]!, at: now - .microseconds(1)))
            return ids
        }
        try f.store.read { r throws in
            #expect(try r.grants(user: "alice", liveAt: now).map(\.id) == [ids["live"]!])
            #expect(Set(try r.grants(user: nil, liveAt: now).map(\.id)) == [ids["live"]!, ids["bob"]!])
            #expect(try r.grants(user: "alice", liveAt: nil).count == 5)
            #expect(try r.grants(user: nil, liveAt: nil).map(\.id) == ids.values.sorted(by: >))
            // The SQL and `isLive` agree on every grant.
            for grant in try r.grants(user: nil, liveAt: nil) {
                #expect(grant.isLive(at: now) == (grant.id == ids["live"]! || grant.id == ids["bob"]!), "\(grant.id)")
            }
        }
    }

    @Test(arguments: [
        (Sample.now - .microseconds(1), false), (Sample.now, true),
        (Sample.now + Sample.minute * 15 - .microseconds(1), true),
        (Sample.now + Sample.minute * 15, false),
    ])
    func grantIsLiveOnlyInsideItsWindow(at: Instant, live: Bool) {
        #expect(Sample.grant(requestID: 1).isLive(at: at) == live)
    }

    @Test func usedUpOrRevokedGrantIsNotLive() {
        #expect(!Sample.grant(requestID: 1, usesLeft: 0).isLive(at: Sample.now))
        var revoked = Sample.grant(requestID: 1)
        revoked.revokedAt = Sample.now
        revoked.revokedBy = "bob"
        #expect(!revoked.isLive(at: Sample.now + .microseconds(1)))
    }

    @Test func grantJSONHasTheDocumentedKeys() {
        var grant = Sample.grant(requestID: 7, source: .breakGlass)
        grant.id = 3
        let json = grant.json
        #expect(
            Set(json.objectValue?.keys.map { $0 } ?? []) == [
                "schema", "id", "request_id", "user", "run_as", "host", "scope", "command", "rule", "not_before",
                "expires_at",
                "uses_left", "revoked_at", "revoked_by", "source",
            ])
        #expect(json["schema"] == .object(["name": .string("jitexec.grant"), "version": .int(1)]))
        #expect(json["source"] == .string("break_glass"))
        #expect(json["uses_left"] == .null)
        #expect(json["expires_at"] == .string("2026-11-29T02:55:01.000000Z"))
    }
}
