import Glibc
import JitexecPolicy

/// The file system as the caller sees it: paths are resolved and stat'ed with the caller's own
/// effective uid and gid (their supplementary groups are the process's already), user and group
/// lookups as usual. For what jitctl reports to a non-admin (`explain`, `check`): a path under a
/// directory the caller cannot search reads exactly like one that does not exist, so jitctl cannot
/// be used to probe root-only paths.
public struct CallerView: SystemLookup {
    let live = LiveSystem()

    public init() {}

    /// The view for `ctx`'s invoker: the caller's for a non-admin, the live (root) one for admins.
    public static func forInvoker(_ ctx: Context, policy: Policy?) -> AnySystemLookup {
        let admin = ctx.invoker.uid == 0 || (policy?.isAdmin(ctx.invoker.subject) ?? false)
        return admin ? ctx.system : AnySystemLookup(CallerView())
    }

    // When the switch fails nothing is looked at: the answer is "not there".
    public func canonicalPath(_ path: String) -> String? {
        Privileges.asCallerEffective { live.canonicalPath(path) } ?? nil
    }
    public func fileKind(_ path: String) -> FileKind {
        Privileges.asCallerEffective { live.fileKind(path) } ?? .missing
    }
    public func userExists(_ name: String) -> Bool { live.userExists(name) }
    public func groupExists(_ name: String) -> Bool { live.groupExists(name) }
    public func groupMembers(_ name: String) -> [String]? { live.groupMembers(name) }
    public func groupsOfUser(_ name: String) -> [String] { live.groupsOfUser(name) }
}
