@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// A small made-up system: a few files, users and groups. Nothing here touches the real /etc.
struct FakeSystem: SystemLookup {
    /// path -> (canonical path, kind of the canonical file)
    var files: [String: (canonical: String, kind: FileKind)] = [
        "/usr/bin/systemctl": ("/usr/bin/systemctl", .regularExecutable),
        "/usr/bin/journalctl": ("/usr/bin/journalctl", .regularExecutable),
        "/usr/bin/true": ("/usr/bin/true", .regularExecutable),
        "/bin/true": ("/usr/bin/true", .regularExecutable),
        "/usr/bin/ls": ("/usr/bin/ls", .regularExecutable),
        "/usr/sbin/halt": ("/usr/bin/systemctl", .regularExecutable),
        "/usr/bin/python3": ("/usr/bin/python3.11", .regularExecutable),
        "/usr/sbin/reboot": ("/usr/sbin/reboot", .regularExecutable),
        "/usr/bin/tool": ("/usr/bin/tool", .regularExecutable),
        "/usr/local/bin/tool": ("/usr/local/bin/tool", .regularNotExecutable),
        "/usr/local/bin/only-here": ("/usr/local/bin/only-here", .regularNotExecutable),
        "/usr/local/bin/deploy": ("/opt/deploy/bin/deploy", .regularExecutable),
        "/opt/my tools/run": ("/opt/my tools/run", .regularExecutable),
        "/etc/passwd": ("/etc/passwd", .regularNotExecutable),
        "/usr/bin": ("/usr/bin", .directory),
        "/usr/bin/subdir": ("/usr/bin/subdir", .directory),
        "relbin/hidden": ("/home/alice/relbin/hidden", .regularExecutable),
        "./x": ("/home/alice/x", .regularExecutable),
    ]
    /// user -> primary group
    var users: [String: String] = [
        "root": "root", "alice": "developers", "bob": "staff", "carol": "staff", "dave": "staff",
        "erin": "sre-leads", "nobody": "nogroup", "mallory": "staff",
    ]
    /// group -> gr_mem (may name users that do not exist)
    var groups: [String: [String]] = [
        "root": [], "developers": ["bob"], "staff": [], "sre-leads": ["carol", "dave", "ghost"],
        "nogroup": [], "oncall": ["carol"], "jit-admins": ["carol"], "contractors": ["mallory"],
        "empty": [], "dbas": ["root"],
    ]

    func canonicalPath(_ path: String) -> String? { files[path]?.canonical }

    func fileKind(_ path: String) -> FileKind {
        files.values.first { $0.canonical == path }?.kind ?? .missing
    }

    func userExists(_ name: String) -> Bool { users[name] != nil }
    func groupExists(_ name: String) -> Bool { groups[name] != nil }

    func groupMembers(_ name: String) -> [String]? {
        guard let members = groups[name] else { return nil }
        return members + users.filter { $0.value == name }.map(\.key).sorted()
    }

    func groupsOfUser(_ name: String) -> [String] {
        guard let primary = users[name] else { return [] }
        return [primary] + groups.filter { $0.key != primary && $0.value.contains(name) }.map(\.key).sorted()
    }
}

/// Loads one policy file (optionally more) against the fake system.
func load(_ text: String, file: String = "policy.toml", more: [PolicySource] = [], system: FakeSystem = FakeSystem())
    -> (policy: Policy?, diagnostics: [Diagnostic])
{
    PolicyLoader.load([PolicySource(path: file, text: text)] + more, system: system)
}
