import Glibc
import Synchronization

/// The one way the program reads the user and group databases (passwd, group, through NSS):
/// reentrant calls with a buffer that grows while they answer ERANGE (a group of 2,500 members has
/// a 35 kB line), and a lookup error is an error (thrown), never "no such entry" or "not a member".
public enum UserDatabase {
    public struct User: Sendable, Equatable {
        public var name: String
        public var uid: uid_t
        public var gid: gid_t
        public var home: String
        public var shell: String
    }

    public struct Group: Sendable, Equatable {
        public var name: String
        public var gid: gid_t
        /// gr_mem: the users the group line lists (not those whose primary group it is).
        public var members: [String]
    }

    /// A lookup that failed for another reason than "not found".
    public struct LookupError: Error, Equatable, CustomStringConvertible {
        public var what: String
        public var code: Int32
        public var description: String { "looking up \(what) failed: \(String(cString: strerror(code)))" }
        public init(what: String, code: Int32) {
            self.what = what
            self.code = code
        }
    }

    /// The largest buffer tried (an entry larger than this is an error).
    static let maxBuffer = 16 << 20

    public static func user(named name: String) throws(LookupError) -> User? {
        try passwd("user \(name)") { getpwnam_r(name, $0, $1, $2, $3) }
    }

    public static func user(uid: uid_t) throws(LookupError) -> User? {
        try passwd("uid \(uid)") { getpwuid_r(uid, $0, $1, $2, $3) }
    }

    public static func group(named name: String) throws(LookupError) -> Group? {
        try group("group \(name)") { getgrnam_r(name, $0, $1, $2, $3) }
    }

    public static func group(gid: gid_t) throws(LookupError) -> Group? {
        try group("gid \(gid)") { getgrgid_r(gid, $0, $1, $2, $3) }
    }

    /// getgrouplist(3): the ids of every group of `user`, `primary` included, without duplicates.
    public static func groupIDs(user: String, primary: gid_t) throws(LookupError) -> [gid_t] {
        var count: Int32 = 64
        while count <= 1 << 20 {
            var ids = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(user, primary, &ids, &found) >= 0 {
                var unique: [gid_t] = []
                for id in ids.prefix(Int(found)) where !unique.contains(id) { unique.append(id) }
                return unique
            }
            count = max(found, count * 2)
        }
        throw LookupError(what: "the groups of \(user)", code: ERANGE)
    }

    /// The names of every group of `user` (primary first). A gid with no group entry has no name and
    /// is left out; any other lookup failure is thrown.
    public static func groupNames(user: String, primary: gid_t) throws(LookupError) -> (ids: [gid_t], names: [String]) {
        let ids = try groupIDs(user: user, primary: primary)
        var names: [String] = []
        for id in ids {
            if let group = try group(gid: id), !names.contains(group.name) { names.append(group.name) }
        }
        return (ids, names)
    }

    /// getpwent walks one process-wide cursor, so walks are serialized.
    private static let walk = Mutex(())

    /// Every user whose primary group is `gid`.
    public static func usersWithPrimaryGroup(_ gid: gid_t) -> [String] {
        walk.withLock { _ in
            var names: [String] = []
            setpwent()
            defer { endpwent() }
            while let entry = getpwent() {
                if entry.pointee.pw_gid == gid { names.append(String(cString: entry.pointee.pw_name)) }
            }
            return names
        }
    }

    // MARK: The reentrant calls

    /// Status codes the get*_r functions use for "no such entry" (see getpwnam_r(3)).
    private static let notFound: Set<Int32> = [0, ENOENT, ESRCH, EBADF, EPERM]

    private static func lookup<Entry, T>(
        _ what: String, _ convert: (Entry) -> T,
        _ call: (
            UnsafeMutablePointer<Entry>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>
        ) -> Int32,
        empty: Entry
    ) throws(LookupError) -> T? {
        var size = 4096
        while size <= maxBuffer {
            var entry = empty
            var result: UnsafeMutablePointer<Entry>?
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let status = call(&entry, buffer, size, &result)
            if status == ERANGE {
                size *= 2
                continue
            }
            if let result, status == 0 { return convert(result.pointee) }
            if notFound.contains(status) { return nil }
            throw LookupError(what: what, code: status)
        }
        throw LookupError(what: what, code: ERANGE)
    }

    private static func passwd(
        _ what: String,
        _ call: (
            UnsafeMutablePointer<Glibc.passwd>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<Glibc.passwd>?>
        ) -> Int32
    ) throws(LookupError) -> User? {
        try lookup(
            what,
            { (pw: Glibc.passwd) in
                let shell = pw.pw_shell.map { String(cString: $0) } ?? ""
                return User(
                    name: String(cString: pw.pw_name), uid: pw.pw_uid, gid: pw.pw_gid,
                    home: pw.pw_dir.map { String(cString: $0) } ?? "/", shell: shell)
            }, call, empty: Glibc.passwd())
    }

    private static func group(
        _ what: String,
        _ call: (
            UnsafeMutablePointer<Glibc.group>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<Glibc.group>?>
        ) -> Int32
    ) throws(LookupError) -> Group? {
        try lookup(
            what,
            { (raw: Glibc.group) in
                var members: [String] = []
                if var cursor = raw.gr_mem {
                    while let member = cursor.pointee {
                        members.append(String(cString: member))
                        cursor += 1
                    }
                }
                return Group(name: String(cString: raw.gr_name), gid: raw.gr_gid, members: members)
            }, call, empty: Glibc.group())
    }
}
