import Glibc
import JitexecAuth
import JitexecSystem
import Testing

@testable import JitexecCore

/// Runs on temporary files; as root (CI) the files are root-owned and every rule is exercised,
/// otherwise the files belong to the test user and the ownership rule is what refuses them.
@Suite struct TrustedFilesTests {
    let dir: String

    init() throws {
        var template = Array("/tmp/jitexec-trust-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(made != nil)
        dir = String(cString: made!)
        chmod(dir, 0o755)
    }

    /// A file in the test's folder, with `contents` and `mode`.
    func file(_ name: String, mode: mode_t = 0o644, contents: String = "") -> String {
        let path = "\(dir)/\(name)"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)
        _ = contents.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        chmod(path, mode)
        return path
    }

    var asRoot: Bool { geteuid() == 0 }

    @Test func rootOwnedFileIsTrustedOnlyAsRoot() throws {
        let f = file("ok.toml")
        if asRoot {
            #expect(try TrustedFiles.requireRootOwned(f, kind: .file) == f)
            #expect(try TrustedFiles.readTrustedFile(f) == [])
        } else {
            #expect(throws: JitError.untrusted(path: dir, problem: .notOwnedByRoot(uid: getuid()))) {
                try TrustedFiles.requireRootOwned(f, kind: .file)
            }
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func groupWritableFileIsRefused() throws {
        let f = file("gw.toml", mode: 0o664)
        #expect(throws: JitError.untrusted(path: f, problem: .writableByOthers(mode: S_IFREG | 0o664))) {
            try TrustedFiles.requireRootOwned(f, kind: .file)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func symlinkAndHardLinkAreRefused() throws {
        let f = file("real.toml")
        let link = "\(dir)/link.toml"
        symlink(f, link)
        #expect(throws: JitError.untrusted(path: link, problem: .symlink)) {
            try TrustedFiles.requireRootOwned(link, kind: .file)
        }
        let hard = "\(dir)/hard.toml"
        Glibc.link(f, hard)
        #expect(throws: JitError.untrusted(path: f, problem: .hardLinked(count: 2))) {
            try TrustedFiles.requireRootOwned(f, kind: .file)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func writableParentIsRefusedButStickyIsFine() throws {
        let sub = "\(dir)/sub"
        mkdir(sub, 0o755)
        let f = "\(sub)/p.toml"
        close(open(f, O_CREAT | O_WRONLY, 0o644))
        chmod(sub, 0o777)
        #expect(throws: JitError.untrusted(path: sub, problem: .writableByOthers(mode: S_IFDIR | 0o777))) {
            try TrustedFiles.requireRootOwned(f, kind: .file)
        }
        chmod(sub, 0o1777)
        #expect(try TrustedFiles.requireRootOwned(f, kind: .file) == f)
    }

    /// The read loop sizes its buffer by the file: the whole file comes back at every size around
    /// that guess and the 4 KiB pieces, more than the limit is refused as too large, and a pipe
    /// (no size) is read to its end.
    @Test func readAllReadsEveryByteAndRefusesMoreThanTheLimit() throws {
        for size in [0, 1, 4095, 4096, 4097, 70_000] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let path = file("r\(size)")
            let fd = open(path, O_WRONLY | O_TRUNC)
            #expect(FileSystem.writeAll(fd, bytes) || size == 0)
            close(fd)
            let reading = open(path, O_RDONLY)
            defer { close(reading) }
            #expect(try TrustedFiles.readAll(reading, path: path, limit: 70_000) == bytes, "size \(size)")
        }
        let big = open(file("big"), O_WRONLY)
        FileSystem.writeAll(big, [UInt8](repeating: 1, count: 3 << 20))
        close(big)
        let reading = open("\(dir)/big", O_RDONLY)
        defer { close(reading) }
        #expect(throws: JitError.unreadable(path: "\(dir)/big", reason: "larger than 2 MiB")) {
            try TrustedFiles.readAll(reading, path: "\(dir)/big", limit: 2 << 20)
        }
        var pipeFDs: [Int32] = [0, 0]
        try #require(pipe(&pipeFDs) == 0)
        let sent = [UInt8](repeating: 9, count: 10_000)  // within the pipe's buffer: written at once
        #expect(FileSystem.writeAll(pipeFDs[1], sent))
        close(pipeFDs[1])
        #expect(FileSystem.readAll(pipeFDs[0], limit: 1 << 20) == sent)
        close(pipeFDs[0])
    }

    @Test func missingFileSaysSo() {
        #expect(throws: JitError.untrusted(path: "\(dir)/none", problem: .missing)) {
            try TrustedFiles.requireRootOwned("\(dir)/none", kind: .file)
        }
    }

    @Test func missingPAMServiceFileIsRefusedNotLeftToPAMsFallback() {
        #expect(throws: AuthError.serviceMissing(service: "jitexec-none")) {
            try Authentication.requireServiceFile("jitexec-none", directory: dir)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func pamServiceFileIsTheLowercasedNameAndMustBeTrusted() throws {
        // Linux-PAM reads /etc/pam.d/jitexec-itf for service "jitexec-itF".
        _ = file("jitexec-itf")
        try Authentication.requireServiceFile("jitexec-itF", directory: dir)
        let writable = file("jitexec-gw", mode: 0o666)
        #expect(throws: JitError.untrusted(path: writable, problem: .writableByOthers(mode: S_IFREG | 0o666))) {
            try Authentication.requireServiceFile("jitexec-gw", directory: dir)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func aTrustedDirectoryReadsItsFilesAndRefusesWhatATrustedFileCannotBe() throws {
        let ok = file("ok", contents: "text")
        let folder = try TrustedFiles.Directory(dir)
        #expect(try folder.read("ok") == Array("text".utf8))
        #expect(try folder.read("none") == nil)
        symlink(ok, "\(dir)/link")
        #expect(throws: JitError.untrusted(path: "\(dir)/link", problem: .symlink)) { try folder.read("link") }
        let writable = file("gw", mode: 0o664)
        #expect(throws: JitError.untrusted(path: writable, problem: .writableByOthers(mode: S_IFREG | 0o664))) {
            try folder.read("gw")
        }
        Glibc.link(ok, "\(dir)/hard")
        #expect(throws: JitError.untrusted(path: "\(dir)/hard", problem: .hardLinked(count: 2))) {
            try folder.read("hard")
        }
        // A FIFO is refused without waiting for a writer.
        mkfifo("\(dir)/fifo", 0o644)
        #expect(throws: JitError.untrusted(path: "\(dir)/fifo", problem: .notRegularFile)) { try folder.read("fifo") }
        for name in ["../ok", "", ".", ".."] {
            #expect(throws: JitError.self) { try folder.read(name) }
        }
        chmod(dir, 0o775)
        #expect(throws: JitError.untrusted(path: dir, problem: .writableByOthers(mode: S_IFDIR | 0o775))) {
            try TrustedFiles.Directory(dir)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func anEntryOfACheckedDirectoryIsCheckedWithoutTheWalkAbove() throws {
        let checked = try TrustedFiles.requireRootOwned(dir, kind: .directory)
        let ok = file("ok.db", mode: 0o600)
        #expect(try TrustedFiles.requireRootOwned("ok.db", inCheckedDirectory: checked, kind: .file) == ok)
        #expect(throws: JitError.untrusted(path: "\(dir)/none.db", problem: .missing)) {
            try TrustedFiles.requireRootOwned("none.db", inCheckedDirectory: checked, kind: .file)
        }
        symlink(ok, "\(dir)/link.db")
        #expect(throws: JitError.untrusted(path: "\(dir)/link.db", problem: .symlink)) {
            try TrustedFiles.requireRootOwned("link.db", inCheckedDirectory: checked, kind: .file)
        }
        let writable = file("gw.db", mode: 0o620)
        #expect(throws: JitError.untrusted(path: writable, problem: .writableByOthers(mode: S_IFREG | 0o620))) {
            try TrustedFiles.requireRootOwned("gw.db", inCheckedDirectory: checked, kind: .file)
        }
        chown(ok, 1, 0)
        #expect(throws: JitError.untrusted(path: ok, problem: .notOwnedByRoot(uid: 1))) {
            try TrustedFiles.requireRootOwned("ok.db", inCheckedDirectory: checked, kind: .file)
        }
        for name in ["../ok.db", "", ".."] {
            #expect(throws: JitError.self) {
                try TrustedFiles.requireRootOwned(name, inCheckedDirectory: checked, kind: .file)
            }
        }
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func pamRootOKIsRefusedInTheServiceFileAndInAFileItIncludes() throws {
        _ = file("inc-clean", contents: "auth required pam_unix.so\n")
        _ = file("inc-rootok", contents: "auth sufficient pam_rootok.so\n")
        _ = file("svc-clean", contents: "@include inc-clean\n@include inc-missing\n")
        _ = file("svc-own", contents: "auth sufficient pam_rootok.so\n@include inc-clean\n")
        _ = file("svc-included", contents: "@include inc-clean\n@include inc-rootok\n")
        try Authentication.requireServiceFile("svc-clean", directory: dir)
        for service in ["svc-own", "svc-included"] {
            #expect(
                throws: JitError.notPermitted(
                    "\(dir)/\(service) uses pam_rootok.so, which would pass every caller (jitexec runs PAM as root); remove it from jitexec's PAM service"
                )
            ) {
                try Authentication.requireServiceFile(service, directory: dir)
            }
        }
    }

    /// The policy folder is walked once and its files checked as its entries; whatever that check
    /// refuses is checked file by file again, so the result and every refusal are what they were.
    @Test(.enabled(if: geteuid() == 0, "needs root to create root-owned files"))
    func policyStampsCheckTheFolderOnceAndRefuseAsBefore() throws {
        let f = try WorkflowFixture()
        var ctx = TestContext(f, invoker: People.alice).context()
        ctx.paths = Paths(
            prefix: "/usr", sysconfdir: dir, localstatedir: dir, rundir: dir, pamService: "jitexec", version: "t")
        mkdir("\(dir)/jitexec", 0o755)
        mkdir("\(dir)/jitexec/policy.d", 0o755)
        #expect(throws: JitError.untrusted(path: ctx.paths.policyFile, problem: .missing)) {
            try CompiledPolicy.stamps(ctx)
        }
        for name in ["jitexec/policy.toml", "jitexec/policy.d/b.toml", "jitexec/policy.d/a.toml"] { _ = file(name) }
        _ = file("jitexec/policy.d/.hidden.toml")
        _ = file("jitexec/policy.d/notes.txt")
        let expected = [ctx.paths.policyFile, "\(ctx.paths.policyDir)/a.toml", "\(ctx.paths.policyDir)/b.toml"]
        #expect(try CompiledPolicy.stamps(ctx).map(\.path) == expected)
        // A sticky folder writable by all is refused as the files' own folder but accepted above
        // them, as it always was: the file-by-file check decides.
        chmod("\(dir)/jitexec", 0o1777)
        #expect(try CompiledPolicy.stamps(ctx).map(\.path) == expected)
        chmod("\(dir)/jitexec", 0o755)
        chmod("\(dir)/jitexec/policy.d/b.toml", 0o664)
        #expect(
            throws: JitError.untrusted(
                path: "\(ctx.paths.policyDir)/b.toml", problem: .writableByOthers(mode: S_IFREG | 0o664))
        ) {
            try CompiledPolicy.stamps(ctx)
        }
        // No policy.d: the policy file alone.
        for name in ["a.toml", "b.toml", ".hidden.toml", "notes.txt"] { unlink("\(ctx.paths.policyDir)/\(name)") }
        rmdir(ctx.paths.policyDir)
        #expect(try CompiledPolicy.stamps(ctx).map(\.path) == [ctx.paths.policyFile])
    }

    @Test func ancestorsListsEveryDirectoryAbove() {
        #expect(TrustedFiles.ancestors(of: "/etc/jitexec/policy.toml") == ["/", "/etc", "/etc/jitexec"])
        #expect(TrustedFiles.ancestors(of: "/x") == ["/"])
        #expect(TrustedFiles.ancestors(of: "/") == ["/"])
        #expect(TrustedFiles.ancestors(of: "") == ["/"])
        #expect(TrustedFiles.ancestors(of: "//") == ["/"])
        #expect(TrustedFiles.ancestors(of: "/a/") == ["/"])
        #expect(TrustedFiles.ancestors(of: "/a//b///") == ["/", "/a"])
        #expect(
            TrustedFiles.ancestors(of: "//usr///lib/x86_64/libc.so") == ["/", "/usr", "/usr/lib", "/usr/lib/x86_64"])
        #expect(
            TrustedFiles.ancestors(of: "/caf\u{e9}/r\u{e9}pertoire/f") == [
                "/", "/caf\u{e9}", "/caf\u{e9}/r\u{e9}pertoire",
            ])
    }

    @Test func messagesNameTheFix() {
        #expect(
            JitError.untrusted(path: "/p", problem: .writableByOthers(mode: 0o100664)).description
                == "refusing to run: /p is writable by group or others (mode 664); run 'chmod go-w' on it")
        #expect(JitError.notSetuidRoot(program: "jitexec").description.contains("setuid root"))
    }
}
