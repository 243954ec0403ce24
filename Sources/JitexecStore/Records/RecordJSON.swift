import JitexecBase
import JitexecSystem

// The stable JSON of `jitctl show/requests/grants/review/sessions --json` (jitexec-formats(5)). Times are RFC 3339 UTC
// with microseconds; user-controlled text is a string, or {"hex": ...} when it is not UTF-8.

extension Request {
    /// `id, status, requester, run_as, host, command, rule, reason, ticket, created_at, expires_at,
    /// approvals, approvals_needed, scope`, plus `kind, once, decided_at, decided_by, comment`.
    public func json(approvals: [Approval]) -> JSONValue {
        .object([
            "schema": .schema("jitexec.request"),
            "id": .int(id),
            "kind": .string(kind.rawValue),
            "status": .string(status.rawValue),
            "requester": .string(requester),
            "run_as": .string(runAs),
            "host": .string(host),
            "command": .array(command.map(\.jsonValue)),
            "rule": .string(rule),
            // Absent is null, as everywhere in this JSON: a request filed without a reason has none.
            "reason": reason.isEmpty ? .null : reason.jsonValue,
            "ticket": ticket?.jsonValue ?? .null,
            "created_at": .time(createdAt),
            "expires_at": .time(expiresAt),
            "approvals": .array(approvals.map(\.json)),
            "approvals_needed": .int(Int64(approvalsNeeded)),
            "scope": .string(scope.rawValue),
            "once": .bool(once),
            "decided_at": decidedAt.map(JSONValue.time) ?? .null,
            "decided_by": decidedBy.map(JSONValue.string) ?? .null,
            "comment": comment?.jsonValue ?? .null,
        ])
    }
}

extension Approval {
    /// `{by, at, comment}`.
    public var json: JSONValue {
        .object(["by": .string(by), "at": .time(at), "comment": comment?.jsonValue ?? .null])
    }
}

extension Grant {
    /// `id, request_id, user, run_as, host, scope, command, rule, not_before, expires_at, uses_left,
    /// revoked_at, revoked_by, source`.
    public var json: JSONValue {
        .object([
            "schema": .schema("jitexec.grant"),
            "id": .int(id),
            "request_id": requestID.map(JSONValue.int) ?? .null,
            "user": .string(user),
            "run_as": .string(runAs),
            "host": .string(host),
            "scope": .string(scope.rawValue),
            "command": command.map { .array($0.map(\.jsonValue)) } ?? .null,
            "rule": .string(rule),
            "not_before": .time(notBefore),
            "expires_at": .time(expiresAt),
            "uses_left": usesLeft.map(JSONValue.int) ?? .null,
            "revoked_at": revokedAt.map(JSONValue.time) ?? .null,
            "revoked_by": revokedBy.map(JSONValue.string) ?? .null,
            "source": .string(source.rawValue),
        ])
    }
}

extension JSONValue {
    /// An instant as RFC 3339 UTC with microseconds.
    static func time(_ micros: Instant) -> JSONValue { .string(RFC3339.format(micros)) }

    /// `{"name": name, "version": version}`: what every `--json` line says it is, so a script can
    /// check the shape it reads (documented in jitexec-formats(5)).
    public static func schema(_ name: String, version: Int64 = 1) -> JSONValue {
        .object(["name": .string(name), "version": .int(version)])
    }
}

extension BreakGlassUse {
    /// `grant, user, run_as, host, rule, scope, command, reason, ticket, cwd, tty, created_at,
    /// expires_at, revoked_at, reviewed_at, reviewed_by, verdict, comment`.
    public func json(grant: Grant) -> JSONValue {
        let command: JSONValue = grant.command.map { .array($0.map(\.jsonValue)) } ?? .null
        let verdictValue: JSONValue = verdict.map { .string($0.rawValue) } ?? .null
        var fields: [String: JSONValue] = [
            "schema": .schema("jitexec.breakglass"), "grant": .int(grantID), "user": .string(grant.user),
            "run_as": .string(grant.runAs),
            "host": .string(grant.host), "rule": .string(grant.rule), "scope": .string(grant.scope.rawValue),
        ]
        fields["command"] = command
        fields["reason"] = reason.jsonValue
        fields["ticket"] = ticket?.jsonValue ?? .null
        fields["cwd"] = cwd?.jsonValue ?? .null
        fields["tty"] = tty?.jsonValue ?? .null
        fields["created_at"] = .time(createdAt)
        fields["expires_at"] = .time(grant.expiresAt)
        fields["revoked_at"] = grant.revokedAt.map(JSONValue.time) ?? .null
        fields["reviewed_at"] = reviewedAt.map(JSONValue.time) ?? .null
        fields["reviewed_by"] = reviewedBy.map(JSONValue.string) ?? .null
        fields["verdict"] = verdictValue
        fields["comment"] = comment?.jsonValue ?? .null
        return .object(fields)
    }
}

extension Session {
    /// One line of `jitctl sessions --json`; `state` is what `jitctl sessions` shows (`running`,
    /// `exited 0`, `expired`, `lost`, ...).
    public func json(state: String) -> JSONValue {
        .object([
            "schema": .schema("jitexec.session"), "id": .int(id), "user": .string(user), "run_as": .string(runAs),
            "command": .array(command.map(\.jsonValue)), "host": .string(host), "rule": .string(rule),
            "grant": grantID.map(JSONValue.int) ?? .null, "request": requestID.map(JSONValue.int) ?? .null,
            "started_at": .time(startedAt), "ended_at": endedAt.map(JSONValue.time) ?? .null,
            "duration_ms": endedAt.map { .int(($0 - startedAt).wholeMilliseconds) } ?? .null,
            "status": .string(state), "ended": ended.map { .string($0.rawValue) } ?? .null,
            "exit_status": exitStatus.map { .int(Int64($0)) } ?? .null, "recorded": .bool(recording != nil),
            "size": recordingSize.map(JSONValue.int) ?? .null, "sha256": recordingSHA256.map(JSONValue.string) ?? .null,
            "path": recording.map(JSONValue.string) ?? .null, "stopped_by": stopBy.map(JSONValue.string) ?? .null,
        ])
    }
}
