import Glibc
import JitexecPolicy

/// The file system as the caller sees it: paths are resolved and stat'ed with the caller's own
/// effective uid and gid (their supplementary groups are the process's already), user and group
/// lookups as usual. For what jitctl reports to a non-admin (`explain`, `check`): a path under a
/// directory the caller cannot search reads exactly like one that does not exist, so jitctl cannot
/// be used to probe root-only paths.
public struct CallerView: SystemLookup {
    let live = LiveSystem()
    let uid: uid_t
    let gid: gid_t

    public init(_ caller: Privileges.Caller = Privileges.caller) {
        uid = caller.uid
        gid = caller.gid
    }

    /// The view for `ctx`'s invoker: the caller's for a non-admin, the live (root) one for admins.
    public static func forInvoker(_ ctx: Context, policy: Policy?) -> AnySystemLookup {
        let admin = ctx.invoker.uid == 0 || (policy?.isAdmin(ctx.invoker.subject) ?? false)
        return admin ? ctx.system : AnySystemLookup(CallerView())
    }

    public func canonicalPath(_ path: String) -> String? { asCaller { live.canonicalPath(path) } }
    public func fileKind(_ path: String) -> FileKind { asCaller { live.fileKind(path) } }
    public func userExists(_ name: String) -> Bool { live.userExists(name) }
    public func groupExists(_ name: String) -> Bool { live.groupExists(name) }
    public func groupMembers(_ name: String) -> [String]? { live.groupMembers(name) }
    public func groupsOfUser(_ name: String) -> [String] { live.groupsOfUser(name) }

    /// Runs `body` with the caller's effective ids; back to root after (the saved uid is 0). When the
    /// switch fails, nothing is looked at: the answer is "not there".
    private func asCaller<T>(_ body: () -> T?) -> T? {
        let (euid, egid) = (geteuid(), getegid())
        guard setegid(gid) == 0 else { return nil }
        guard seteuid(uid) == 0 else {
            _ = setegid(egid)
            return nil
        }
        defer {
            guard seteuid(euid) == 0, setegid(egid) == 0 else { fatalError("cannot restore privileges") }
        }
        return body()
    }

    private func asCaller(_ body: () -> FileKind) -> FileKind { asCaller { Optional(body()) } ?? .missing }
}
