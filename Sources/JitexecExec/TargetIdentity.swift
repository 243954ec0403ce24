import Glibc
import JitexecBase

/// The user a command runs as: every id the child takes before exec, and the values the
/// environment gets (HOME, USER, LOGNAME, SHELL).
public struct TargetIdentity: Sendable, Equatable {
    public var uid: uid_t
    public var gid: gid_t
    /// Supplementary groups, set with setgroups(2); the primary gid belongs in it, as initgroups does.
    public var groups: [gid_t]
    public var name: String
    public var home: String
    public var shell: String

    public init(uid: uid_t, gid: gid_t, groups: [gid_t], name: String, home: String, shell: String) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.name = name
        self.home = home
        self.shell = shell
    }

    /// The identity of the passwd entry `name` with its group list (getgrouplist), nil when
    /// there is no such user or it cannot be looked up.
    public static func lookup(name: String) -> TargetIdentity? {
        identity(try? UserDatabase.user(named: name))
    }

    /// The identity of the passwd entry for `uid`, nil when there is none.
    public static func lookup(uid: uid_t) -> TargetIdentity? {
        identity(try? UserDatabase.user(uid: uid))
    }

    private static func identity(_ user: UserDatabase.User?) -> TargetIdentity? {
        guard let user, let groups = try? UserDatabase.groupIDs(user: user.name, primary: user.gid) else { return nil }
        return TargetIdentity(
            uid: user.uid, gid: user.gid, groups: groups, name: user.name, home: user.home,
            shell: user.shell.isEmpty ? "/bin/sh" : user.shell)
    }
}
