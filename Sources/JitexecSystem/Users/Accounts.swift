import Glibc
import Synchronization

/// A user account as the program deals in it: the passwd entry with every group of the user. The
/// invoking user, a command's target, an approver and a notifier's identity are all `Account`s.
public struct Account: Sendable, Equatable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t
    public var home: String
    /// The login shell; `/bin/sh` when the entry leaves it empty, as login(1) does.
    public var shell: String
    /// Names of every group the user is in, the primary one first.
    public var groups: [String]
    /// The ids of those groups (what setgroups gets), the primary one first.
    public var groupIDs: [gid_t]

    public init(name: String, uid: uid_t, gid: gid_t, home: String, shell: String, groups: [String], groupIDs: [gid_t])
    {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
        self.shell = shell.isEmpty ? "/bin/sh" : shell
        self.groups = groups
        self.groupIDs = groupIDs
    }
}

/// Accounts from `UserDatabase`. Each is looked up once per process (a run asks for the same few
/// several times, and every group-list lookup walks every NSS source). A lookup error is thrown,
/// never taken for "no such user" or "not a member".
public enum Accounts {
    public static func byUID(_ uid: uid_t) throws(UserDatabase.LookupError) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.uid == uid } }) { return known }
        return try account(try UserDatabase.user(uid: uid))
    }

    public static func byName(_ name: String) throws(UserDatabase.LookupError) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.name == name } }) { return known }
        return try account(try UserDatabase.user(named: name))
    }

    /// Looks the account up again, skipping what this process remembered (after a long wait).
    public static func fresh(_ uid: uid_t) throws(UserDatabase.LookupError) -> Account? {
        remembered.withLock { $0.removeAll { $0.uid == uid } }
        return try byUID(uid)
    }

    private static let remembered = Mutex<[Account]>([])

    private static func account(_ user: UserDatabase.User?) throws(UserDatabase.LookupError) -> Account? {
        guard let user else { return nil }
        let groups = try UserDatabase.groupNames(user: user.name, primary: user.gid)
        let account = Account(
            name: user.name, uid: user.uid, gid: user.gid, home: user.home, shell: user.shell, groups: groups.names,
            groupIDs: groups.ids)
        remembered.withLock { $0.append(account) }
        return account
    }
}
