import JitexecBase
import Testing

@testable import JitexecCore

/// `jitexec -e`: the paths the policy sees and the editor that runs (`EditSession`).
@Suite struct EditSessionTests {
    @Test(arguments: [
        ("/etc/nginx/nginx.conf", "/", "/etc/nginx/nginx.conf"),
        ("nginx.conf", "/etc/nginx", "/etc/nginx/nginx.conf"),
        ("../hosts", "/etc/nginx", "/etc/hosts"),
        ("//etc/./nginx//../../etc/hosts", "/", "/etc/hosts"),
        ("/../../etc/hosts", "/", "/etc/hosts"),
    ])
    func pathsAreAbsoluteWithoutDotsBeforeThePolicySeesThem(_ given: String, _ cwd: String, _ canonical: String) throws
    {
        #expect(try EditSession.canonicalPath(UserText(given), cwd: cwd) == canonical)
    }

    @Test func pathsAreSplitOnTheByteSlashNotOnCharacters() throws {
        // "/\u{301}" is one Swift Character; the kernel and fnmatch see a "/" and then a name.
        #expect(try EditSession.canonicalPath(UserText("/etc/nginx/../\u{301}evil"), cwd: "/") == "/etc/\u{301}evil")
        #expect(try EditSession.canonicalPath(UserText("/etc/nginx//\u{301}x"), cwd: "/") == "/etc/nginx/\u{301}x")
        #expect(EditSession.components("/etc/\u{301}evil") == ["etc", "\u{301}evil"])
        #expect(EditSession.components("/etc/../x") == nil)
        #expect(EditSession.components("/etc//x") == nil)
        #expect(EditSession.components("etc/x") == nil)
    }

    @Test func theRootDirectoryAndEmptyNamesAreNotFiles() {
        #expect(throws: JitError.self) { try EditSession.canonicalPath(UserText("/.."), cwd: "/") }
        #expect(throws: JitError.self) { try EditSession.canonicalPath(UserText(""), cwd: "/") }
        #expect(throws: JitError.self) { try EditSession.canonicalPath(UserText("x"), cwd: nil) }
    }

    @Test func sudoEditorComesFirstThenVisualThenEditorSplitAtBlanks() throws {
        let env: [UserText] = ["EDITOR=/usr/bin/true", "VISUAL=vim -u\tNONE", "SUDO_EDITOR=/usr/bin/env -i"]
        #expect(try EditSession.editor(environment: env) == ["/usr/bin/env", "-i"])
        #expect(try EditSession.editor(environment: Array(env.prefix(2))) == ["vim", "-u", "NONE"])
        #expect(try EditSession.editor(environment: ["EDITOR=nano", "VISUAL="]) == ["nano"])
    }

    @Test(arguments: ["EDITOR=/usr/bin/vi -- /etc/shadow", "VISUAL=vi --", "SUDO_EDITOR=-- /etc/shadow"])
    func anEditorValueWithADoubleDashIsRefused(_ entry: String) {
        #expect(throws: JitError.self) { try EditSession.editor(environment: [UserText(entry), "PATH=/usr/bin"]) }
    }

    @Test func theEditorStartsThroughEnvAsTheCallerSoRootNeverLooksUpTheirPath() throws {
        let words = try EditSession.editor(environment: ["EDITOR=/root/secret/ed -x"])
        #expect(words == ["/root/secret/ed", "-x"], "taken as given; env, running as the caller, finds it or not")
    }
}

/// `-u #UID` and `-g #GID` share one reading of numeric ids: digits only, below (uid_t)-1.
@Suite struct NumericIDTests {
    @Test(arguments: ["#-1", "#4294967295", "#99999999999", "#", "#1e3", "# 4", "#+4", "4"])
    func malformedOrOverflowingIdsAreRefused(_ spec: String) {
        #expect(UserSpec.numericID(spec) == nil)
    }

    @Test func plainDecimalIdsAreRead() {
        #expect(UserSpec.numericID("#0") == 0)
        #expect(UserSpec.numericID("#4294967294") == 4_294_967_294)
    }
}
