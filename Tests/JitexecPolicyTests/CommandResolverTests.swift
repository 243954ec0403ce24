import Glibc
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

@Suite struct CommandResolverTests {
    let system = FakeSystem()

    @Test(arguments: [
        ("systemctl", Settings.defaultSecurePath, CommandResolver.Resolution.found("/usr/bin/systemctl")),
        ("deploy", Settings.defaultSecurePath, .found("/opt/deploy/bin/deploy")),
        ("tool", Settings.defaultSecurePath, .found("/usr/bin/tool")),
        ("only-here", Settings.defaultSecurePath, .notExecutable("/usr/local/bin/only-here")),
        ("subdir", ["/usr/bin"], .notExecutable("/usr/bin/subdir")),
        ("nope", Settings.defaultSecurePath, .notFound),
        ("hidden", ["relbin", "", "/usr/bin"], .notFound),
        ("x", [".", "./"], .notFound),
        ("ls", ["", "relbin", "/usr/bin/"], .found("/usr/bin/ls")),
        ("ls", [], .notFound),
        ("", Settings.defaultSecurePath, .notFound),
        ("/bin/true", [], .found("/usr/bin/true")),
        ("relbin/hidden", [], .found("/home/alice/relbin/hidden")),
        ("./x", [], .found("/home/alice/x")),
        ("/etc/passwd", Settings.defaultSecurePath, .notExecutable("/etc/passwd")),
        ("/usr/bin", [], .notExecutable("/usr/bin")),
        ("/usr/bin/nope", Settings.defaultSecurePath, .notFound),
    ])
    func resolvesLikeJitexecRuns(name: String, securePath: [String], expected: CommandResolver.Resolution) {
        #expect(CommandResolver.resolve(name, securePath: securePath, system: system) == expected)
    }
}

/// LiveSystem on files this test creates in a private temporary directory (never /etc).
@Suite struct LiveSystemTests {
    @Test func canonicalPathAndFileKindUseTheRealFilesystem() throws {
        var template = Array("/tmp/jitexec-policy-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(made != nil)
        let dir = String(cString: made!)
        defer {
            for name in ["run", "data", "link"] { unlink(dir + "/" + name) }
            rmdir(dir + "/sub")
            rmdir(dir)
        }
        for (name, mode) in [("run", 0o755), ("data", 0o644)] {
            let fd = open(dir + "/" + name, O_CREAT | O_WRONLY | O_EXCL, mode_t(mode))
            try #require(fd >= 0)
            close(fd)
            chmod(dir + "/" + name, mode_t(mode))
        }
        mkdir(dir + "/sub", 0o755)
        symlink(dir + "/run", dir + "/link")

        let live = LiveSystem()
        let real = try #require(live.canonicalPath(dir))
        #expect(live.canonicalPath(dir + "/sub/../link") == real + "/run")
        #expect(live.canonicalPath(dir + "/missing") == nil)
        #expect(live.fileKind(dir + "/run") == .regularExecutable)
        #expect(live.fileKind(dir + "/link") == .regularExecutable)
        #expect(live.fileKind(dir + "/data") == .regularNotExecutable)
        #expect(live.fileKind(dir + "/sub") == .directory)
        #expect(live.fileKind(dir + "/missing") == .missing)
        #expect(CommandResolver.resolve("link", securePath: ["relative", dir], system: live) == .found(real + "/run"))
        #expect(CommandResolver.resolve("data", securePath: [dir], system: live) == .notExecutable(real + "/data"))
    }
}
