import JitexecBase
import JitexecCore
import JitexecPolicy
import JitexecPolicyTOML

/// `jitctl check [FILE]`: validates a policy like `visudo -c`. Each problem is printed as
/// `FILE:LINE: error|warning: message`; exit 1 when there is any error, 0 otherwise.
public enum CheckCommand {
    public static func run(_ ctx: Context, file: String?) -> Int32 {
        let sources: [PolicySource]
        do {
            if let file {
                // A file named by the caller is read, and parsed (below), with the caller's own rights.
                let bytes = try Privileges.readAsRealUser(file)
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    ctx.say("\(Escape.text(file)):1: error: the file is not valid UTF-8")
                    return 1
                }
                sources = [PolicySource(path: file, text: text)]
            } else {
                sources = try ctx.readPolicy(ctx)
            }
        } catch {
            ctx.complain(error.description)
            return error.exitStatus
        }
        // A non-admin sees command paths resolved as they themselves can see them. The installed
        // policy (who is an admin) is loaded first, parsed by root's child.
        let installed = try? ctx.loadPolicy()
        let view = CallerView.forInvoker(ctx, policy: installed)
        let (policy, diagnostics) =
            file == nil
            ? PolicyLoader.load(sources, system: view)
            : IsolatedTOML.parsing(asUID: Privileges.caller.uid, gid: Privileges.caller.gid) {
                PolicyLoader.load(sources, system: view)
            }
        // An automation's program must be a file only root can change, as jitctl automate checks
        // before each run.
        let all = diagnostics + (policy.map(AutomationRunner.untrustedPrograms) ?? [])
        for d in all { ctx.say(Escape.text(d.description)) }
        var errors = all.filter { $0.severity == .error }.count
        var warnings = all.count - errors
        // The on-call rotation of the installed policy: a problem is a warning (nobody is on call by
        // schedule until it is fixed), never an error that would stop every run.
        if file == nil, let path = policy?.oncall?.schedule {
            var oncall = policy!.oncall!
            TOMLPolicy.readSchedule(path, into: &oncall)
            if let problem = oncall.scheduleProblem {
                ctx.say(
                    "\(Escape.text(problem.hasPrefix(path) ? problem : "\(path): \(problem)")) (warning: nobody is on call by schedule)"
                )
                warnings += 1
            }
        }
        // The fleet database's URL file: without it nothing can run, so a problem is an error.
        if file == nil, let store = policy?.store, store.backend == .postgresql, let urlFile = store.urlFile,
            let problem = StoreAccess.fleetURLProblem(urlFile)
        {
            ctx.say("\(Escape.text(urlFile)): error: \(Escape.text(problem))")
            errors += 1
        }
        let names = sources.map { Escape.text($0.path) }.joined(separator: ", ")
        if let policy, errors == 0 {
            ctx.say("\(names): OK (\(policy.rules.count) rules, \(warnings) warning\(warnings == 1 ? "" : "s"))")
            for line in SessionPolicySummary.lines(policy) { ctx.say(line) }
            return 0
        }
        ctx.say("\(names): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        return 1
    }
}
