import JitexecBase
import JitexecCore
import JitexecPolicy
import JitexecPolicyTOML

/// jitctl's policy loader: parse the installed TOML files, and leave the compiled form that
/// jitexec reads (best effort: a jitctl that cannot write it still answers).
enum TOMLPolicy {
    @Sendable static func load(_ ctx: Context) throws(JitError) -> Policy {
        let stamps = try CompiledPolicy.stamps(ctx)
        let sources = try ctx.readPolicy(ctx)
        var (policy, diagnostics) = PolicyLoader.load(sources, system: ctx.system)
        if let unchecked = PolicyLoader.notChecked(diagnostics) {
            // No verdict: nothing is compiled, so no one can make a valid policy count as invalid.
            throw .storeUnavailable("the policy could not be checked (\(unchecked.message)); try again")
        }
        let errors = diagnostics.filter { $0.severity == .error }
        var scheduleStamp: CompiledPolicy.SourceStamp?
        if let path = policy?.oncall?.schedule {
            scheduleStamp = CompiledPolicy.stamp(path)
            readSchedule(path, into: &policy!.oncall!)
            if let problem = policy?.oncall?.scheduleProblem, problem.contains(IsolatedTOML.notCheckedPrefix) {
                throw .storeUnavailable("the on-call schedule could not be checked (\(problem)); try again")
            }
            if CompiledPolicy.stamp(path) != scheduleStamp { scheduleStamp = nil }
        }
        // Only a compile of the files exactly as stamped is kept; a file changed in between
        // gives a stale stamp, which jitexec will not trust.
        if (try? CompiledPolicy.stamps(ctx)) == stamps, policy?.oncall?.schedule == nil || scheduleStamp != nil {
            try? CompiledPolicy(
                version: ctx.paths.version, compiledAt: ctx.clock().wholeSeconds, sources: stamps,
                policy: errors.isEmpty ? policy : nil, errors: errors, schedule: scheduleStamp,
                lastGood: errors.isEmpty ? nil : CompiledPolicy.lastGoodPolicy(ctx)
            ).write(ctx)
        }
        guard let policy, errors.isEmpty else {
            throw .policyInvalid(first: errors.first ?? diagnostics[0], errors: errors.count)
        }
        return policy
    }

    /// The on-call rotation, read like a trusted file (root-owned, not writable by others, no
    /// symbolic link): a schedule anyone else could edit would let them put themselves on call.
    /// A problem leaves nobody on call by schedule, with the reason kept for the refusal.
    static func readSchedule(_ path: String, into oncall: inout OnCall) {
        do {
            let bytes = try TrustedFiles.readTrustedFile(path)
            switch ScheduleLoader.load(text: String(decoding: bytes, as: UTF8.self), path: path) {
            case .success(let shifts): oncall.shifts = shifts
            case .failure(let problem): oncall.scheduleProblem = problem.description
            }
        } catch {
            oncall.scheduleProblem = "\(path): \(error.description)"
        }
    }
}
