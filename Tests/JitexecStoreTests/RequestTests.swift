import JitexecBase
import Testing

@testable import JitexecStore

@Suite struct RequestTests {
    @Test func requestRoundTripIsByteExact() throws {
        let f = try StoreFixture()
        var request = Sample.request(command: [
            "/usr/bin/printf", "two words", "", UserText(bytes: [0xff, 0xfe, 0x41]), "tab\there\nnewline", "\u{1b}[2J",
        ])
        request.reason = UserText(bytes: [0x49, 0x4e, 0x43, 0xc3, 0x28])  // invalid UTF-8
        request.ticket = "CHG-7"
        request.cwd = UserText(bytes: Array("/srv/my dir/".utf8) + [0x80])
        request.tty = "/dev/pts/3"
        request.once = true
        request.requestedSeconds = 900
        request.approvalsNeeded = 2
        request.id = try f.store.write { try $0.insertRequest(request) }
        #expect(request.id > 0)
        let back = try f.store.read { try $0.request(id: request.id) }
        #expect(back == request)
        #expect(back?.command[3].bytes == [0xff, 0xfe, 0x41])
        #expect(back?.reason.bytes == [0x49, 0x4e, 0x43, 0xc3, 0x28])
        // Stored as NUL-terminated words, bytes as given.
        let stored = try f.raw().queryText("SELECT hex(command) FROM requests WHERE id = ?", [.int(request.id)])
        #expect(stored == Hex.encode(try ArgvCoding.encode(request.command)).uppercased())
        #expect(stored?.hasPrefix(Hex.encode(Array("/usr/bin/printf".utf8) + [0]).uppercased()) == true)
    }

    @Test func loginRequestWithNoArgvRoundTrips() throws {
        let f = try StoreFixture()
        var request = Sample.request(command: [])
        request.kind = .login
        request.scope = .login
        request.id = try f.store.write { try $0.insertRequest(request) }
        #expect(try f.store.read { try $0.request(id: request.id) } == request)
    }

    @Test(
        arguments: [
            ([], []),
            ([""], [0]),
            (["", ""], [0, 0]),
            (["a", ""], [0x61, 0, 0]),
            (["/bin/ls", "-l"], [0x2f, 0x62, 0x69, 0x6e, 0x2f, 0x6c, 0x73, 0, 0x2d, 0x6c, 0]),
        ] as [([UserText], [UInt8])])
    func argvEncodingKeepsEveryWordDistinct(argv: [UserText], blob: [UInt8]) throws {
        #expect(try ArgvCoding.encode(argv) == blob)
        #expect(ArgvCoding.decode(blob) == argv)
    }

    @Test func argvWordContainingNULIsRefused() throws {
        let f = try StoreFixture()
        let request = Sample.request(command: ["/bin/echo", UserText(bytes: [0x61, 0, 0x62])])
        #expect(throws: StoreError.self) { try f.store.write { try $0.insertRequest(request) } }
        #expect(try f.store.read { try $0.requests(status: nil, requester: nil) }.isEmpty)
    }

    @Test func requestsAreNewestFirstAndFiltered() throws {
        let f = try StoreFixture()
        let ids = try f.store.write { w throws in
            [
                try w.insertRequest(Sample.request(requester: "alice", createdAt: Sample.now)),
                try w.insertRequest(Sample.request(requester: "bob", createdAt: Sample.now + .microseconds(1))),
                try w.insertRequest(Sample.request(requester: "alice", createdAt: Sample.now + .microseconds(2))),
            ]
        }
        try f.store.write { w throws in
            #expect(
                try w.setRequestStatus(
                    id: ids[2], from: .pending, to: .cancelled, at: Sample.now + .microseconds(3), by: "alice",
                    comment: nil))
        }
        try f.store.read { r throws in
            #expect(try r.requests(status: nil, requester: nil).map(\.id) == [ids[2], ids[1], ids[0]])
            #expect(try r.requests(status: nil, requester: "alice").map(\.id) == [ids[2], ids[0]])
            #expect(try r.requests(status: .pending, requester: nil).map(\.id) == [ids[1], ids[0]])
            #expect(try r.requests(status: .pending, requester: "alice").map(\.id) == [ids[0]])
            #expect(try r.request(id: 999) == nil)
        }
    }

    @Test func setRequestStatusIsCompareAndSet() throws {
        let f = try StoreFixture()
        let id = try f.store.write { try $0.insertRequest(Sample.request()) }
        let first = try f.store.write {
            try $0.setRequestStatus(
                id: id, from: .pending, to: .approved, at: Sample.now + .microseconds(5), by: "bob", comment: "go")
        }
        let second = try f.store.write {
            try $0.setRequestStatus(
                id: id, from: .pending, to: .denied, at: Sample.now + .microseconds(6), by: "carol", comment: "no")
        }
        #expect(first)
        #expect(!second)
        let stored = try f.store.read { try $0.request(id: id) }
        #expect(stored?.status == .approved)
        #expect(stored?.decidedBy == "bob")
        #expect(stored?.decidedAt == Sample.now + .microseconds(5))
        #expect(stored?.comment == "go")
        #expect(
            try f.store.write {
                try $0.setRequestStatus(id: 999, from: .pending, to: .expired, at: 0, by: nil, comment: nil)
            } == false)
        #expect(throws: StoreError.invalidTransition(from: .approved, to: .denied)) {
            try f.store.write {
                try $0.setRequestStatus(id: id, from: .approved, to: .denied, at: 0, by: nil, comment: nil)
            }
        }
    }

    @Test func approvalsRoundTripAndOnePersonCountsOnce() throws {
        let f = try StoreFixture()
        let id = try f.store.write { try $0.insertRequest(Sample.request()) }
        let bob = Approval(
            requestID: id, by: "bob", at: Sample.now + .microseconds(1), comment: UserText(bytes: [0x6f, 0x6b, 0xff]),
            maxSeconds: 300)
        let carol = Approval(requestID: id, by: "carol", at: Sample.now + .microseconds(2))
        try f.store.write { try $0.insertApproval(bob) }
        #expect(throws: StoreError.duplicateApproval(requestID: id, approver: "bob")) {
            try f.store.write {
                try $0.insertApproval(Approval(requestID: id, by: "bob", at: Sample.now + .microseconds(3)))
            }
        }
        try f.store.write { try $0.insertApproval(carol) }
        #expect(try f.store.read { try $0.approvals(requestID: id) } == [bob, carol])
    }

    @Test func duplicateApprovalCanBeHandledInsideTheTransaction() throws {
        let f = try StoreFixture()
        let id = try f.store.write { try $0.insertRequest(Sample.request()) }
        try f.store.write { w throws in
            try w.insertApproval(Approval(requestID: id, by: "bob", at: Sample.now))
            #expect(throws: StoreError.duplicateApproval(requestID: id, approver: "bob")) {
                try w.insertApproval(Approval(requestID: id, by: "bob", at: Sample.now))
            }
            _ = try w.appendAudit(AuditEvent(event: "approval.added", actor: "bob"))
        }
        #expect(try f.store.read { try $0.approvals(requestID: id) }.count == 1)
        #expect(f.sink.records.count == 1)
    }

    @Test func approvalOfUnknownRequestIsRefused() throws {
        let f = try StoreFixture()
        #expect(throws: StoreError.noSuchRequest(id: 77)) {
            try f.store.write { try $0.insertApproval(Approval(requestID: 77, by: "bob", at: Sample.now)) }
        }
    }

    @Test func requestJSONHasTheDocumentedKeys() throws {
        var request = Sample.request()
        request.id = 42
        request.reason = UserText(bytes: [0xff])
        let approval = Approval(requestID: 42, by: "bob", at: Sample.now, comment: "ok")
        let json = request.json(approvals: [approval])
        let keys = Set(json.objectValue?.keys.map { $0 } ?? [])
        let documented: Set<String> = [
            "schema", "id", "status", "requester", "run_as", "host", "command", "rule", "reason", "ticket",
            "created_at",
            "expires_at", "approvals", "approvals_needed", "scope",
        ]
        #expect(documented.isSubset(of: keys))
        #expect(json["created_at"] == .string("2026-11-29T02:40:01.000000Z"))
        #expect(json["reason"] == .object(["hex": .string("ff")]))
        #expect(json["ticket"] == .null)
        #expect(json["command"] == .array([.string("/usr/bin/systemctl"), .string("restart"), .string("nginx")]))
        #expect(
            json["approvals"]
                == .array([
                    .object([
                        "by": .string("bob"), "at": .string("2026-11-29T02:40:01.000000Z"), "comment": .string("ok"),
                    ])
                ]))
    }
}
