import Glibc
import Synchronization

/// The real system through libc: realpath, stat, and the user and group databases (NSS included).
public struct LiveSystem: SystemLookup {
    public init() {}

    public func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

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

    public func userExists(_ name: String) -> Bool { passwdEntry(name) != nil }

    public func groupExists(_ name: String) -> Bool { groupEntry(name) != nil }

    public func groupMembers(_ name: String) -> [String]? {
        guard let group = groupEntry(name) else { return nil }
        var members = Set(group.members)
        for user in usersWithPrimaryGroup(group.gid) { members.insert(user) }
        return members.sorted()
    }

    public func groupsOfUser(_ name: String) -> [String] {
        guard let user = passwdEntry(name) else { return [] }
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(name, user.gid, &gids, &count) < 0 {
            gids = [gid_t](repeating: 0, count: Int(count) * 2)
            count = Int32(gids.count)
        }
        var names: [String] = []
        for gid in gids.prefix(Int(count)) {
            if let group = groupEntry(gid: gid), !names.contains(group.name) { names.append(group.name) }
        }
        return names
    }
}

/// The fields of a passwd entry that the policy needs.
private struct PasswdEntry {
    var name: String
    var gid: gid_t
}

/// The fields of a group entry that the policy needs.
private struct GroupEntry {
    var name: String
    var gid: gid_t
    var members: [String]
}

/// Calls a reentrant `get*_r` function with a buffer that grows while it answers ERANGE.
private func withGrowingBuffer<T>(_ body: (UnsafeMutablePointer<CChar>, Int) -> (Int32, T?)) -> T? {
    var size = 1024
    while size <= 1 << 20 {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        defer { buffer.deallocate() }
        let (status, value) = body(buffer, size)
        if status == ERANGE {
            size *= 2
            continue
        }
        return status == 0 ? value : nil
    }
    return nil
}

private func passwdEntry(_ name: String) -> PasswdEntry? {
    withGrowingBuffer { buffer, size in
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        let status = getpwnam_r(name, &entry, buffer, size, &result)
        guard status == 0, let found = result else { return (status, nil) }
        return (0, PasswdEntry(name: String(cString: found.pointee.pw_name), gid: found.pointee.pw_gid))
    }
}

private func groupEntry(_ name: String) -> GroupEntry? {
    withGrowingBuffer { buffer, size in
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        let status = getgrnam_r(name, &entry, buffer, size, &result)
        guard status == 0, let found = result else { return (status, nil) }
        return (0, GroupEntry(found.pointee))
    }
}

private func groupEntry(gid: gid_t) -> GroupEntry? {
    withGrowingBuffer { buffer, size in
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        let status = getgrgid_r(gid, &entry, buffer, size, &result)
        guard status == 0, let found = result else { return (status, nil) }
        return (0, GroupEntry(found.pointee))
    }
}

extension GroupEntry {
    fileprivate init(_ raw: group) {
        var members: [String] = []
        if var cursor = raw.gr_mem {
            while let member = cursor.pointee {
                members.append(String(cString: member))
                cursor += 1
            }
        }
        self.init(name: String(cString: raw.gr_name), gid: raw.gr_gid, members: members)
    }
}

/// getpwent walks one process-wide cursor, so walks are serialized.
private let passwdWalk = Mutex(())

/// Every user whose primary group is `gid`.
private func usersWithPrimaryGroup(_ gid: gid_t) -> [String] {
    passwdWalk.withLock { _ in
        var names: [String] = []
        setpwent()
        defer { endpwent() }
        while let entry = getpwent() {
            if entry.pointee.pw_gid == gid { names.append(String(cString: entry.pointee.pw_name)) }
        }
        return names
    }
}
