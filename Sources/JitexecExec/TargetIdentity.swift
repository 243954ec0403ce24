import Glibc

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
    /// there is no such user.
    public static func lookup(name: String) -> TargetIdentity? {
        withPasswd { entry, buffer, count, result in getpwnam_r(name, entry, buffer, count, result) }
    }

    /// The identity of the passwd entry for `uid`, nil when there is none.
    public static func lookup(uid: uid_t) -> TargetIdentity? {
        withPasswd { entry, buffer, count, result in getpwuid_r(uid, entry, buffer, count, result) }
    }

    /// Runs a getpw*_r call with a growing buffer and turns the entry into an identity.
    private static func withPasswd(
        _ call: (
            UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>
        ) -> Int32
    ) -> TargetIdentity? {
        var size = 4096
        while size <= 1 << 20 {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>? = nil
            var buffer = [CChar](repeating: 0, count: size)
            let status = buffer.withUnsafeMutableBufferPointer { call(&entry, $0.baseAddress!, size, &result) }
            if status == ERANGE {
                size *= 4
                continue
            }
            guard status == 0, result != nil, let name = entry.pw_name.map({ String(cString: $0) }) else {
                return nil
            }
            let home = entry.pw_dir.map { String(cString: $0) } ?? "/"
            let shell = entry.pw_shell.map { String(cString: $0) } ?? ""
            guard let groups = groupList(name: name, primary: entry.pw_gid) else { return nil }
            return TargetIdentity(
                uid: entry.pw_uid, gid: entry.pw_gid, groups: groups, name: name, home: home,
                shell: shell.isEmpty ? "/bin/sh" : shell)
        }
        return nil
    }

    /// getgrouplist(3) for `name`, the primary group included.
    private static func groupList(name: String, primary: gid_t) -> [gid_t]? {
        var count: Int32 = 64
        while count <= 65536 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(name, primary, &groups, &found) >= 0 {
                return Array(groups.prefix(Int(found)))
            }
            count = max(found, count * 2)
        }
        return nil
    }
}
