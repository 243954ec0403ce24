import Glibc
import JitexecBase
import JitexecSystem
import Testing

@testable import JitexecExec

/// The environment allowlist, one test per attack.
@Suite struct EnvironmentTests {
    static let target = Account(
        name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent", shell: "/usr/sbin/nologin",
        groups: ["nogroup"], groupIDs: [65534])
    static let policyKeep = ["TERM", "LANG", "LANGUAGE", "LC_*", "TZ", "COLORTERM"]
    static let securePath = "/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs the public entry point and returns name → value.
    static func sanitize(_ env: [UserText], keep: [String], extra: [(String, String)] = []) -> [String: [UInt8]] {
        let result = Environment.sanitized(
            from: env, keep: keep, target: target, securePath: securePath, extra: extra)
        var table: [String: [UInt8]] = [:]
        for entry in result {
            let split = entry.bytes.firstIndex(of: UInt8(ascii: "="))!
            table[String(decoding: entry.bytes[..<split], as: UTF8.self)] = Array(entry.bytes[(split + 1)...])
        }
        return table
    }

    @Test(
        "a dangerous variable is dropped even when env_keep is \"*\"",
        arguments: [
            "LD_PRELOAD=/tmp/evil.so", "LD_LIBRARY_PATH=/tmp", "LD_AUDIT=/tmp/a.so",
            "SWIFT_BACKTRACE=enable=yes,interactive=yes", "BASH_ENV=/tmp/rc", "ENV=/tmp/rc", "IFS=/",
            "BASH_FUNC_ls%%=() { /tmp/evil; }", "SHELLOPTS=xtrace", "PS4=$(id>/tmp/pwn)",
            "PERL5OPT=-Mevil", "PYTHONPATH=/tmp", "PYTHONSTARTUP=/tmp/x.py", "RUBYOPT=-r/tmp/x",
            "GLIBC_TUNABLES=glibc.malloc.check=3", "GCONV_PATH=/tmp", "NODE_OPTIONS=--require=/tmp/x",
            "PAGER=/tmp/sh", "SYSTEMD_PAGER=/tmp/sh", "EDITOR=/tmp/sh", "JITEXEC_GRANT=forged",
            "JITEXEC_REQUEST=forged", "ls%%=() { /tmp/evil; }", "X%%Y=1", "%%=1",
        ])
    func deniedNameIsDropped(entry: String) {
        let name = String(entry.prefix { $0 != "=" })
        #expect(Self.sanitize([UserText(entry)], keep: ["*"])[name] == nil)
    }

    @Test("a name with one % or with %% apart is not taken for a bash function", arguments: ["A%B", "A%B%C", "A%"])
    func singlePercentNamePasses(name: String) {
        #expect(Self.sanitize([UserText(name + "=1")], keep: ["*"])[name] == Array("1".utf8))
    }

    @Test(
        "an unsafe value is dropped even though its name is kept",
        arguments: [
            "TERM=../../x", "TERM=xterm%n", "TERM=/tmp/terminfo/x", "TERM=() { :; }", "LC_ALL=/tmp/x",
            "LC_MESSAGES=../../../tmp/x", "LANG=en_US.%s", "LANGUAGE=fr\u{1b}]0;x", "TZ=../../../tmp/evil",
            "TZ=/etc/passwd", "TZ=:/etc/passwd", "TZ=:../../../etc/passwd",
            "TZ=/usr/share/zoneinfo/../../../etc/passwd", "TZ=:Europe/../../../../etc/passwd",
            "TZ=:Nowhere/Nothing", "TZ=:Europe", "TZ=UTC x", "COLORTERM=() { id; }",
        ])
    func unsafeValueIsDropped(entry: String) {
        let name = String(entry.prefix { $0 != "=" })
        #expect(Self.sanitize([UserText(entry)], keep: Self.policyKeep)[name] == nil)
    }

    @Test func overlongLocaleIsDropped() {
        let long = "LANG=" + String(repeating: "a", count: 300)
        #expect(Self.sanitize([UserText(long)], keep: Self.policyKeep)["LANG"] == nil)
        #expect(Self.sanitize(["LANG=C.UTF-8"], keep: Self.policyKeep)["LANG"] == Array("C.UTF-8".utf8))
    }

    @Test(
        "a safe value of a kept name passes unchanged",
        arguments: [
            "TERM=xterm-256color", "LANG=en_US.UTF-8", "LANGUAGE=en_US:en", "LC_TIME=C.UTF-8",
            "TZ=UTC", "TZ=EST5EDT,M3.2.0,M11.1.0", "COLORTERM=truecolor",
        ])
    func safeValueIsKept(entry: String) {
        let name = String(entry.prefix { $0 != "=" })
        let value = Array(entry.utf8.drop { $0 != UInt8(ascii: "=") }.dropFirst())
        #expect(Self.sanitize([UserText(entry)], keep: Self.policyKeep)[name] == value)
    }

    @Test(
        "TZ naming a file of the real zoneinfo tree is kept",
        .enabled(if: access("/usr/share/zoneinfo/Europe/Paris", R_OK) == 0, "needs tzdata"),
        arguments: ["TZ=:Europe/Paris", "TZ=Europe/Paris", "TZ=/usr/share/zoneinfo/Europe/Paris", "TZ=:UTC"])
    func zoneFileInsideTreeIsKept(entry: String) {
        let value = Array(entry.utf8.dropFirst(3))
        #expect(Self.sanitize([UserText(entry)], keep: Self.policyKeep)["TZ"] == value)
    }

    @Test func zoneSymlinkLeavingTheTreeIsDropped() throws {
        var template = Array("/tmp/jitexec-zoneinfo-XXXXXX".utf8CString)
        let root = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer {
            unlink(root + "/Area/City")
            unlink(root + "/Escape")
            rmdir(root + "/Area")
            rmdir(root)
        }
        mkdir(root + "/Area", 0o755)
        let fd = open(root + "/Area/City", O_CREAT | O_WRONLY, 0o644)
        close(fd)
        symlink("/etc/passwd", root + "/Escape")
        func kept(_ tz: String) -> Bool {
            let result = Environment.sanitized(
                from: [UserText("TZ=" + tz)], keep: ["TZ"], target: Self.target, securePath: "/bin",
                extra: [], zoneinfo: root)
            return result.contains(UserText("TZ=" + tz))
        }
        #expect(kept(":Area/City"))
        #expect(kept(root + "/Area/City"))
        #expect(!kept(":Escape"))
        #expect(!kept(root + "/Escape"))
        #expect(!kept(":Area"))
    }

    @Test func variableNotInKeepIsDropped() {
        let table = Self.sanitize(["FOO=bar", "TERM=xterm"], keep: Self.policyKeep)
        #expect(table["FOO"] == nil)
        #expect(table["TERM"] == Array("xterm".utf8))
    }

    @Test func targetValuesReplaceTheCallers() {
        let table = Self.sanitize(
            ["HOME=/home/alice", "USER=alice", "LOGNAME=alice", "SHELL=/tmp/sh", "PATH=.:/tmp"],
            keep: ["*"])
        #expect(table["HOME"] == Array("/nonexistent".utf8))
        #expect(table["USER"] == Array("nobody".utf8))
        #expect(table["LOGNAME"] == Array("nobody".utf8))
        #expect(table["SHELL"] == Array("/usr/sbin/nologin".utf8))
        #expect(table["PATH"] == Array(Self.securePath.utf8))
    }

    @Test func extrasArePresentAndEntriesSortedAndUnique() {
        let extra = [
            ("JITEXEC_USER", "alice"), ("JITEXEC_UID", "1000"), ("JITEXEC_COMMAND", "/usr/bin/id -u"),
            ("JITEXEC_REQUEST", "42"), ("JITEXEC_GRANT", "7"),
        ]
        let result = Environment.sanitized(
            from: ["TERM=vt100", "TERM=xterm", "NOEQUALS", "=empty-name", "LANG=C"],
            keep: Self.policyKeep, target: Self.target, securePath: Self.securePath, extra: extra)
        let names = result.map { String(decoding: $0.bytes.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self) }
        #expect(names == names.sorted())
        #expect(Set(names).count == names.count)
        #expect(!names.contains("NOEQUALS") && !names.contains(""))
        #expect(result.contains("TERM=vt100"))  // the first of duplicates, the one getenv sees
        for (name, value) in extra { #expect(result.contains(UserText(name + "=" + value))) }
        #expect(
            names == [
                "HOME", "JITEXEC_COMMAND", "JITEXEC_GRANT", "JITEXEC_REQUEST", "JITEXEC_UID",
                "JITEXEC_USER", "LANG", "LOGNAME", "PATH", "SHELL", "TERM", "USER",
            ])
    }

    @Test("of several entries with one name only the first counts: a refused first is not replaced by a later one")
    func refusedFirstOfDuplicatesIsNotReplaced() {
        let table = Self.sanitize(
            ["TERM=../../x", "LANG=C", "TERM=xterm", "LANG=fr_FR.UTF-8", "TERM=vt100", "LANG=de_DE"],
            keep: Self.policyKeep)
        #expect(table["TERM"] == nil)
        #expect(table["LANG"] == Array("C".utf8))
    }

    @Test("env_keep: literal names match only themselves, globs as fnmatch matches them")
    func keptNamesMatchLikeFnmatch() {
        let keep = ["TERM", "LC_*", "X?Y", "[AB]Z", "ESC\\*", "*_COLOR", "P*Q*"]
        for (name, kept) in [
            ("TERM", true), ("TERMX", false), ("TER", false), ("LC_ALL", true), ("LC_", true), ("LC", false),
            ("XAY", true), ("XY", false), ("AZ", true), ("CZ", false), ("ESC*", true), ("ESCX", false),
            ("LS_COLOR", true), ("term", false), ("PQ", true), ("PxQy", true), ("Px", false),
        ] {
            #expect(Environment.KeptNames(keep).contains(Array(name.utf8)) == kept, "\(name)")
            let matched = name.withCString { cName in keep.contains { fnmatch($0, cName, 0) == 0 } }
            #expect(matched == kept, "fnmatch on \(name)")
        }
        for name in ["A", "LC_ALL", "x*y"] {
            #expect(Environment.KeptNames(["*"]).contains(Array(name.utf8)))
            #expect(Environment.KeptNames(["**"]).contains(Array(name.utf8)))
        }
    }

    @Test("a refused name stays refused with a later entry of the same name, and a forced name still wins")
    func refusedNamesAreLeftOutWhateverTheirPosition() {
        let table = Self.sanitize(
            ["SECRET=1", "TERM=xterm", "SECRET=2", "HOME=/tmp/evil", "LD_PRELOAD=/x.so", "HOME=/tmp/two"],
            keep: ["*"])
        #expect(table["SECRET"] == Array("1".utf8))
        #expect(table["HOME"] == Array("/nonexistent".utf8))
        #expect(table["LD_PRELOAD"] == nil)
        #expect(table["TERM"] == Array("xterm".utf8))
    }

    @Test func nonUTF8ValueOfAKeptVariablePassesByteForByte() {
        let entry = UserText(bytes: Array("COLORTERM=".utf8) + [0xff, 0xfe])
        #expect(Self.sanitize([entry], keep: Self.policyKeep)["COLORTERM"] == [0xff, 0xfe])
    }
}
