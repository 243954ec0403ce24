import JitexecBase
import JitexecStore

/// Audit records that are a step of their own (not part of a workflow transaction).
extension Context {
    /// One audit record in its own durable transaction.
    func audit(_ event: String, _ fields: [String: JSONValue]) throws(JitError) {
        let store = try store()
        _ = try storeWrite(store) { w in
            try w.appendAudit(AuditEvent(event: event, actor: invoker.name, fields: fields))
        }
    }

    /// A refusal record that anyone can cause without authenticating, in its own durable
    /// transaction, within the per-person bound (`Workflow.appendBounded`).
    func auditRefusal(_ event: String, _ fields: [String: JSONValue]) throws(JitError) {
        let store = try store()
        let now = clock()
        _ = try storeWrite(store) { w in
            try Workflow.appendBounded(w, AuditEvent(event: event, actor: invoker.name, fields: fields), now: now)
        }
    }

    /// A store write whose failures become `JitError` (the workflow's own refusals pass through).
    /// Afterwards, the `notify.failed` records of notification runners that could not start for what
    /// it committed are written in a transaction of their own (best effort).
    func storeWrite<T>(
        _ store: any JitStore, relaxed: Bool = false, _ body: (any StoreWriter) throws -> T
    ) throws(JitError) -> T {
        defer {
            let failures = notifyFailures.drain()
            if !failures.isEmpty { _ = try? store.write { w in for f in failures { _ = try w.appendAudit(f) } } }
        }
        do {
            return try relaxed ? store.writeRelaxed(body) : store.write(body)
        } catch {
            throw JitError(error)
        }
    }

    /// A store read whose failures become `JitError`.
    func storeRead<T>(_ store: any JitStore, _ body: (any StoreReader) throws -> T) throws(JitError) -> T {
        do {
            return try store.read(body)
        } catch {
            throw JitError(error)
        }
    }
}
