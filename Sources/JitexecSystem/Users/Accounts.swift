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
        return try UserDatabase.user(uid: uid).map(account)
    }

    public static func byName(_ name: String) throws(UserDatabase.LookupError) -> Account? {
        if let known = remembered.withLock({ $0.first { $0.name == name } }) { return known }
        return try UserDatabase.user(named: name).map(account)
    }

    /// Looks the account up again, skipping what this process remembered (after a long wait).
    public static func fresh(_ uid: uid_t) throws(UserDatabase.LookupError) -> Account? {
        remembered.withLock { $0.removeAll { $0.uid == uid } }
        return try byUID(uid)
    }

    /// The account of `uid` with its group list still being looked up on a thread of its own
    /// (`BackgroundThread`), so the caller can go on meanwhile; nil when there is no such user.
    /// The passwd entry is read here. The group list is the slow part: every NSS source is asked
    /// for it, then once more for each group's name.
    public static func byUIDBeside(_ uid: uid_t) throws(UserDatabase.LookupError) -> PendingAccount? {
        if let known = remembered.withLock({ $0.first { $0.uid == uid } }) { return PendingAccount(known) }
        guard let user = try UserDatabase.user(uid: uid) else { return nil }
        return PendingAccount { () throws(UserDatabase.LookupError) in try account(user) }
    }

    private static let remembered = Mutex<[Account]>([])

    private static func account(_ user: UserDatabase.User) throws(UserDatabase.LookupError) -> Account {
        let groups = try UserDatabase.groupNames(user: user.name, primary: user.gid)
        let account = Account(
            name: user.name, uid: user.uid, gid: user.gid, home: user.home, shell: user.shell, groups: groups.names,
            groupIDs: groups.ids)
        remembered.withLock { $0.append(account) }
        return account
    }
}

/// An account whose group list may still be being looked up (`Accounts.byUIDBeside`). `account()`
/// waits for the lookup the first time and returns what it found, or throws why it failed, every
/// time after.
public final class PendingAccount: Sendable {
    private enum State: @unchecked Sendable {
        // @unchecked: the thread is only joined under the lock, once (then `.done`).
        case running(BackgroundThread<Result<Account, UserDatabase.LookupError>>)
        case done(Result<Account, UserDatabase.LookupError>)
    }

    private let state: Mutex<State>

    /// An account known already.
    public init(_ account: Account) { state = Mutex(.done(.success(account))) }

    /// Runs `lookup` on a thread of its own, or here when none can start.
    public init(_ lookup: @escaping @Sendable () throws(UserDatabase.LookupError) -> Account) {
        let run = { @Sendable () -> Result<Account, UserDatabase.LookupError> in Result(catching: lookup) }
        if let thread = BackgroundThread.start(run) {
            state = Mutex(.running(thread))
        } else {
            state = Mutex(.done(run()))
        }
    }

    /// The account, once its groups are known; throws why they could not be looked up.
    public func account() throws(UserDatabase.LookupError) -> Account {
        try state.withLock { state -> Result<Account, UserDatabase.LookupError> in
            switch state {
            case .done(let result):
                return result
            case .running(let thread):
                let result = thread.join()
                state = .done(result)
                return result
            }
        }.get()
    }
}
