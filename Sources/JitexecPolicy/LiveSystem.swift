import Glibc
import JitexecBase
import JitexecSystem

/// The real system through libc: realpath, stat, and the user and group databases (NSS included).
public struct LiveSystem: SystemLookup {
    public init() {}

    public func canonicalPath(_ path: String) -> String? { FileSystem.canonicalPath(path) }

    public func fileKind(_ path: String) -> FileKind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            let anyExecute = S_IXUSR | S_IXGRP | S_IXOTH
            return info.st_mode & anyExecute != 0 ? .regularExecutable : .regularNotExecutable
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    // A lookup error counts as "no such user/group" and "no groups" here. What these answers feed
    // only ever grants (who may approve, whom to notify, whether a name in the policy exists), so
    // that is the closed side. Who the caller and the target are, and so which rules apply, deny
    // rules with `%group` targets included, comes from `Accounts`, which refuses on a lookup error.

    public func userExists(_ name: String) -> Bool { (try? UserDatabase.user(named: name)) != nil }

    public func groupExists(_ name: String) -> Bool { (try? UserDatabase.group(named: name)) != nil }

    public func groupMembers(_ name: String) -> [String]? {
        guard let group = try? UserDatabase.group(named: name) else { return nil }
        var members = Set(group.members)
        for user in UserDatabase.usersWithPrimaryGroup(group.gid) { members.insert(user) }
        return members.sorted()
    }

    public func groupsOfUser(_ name: String) -> [String] {
        guard let user = try? UserDatabase.user(named: name),
            let groups = try? UserDatabase.groupNames(user: name, primary: user.gid)
        else { return [] }
        return groups.names
    }
}
