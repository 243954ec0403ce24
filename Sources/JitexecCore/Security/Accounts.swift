import Glibc
import Synchronization

/// A user account from the user database (passwd + group), as jitexec needs it.
public struct Account: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public var home: String
    public var shell: String
    /// Names of every group the user is in, the primary one first.
    public var groups: [String]
    /// The ids of those groups (what setgroups gets), the primary one first.
    public var groupIDs: [UInt32]
}

/// Lookups in the user database through the reentrant libc calls. Each account is looked up once
/// per process (a run asks for the same few several times, and every group-list lookup walks every
/// NSS source).
public enum Accounts {
    public static func byUID(_ uid: UInt32) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.uid == uid } }) { return known }
        return remember(lookup { pw, buf, len, result in getpwuid_r(uid, pw, buf, len, result) })
    }

    public static func byName(_ name: String) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.name == name } }) { return known }
        return remember(lookup { pw, buf, len, result in getpwnam_r(name, pw, buf, len, result) })
    }

    private static let remembered = Mutex<[Account]>([])

    private static func remember(_ account: Account?) -> Account? {
        if let account { remembered.withLock { $0.append(account) } }
        return account
    }

    /// A `-u`/`-U` argument: a user name, or `#UID` with a decimal uid. Negative, overflowing,
    /// (uid_t)-1 and unknown ids are refused: nothing is ever run as "nobody knows who".
    public static func parseUserSpec(_ spec: String) throws(JitError) -> Account {
        if spec.hasPrefix("#") {
            let digits = spec.dropFirst()
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.count <= 10,
                let value = UInt64(digits), value < UInt64(UInt32.max)
            else { throw .unknownUser(spec) }
            guard let account = byUID(UInt32(value)) else { throw .unknownUser(spec) }
            return account
        }
        guard !spec.isEmpty, !spec.utf8.contains(0), let account = byName(spec) else { throw .unknownUser(spec) }
        return account
    }

    /// Group ids and names of a user: the primary group and every group listing the user as a member.
    static func groupList(user: String, gid: UInt32) -> (ids: [UInt32], names: [String]) {
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(user, gid, &gids, &count) == -1 {
            gids = [gid_t](repeating: 0, count: Int(count) + 64)
            count = Int32(gids.count)
        }
        var ids: [UInt32] = []
        var names: [String] = []
        for g in gids.prefix(Int(count)) where !ids.contains(g) {
            ids.append(g)
            if let name = groupName(g), !names.contains(name) { names.append(name) }
        }
        return (ids, names)
    }

    static func groupName(_ gid: UInt32) -> String? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getgrgid_r(gid, &gr, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else { return nil }
        return String(cString: gr.gr_name)
    }

    private static func lookup(
        _ call: (UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>) -> Int32
    ) -> Account? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = buffer.withUnsafeMutableBufferPointer { call(&pw, $0.baseAddress!, $0.count, &result) }
        guard rc == 0, result != nil else { return nil }
        let name = String(cString: pw.pw_name)
        let groups = groupList(user: name, gid: pw.pw_gid)
        return Account(
            name: name, uid: pw.pw_uid, gid: pw.pw_gid, home: String(cString: pw.pw_dir),
            shell: String(cString: pw.pw_shell), groups: groups.names, groupIDs: groups.ids)
    }
}
