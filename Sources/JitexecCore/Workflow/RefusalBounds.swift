import JitexecBase
import JitexecStore

/// What a caller can make jitexec store before (or without) authenticating is bounded: the
/// records of refusals (`policy.denied`, `policy.invalid`, `auth.failure`, `breakglass.refused`)
/// keep at most `maxCommandBytes` of argv, and at most `perHour` of each such event per person are
/// written in any rolling hour. Past that they are counted, and the next one written carries
/// `suppressed: N`. The syslog copy follows the store (it sends committed records only).
extension Workflow {
    /// Records of one refusal event per person per rolling hour.
    static let perHour = 20
    /// Bytes of argv kept in a refusal record.
    static let maxCommandBytes = 4096

    /// Appends `event` unless its actor already has `perHour` records of it in the last hour; then
    /// only counts it. True when it was written.
    @discardableResult
    static func appendBounded(_ w: any StoreWriter, _ event: AuditEvent, now: Instant) throws -> Bool {
        let recent = try w.auditRecords(
            AuditFilter(sinceTime: now - .seconds(3600), actor: event.actor, event: event.event, limit: perHour))
        guard recent.count < perHour else {
            try w.addSuppressed(actor: event.actor, event: event.event)
            return false
        }
        var bounded = event
        let suppressed = try w.takeSuppressed(actor: event.actor, event: event.event)
        if suppressed > 0 { bounded.fields["suppressed"] = .int(suppressed) }
        _ = try w.appendAudit(bounded)
        return true
    }

    /// The `command` field of a refusal record: whole words while they fit in `maxCommandBytes`, the
    /// last one cut; when cut, also `command_truncated: true` and `command_bytes` (the full size).
    static func boundedCommand(_ command: [UserText]) -> [String: JSONValue] {
        let total = command.reduce(0) { $0 + $1.bytes.count }
        guard total > maxCommandBytes else { return ["command": .array(command.map(\.jsonValue))] }
        var kept: [JSONValue] = []
        var room = maxCommandBytes
        for word in command where room > 0 {
            let part = word.bytes.count <= room ? word : UserText(bytes: Array(word.bytes.prefix(room)))
            kept.append(part.jsonValue)
            room -= part.bytes.count
        }
        return ["command": .array(kept), "command_truncated": .bool(true), "command_bytes": .int(Int64(total))]
    }

    /// A `reason` field bounded like the command: at most `maxCommandBytes`, with `reason_truncated`
    /// and `reason_bytes` when cut.
    static func boundedReason(_ reason: UserText) -> [String: JSONValue] {
        guard reason.bytes.count > maxCommandBytes else { return ["reason": reason.jsonValue] }
        return [
            "reason": UserText(bytes: Array(reason.bytes.prefix(maxCommandBytes))).jsonValue,
            "reason_truncated": .bool(true), "reason_bytes": .int(Int64(reason.bytes.count)),
        ]
    }
}
