/// What `stat(2)` (following symlinks) says a path is.
public enum FileKind: Hashable, Sendable {
    case missing
    /// A regular file with at least one execute bit.
    case regularExecutable
    case regularNotExecutable
    case directory
    case other
}

/// Every effect the loader and the decision need; tests use a fake, production uses `LiveSystem`.
public protocol SystemLookup: Sendable {
    /// realpath(3); nil when the path does not exist.
    func canonicalPath(_ path: String) -> String?
    /// stat(2) following symlinks.
    func fileKind(_ path: String) -> FileKind
    func userExists(_ name: String) -> Bool
    func groupExists(_ name: String) -> Bool
    /// gr_mem plus the users whose primary gid is the group; nil when there is no such group.
    func groupMembers(_ name: String) -> [String]?
    /// Names of all groups of the user, the primary one included; empty for an unknown user.
    func groupsOfUser(_ name: String) -> [String]
}

extension SystemLookup {
    /// True when the principal names an existing user or group.
    package func exists(_ principal: Principal) -> Bool {
        switch principal {
        case .user(let name): return userExists(name)
        case .group(let name): return groupExists(name)
        case .automation: return true  // checked against the policy's [[automation]] tables, not the system
        }
    }

    /// The existing users a list of principals stands for, sorted and without duplicates.
    package func expand(_ principals: [Principal]) -> [String] {
        var names = Set<String>()
        for principal in principals {
            switch principal {
            case .user(let name):
                if userExists(name) { names.insert(name) }
            case .group(let name):
                for member in groupMembers(name) ?? [] where userExists(member) { names.insert(member) }
            case .automation:
                continue  // a program, not a person
            }
        }
        return names.sorted()
    }
}

/// Any `SystemLookup` behind one concrete type, so a context can hold a live or a fake one and
/// still pass it where `some SystemLookup` is expected.
public struct AnySystemLookup: SystemLookup {
    public let base: any SystemLookup
    public init(_ base: any SystemLookup) { self.base = base }
    public func canonicalPath(_ path: String) -> String? { base.canonicalPath(path) }
    public func fileKind(_ path: String) -> FileKind { base.fileKind(path) }
    public func userExists(_ name: String) -> Bool { base.userExists(name) }
    public func groupExists(_ name: String) -> Bool { base.groupExists(name) }
    public func groupMembers(_ name: String) -> [String]? { base.groupMembers(name) }
    public func groupsOfUser(_ name: String) -> [String] { base.groupsOfUser(name) }
}
