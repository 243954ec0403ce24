import Glibc
import JitexecBase
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

/// The accounts jitexec deals in, from `UserDatabase`. Each account is looked up once per process
/// (a run asks for the same few several times, and every group-list lookup walks every NSS source).
/// A lookup error is an error (`JitError.userDatabase`), never "no such user" or "not a member".
public enum Accounts {
    public static func byUID(_ uid: UInt32) throws(JitError) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.uid == uid } }) { return known }
        return try account { () throws(UserDatabase.LookupError) in try UserDatabase.user(uid: uid) }
    }

    public static func byName(_ name: String) throws(JitError) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.name == name } }) { return known }
        return try account { () throws(UserDatabase.LookupError) in try UserDatabase.user(named: name) }
    }

    /// Looks the account up again, skipping what this process remembered (after a long wait).
    public static func fresh(_ uid: UInt32) throws(JitError) -> Account? {
        remembered.withLock { $0.removeAll { $0.uid == uid } }
        return try byUID(uid)
    }

    private static let remembered = Mutex<[Account]>([])

    private static func account(
        _ find: () throws(UserDatabase.LookupError) -> UserDatabase.User?
    ) throws(JitError) -> Account? {
        do {
            guard let user = try find() else { return nil }
            let groups = try UserDatabase.groupNames(user: user.name, primary: user.gid)
            let account = Account(
                name: user.name, uid: user.uid, gid: user.gid, home: user.home, shell: user.shell,
                groups: groups.names, groupIDs: groups.ids)
            remembered.withLock { $0.append(account) }
            return account
        } catch {
            throw .userDatabase(error.description)
        }
    }

    /// A `-u`/`-U` argument: a user name, or `#UID` with a decimal uid. Negative, overflowing,
    /// (uid_t)-1 and unknown ids are refused: nothing is ever run as "nobody knows who".
    public static func parseUserSpec(_ spec: String) throws(JitError) -> Account {
        if spec.hasPrefix("#") {
            let digits = spec.dropFirst()
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.count <= 10,
                let value = UInt64(digits), value < UInt64(UInt32.max)
            else { throw .unknownUser(spec) }
            guard let account = try byUID(UInt32(value)) else { throw .unknownUser(spec) }
            return account
        }
        guard !spec.isEmpty, !spec.utf8.contains(0), let account = try byName(spec) else { throw .unknownUser(spec) }
        return account
    }
}
