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
        let (policy, diagnostics) = PolicyLoader.load(sources, system: ctx.system)
        let errors = diagnostics.filter { $0.severity == .error }
        // Only a compile of the files exactly as stamped is kept; a file changed in between
        // gives a stale stamp, which jitexec will not trust.
        if (try? CompiledPolicy.stamps(ctx)) == stamps {
            try? CompiledPolicy(
                version: ctx.paths.version, compiledAt: ctx.clock() / 1_000_000, sources: stamps,
                policy: errors.isEmpty ? policy : nil, errors: errors
            ).write(ctx)
        }
        guard let policy, errors.isEmpty else {
            throw .policyInvalid(first: errors.first ?? diagnostics[0], errors: errors.count)
        }
        return policy
    }
}
