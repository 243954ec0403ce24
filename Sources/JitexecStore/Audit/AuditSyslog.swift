import CJitexecSystem
import JitexecBase

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The copy of every audit record outside the database: one authpriv.notice line per record,
/// `seq=N event=E actor=A hash=H k=v ...`, fields in sorted key order, values as canonical JSON,
/// and every value passed through `Escape.text` so no newline or control character reaches syslog.
public enum AuditSyslog {
    /// The line sent for `record`.
    public static func line(_ record: AuditRecord) -> String {
        var line: [UInt8] = []
        line.reserveCapacity(512)
        func field(_ name: String, _ value: String) {
            if !line.isEmpty { line.append(UInt8(ascii: " ")) }
            line.appendUTF8(name)
            line.append(UInt8(ascii: "="))
            line.appendUTF8(value)
        }
        field("seq", String(record.seq))
        field("event", Escape.text(record.event))
        field("actor", Escape.text(record.actor))
        field("hash", Escape.text(record.hash))
        for key in record.fields.keys.sorted(by: JSONValue.keyOrder) {
            field(Escape.text(key), Escape.text(record.fields[key]!.canonical))
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Sends `record` to syslog. Never fails the caller: syslog itself drops what it cannot deliver.
    public static func send(_ record: AuditRecord) {
        _ = opened
        line(record).withCString { jx_syslog(LOG_AUTHPRIV | LOG_NOTICE, $0) }
    }

    /// openlog keeps the ident pointer, so it points at static storage; opened once per process.
    private static let opened: Bool = {
        let ident = UnsafeRawPointer(identText.utf8Start).assumingMemoryBound(to: CChar.self)
        openlog(ident, LOG_PID, LOG_AUTHPRIV)
        return true
    }()
    private static let identText: StaticString = "jitexec"
}
