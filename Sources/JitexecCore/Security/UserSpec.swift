import Glibc
import JitexecBase
import JitexecPolicy
import JitexecSystem

/// A `-u`/`-U` argument: a user name, or `#UID` with a decimal uid. Negative, overflowing,
/// (uid_t)-1 and unknown ids are refused: nothing is ever run as "nobody knows who".
enum UserSpec {
    static func account(_ spec: String, _ ctx: Context) throws(JitError) -> Account {
        let found: Account?
        if spec.hasPrefix("#") {
            guard let value = numericID(spec) else { throw .unknownUser(spec) }
            found = try ctx.effects.accountWithUID(value)
        } else {
            guard !spec.isEmpty, !spec.utf8.contains(0) else { throw .unknownUser(spec) }
            found = try ctx.effects.accountNamed(spec)
        }
        guard let found else { throw .unknownUser(spec) }
        return found
    }

    /// The id of `#ID`: decimal digits only, below (uid_t)-1; nil for anything else (a sign,
    /// an overflow, -1, an empty id).
    static func numericID(_ spec: String) -> UInt32? {
        let digits = spec.dropFirst()
        guard spec.hasPrefix("#"), !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            digits.count <= 10, let value = UInt64(digits), value < UInt64(UInt32.max)
        else { return nil }
        return UInt32(value)
    }
}

/// A `-g` argument: a group name or `#GID`, and the target account with it as the primary group
/// (the target's own groups stay its supplementary groups, as with sudo -g).
enum GroupSpec {
    static func apply(_ spec: String, to target: Account) throws(JitError) -> Account {
        let found: UserDatabase.Group?
        if spec.hasPrefix("#") {
            guard let value = UserSpec.numericID(spec) else {
                throw .usage("unknown group \(Escape.text(spec)); -g takes a group name or #GID")
            }
            found = try lookingUp { () throws(UserDatabase.LookupError) in try UserDatabase.group(gid: value) }
        } else {
            guard !spec.isEmpty, !spec.utf8.contains(0) else { throw .usage("-g needs a group name") }
            found = try lookingUp { () throws(UserDatabase.LookupError) in try UserDatabase.group(named: spec) }
        }
        guard let group = found else {
            throw .usage("unknown group \(Escape.text(spec)); -g takes a group name or #GID")
        }
        var account = target
        account.gid = group.gid
        account.groupIDs = [group.gid] + target.groupIDs.filter { $0 != group.gid }
        account.groups = [group.name] + target.groups.filter { $0 != group.name }
        return account
    }
}

/// A user-database lookup whose failure refuses (`JitError.userDatabase`), never reads as "no such
/// user" or "not a member".
func lookingUp<T>(_ body: () throws(UserDatabase.LookupError) -> T) throws(JitError) -> T {
    do {
        return try body()
    } catch {
        throw .userDatabase(error.description)
    }
}

extension Account {
    /// The policy's view of this account.
    var subject: Subject { Subject(user: name, groups: groups) }
}
