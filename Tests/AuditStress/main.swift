// jitexec-audit-stress DBPATH COUNT [ACTOR]
//
// Appends COUNT audit events (by ACTOR, default "stress") to the store at DBPATH, each in its own write transaction, so that
// many copies started at once hammer the chain from separate processes. The integration test
// then runs `jitctl verify`: the chain must hold COUNT × copies records with no gap or fork.
import JitexecBase
import JitexecStore
import JitexecSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func fail(_ message: String) -> Never {
    let line = Array("jitexec-audit-stress: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 4, let count = Int(arguments[2]), count >= 0 else {
    fail("usage: jitexec-audit-stress DBPATH COUNT [ACTOR]")
}
let actor = arguments.count == 4 ? arguments[3] : "stress"

do {
    let store = try SQLiteStore(
        path: arguments[1], host: "stress", clock: Clocks.wall, auditSink: { _ in })
    let pid = Int64(getpid())
    for i in 0..<count {
        _ = try store.write { writer in
            try writer.appendAudit(
                AuditEvent(event: "test.append", actor: actor, fields: ["pid": .int(pid), "i": .int(Int64(i))]))
        }
    }
} catch {
    fail("\(error)")
}
