import CPAM
import Testing

@testable import JitexecAuth

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary PAM configuration directory for `pam_start_confdir`, with a password checker
/// script for pam_exec that accepts only the contents of `expected` and logs what it saw.
struct PAMFixture {
    let directory = TemporaryDirectory()
    var confdir: String { directory.path + "/pam.d" }
    var checker: String { directory.path + "/check.sh" }
    /// One line per check: the password length, the PAM_RUSER and PAM_TTY pam_exec exported.
    var seenLog: String { directory.path + "/seen" }

    init(expected: String = "secret") {
        mkdir(directory.path + "/pam.d", 0o700)
        directory.write("expected", expected)
        let dir = directory.path
        directory.write(
            "check.sh",
            """
            #!/bin/sh
            pw=$(tr -d '\\000')
            printf '%s %s %s\\n' "${#pw}" "$PAM_RUSER" "$PAM_TTY" >> '\(dir)/seen'
            [ "$pw" = "$(cat '\(dir)/expected')" ]

            """, mode: 0o755)
        // The Debian common-auth shape: pam_exec's failure (PAM_SYSTEM_ERR) becomes pam_deny's
        // PAM_AUTH_ERR, the code a wrong password gives with pam_unix.
        service(
            "good",
            """
            auth [success=1 default=ignore] pam_exec.so expose_authtok quiet \(checker)
            auth requisite pam_deny.so
            auth required pam_permit.so
            account required pam_permit.so
            session required pam_permit.so
            password required pam_permit.so
            """)
    }

    func service(_ name: String, _ text: String) {
        directory.write("pam.d/" + name, text + "\n")
    }

    func session(_ prompter: any Prompter, service: String = "good", tty: String = "/dev/pts/7")
        throws(AuthError) -> PAMSession
    {
        try PAMSession(
            service: service, user: "nobody", requestingUser: "alice", tty: tty, prompter: prompter,
            confdir: confdir)
    }

    /// Establishes the credentials, opens the session and closes both, as a run does.
    func openAndClose(_ session: PAMSession) throws {
        try session.establishCredentials()
        try session.openSession()
        try session.closeSession()
    }

    /// The lines the checker logged.
    var seen: [String] {
        guard let bytes = readFile(seenLog) else { return [] }
        return bytes.split(separator: 0x0a).map { String(decoding: $0, as: UTF8.self) }
    }

    func remove() { directory.remove() }
}

@Suite struct PAMAuthenticationTests {
    @Test func rightPasswordAuthenticates() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let prompter = ScriptedPrompter(answers: "secret")
        try pam.session(prompter).authenticate()
        #expect(prompter.prompts == ["Password: "])
        #expect(prompter.errors.isEmpty)
    }

    @Test func requestingUserAndTerminalReachTheModules() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        try pam.session(ScriptedPrompter(answers: "secret"), tty: "/dev/pts/7").authenticate()
        #expect(pam.seen == ["6 alice /dev/pts/7"])
    }

    @Test func wrongPasswordThreeTimesFailsAfterTwoApologies() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let prompter = ScriptedPrompter(answers: "one", "two", "three", "secret")
        #expect(throws: AuthError.wrongPassword(tries: 3)) { try pam.session(prompter).authenticate() }
        #expect(prompter.prompts.count == 3)
        #expect(prompter.errors == ["Sorry, try again.", "Sorry, try again."])
    }

    @Test func rightPasswordOnTheSecondTrySucceeds() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let prompter = ScriptedPrompter(answers: "wrong", "secret")
        try pam.session(prompter).authenticate()
        #expect(prompter.errors == ["Sorry, try again."])
    }

    @Test func interruptedPromptStopsAfterOneAttempt() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        // The stack ignores pam_exec's conversation error and pam_deny answers PAM_AUTH_ERR:
        // only the recorded interruption tells it apart from a wrong password.
        let prompter = ScriptedPrompter([.fail(.interrupted), .answer(Array("secret".utf8))])
        #expect(throws: AuthError.interrupted) { try pam.session(prompter).authenticate() }
        #expect(prompter.prompts.count == 1)
        #expect(prompter.errors.isEmpty)
    }

    @Test func interruptionIsNeverASuccessEvenWhenTheStackSucceeds() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service(
            "lenient",
            """
            auth optional pam_exec.so expose_authtok quiet \(pam.checker)
            auth required pam_permit.so
            """)
        let prompter = ScriptedPrompter([.fail(.interrupted)])
        #expect(throws: AuthError.interrupted) { try pam.session(prompter, service: "lenient").authenticate() }
    }

    @Test func nonInteractiveRunNeedingAPasswordFails() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let sink = makePipe()
        defer {
            close(sink.read)
            close(sink.write)
        }
        #expect(throws: AuthError.passwordRequired) {
            try pam.session(NonInteractivePrompter(output: sink.write)).authenticate()
        }
        #expect(pam.seen.isEmpty)
    }

    @Test func overlongPasswordIsRefusedNotTruncated() throws {
        // The checker accepts the first 511 bytes: a truncated answer would authenticate.
        let pam = PAMFixture(expected: String(repeating: "a", count: maxAnswerBytes))
        defer { pam.remove() }
        let long = String(repeating: "a", count: Int(PAM_MAX_RESP_SIZE) + 88)
        let prompter = ScriptedPrompter(answers: long, long, long)
        #expect(throws: AuthError.wrongPassword(tries: 3)) { try pam.session(prompter).authenticate() }
        #expect(pam.seen.isEmpty)
        #expect(prompter.errors.filter { $0.contains("too long") }.count == 3)
    }

    @Test func interruptionAfterFailedTriesReportsThem() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        // The scripted prompter runs out as an interruption: the end of -S input, or Ctrl-C.
        let long = String(repeating: "a", count: maxAnswerBytes + 1)
        #expect(throws: AuthError.passwordTooLong) { try pam.session(ScriptedPrompter(answers: long)).authenticate() }
        #expect(throws: AuthError.wrongPassword(tries: 1)) {
            try pam.session(ScriptedPrompter(answers: "wrong")).authenticate()
        }
        #expect(throws: AuthError.wrongPassword(tries: 2)) {
            try pam.session(ScriptedPrompter(answers: long, "wrong")).authenticate()
        }
    }

    @Test func passwordOfTheMaximumLengthIsAccepted() throws {
        let exact = String(repeating: "b", count: maxAnswerBytes)
        let pam = PAMFixture(expected: exact)
        defer { pam.remove() }
        try pam.session(ScriptedPrompter(answers: exact)).authenticate()
        #expect(pam.seen.first?.hasPrefix("\(maxAnswerBytes) ") == true)
    }

    @Test func denyingServiceIsRefusedAtOnceNotCountedAsWrongPasswords() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service("deny", "auth required pam_deny.so")
        let prompter = ScriptedPrompter(answers: "secret")
        #expect(throws: AuthError.refused(service: "deny", message: "Authentication failure")) {
            try pam.session(prompter, service: "deny").authenticate()
        }
        #expect(prompter.prompts.isEmpty)
        #expect(prompter.errors.isEmpty, "no 'Sorry, try again.' when nobody was asked")
    }

    @Test func missingServiceWithoutOtherFails() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        #expect(throws: AuthError.serviceMissing(service: "nosuch")) {
            try pam.session(ScriptedPrompter(answers: "secret"), service: "nosuch").authenticate()
        }
    }

    @Test func missingServiceFallsBackToOtherAndOtherDecides() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service("other", "auth required pam_deny.so")
        let session = try pam.session(ScriptedPrompter(answers: "secret"), service: "nosuch")
        #expect(throws: AuthError.refused(service: "nosuch", message: "Authentication failure")) {
            try session.authenticate()
        }
    }

    @Test func systemErrorIsFatalAndNotRetried() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service("plain", "auth required pam_exec.so expose_authtok quiet \(pam.checker)")
        let prompter = ScriptedPrompter(answers: "wrong", "secret")
        #expect(throws: AuthError.pam(code: PAM_SYSTEM_ERR, message: "System error")) {
            try pam.session(prompter, service: "plain").authenticate()
        }
        #expect(prompter.prompts.count == 1)
    }

    @Test func maxTriesFromTheModulesEndsAtOnce() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service("maxtries", "auth required pam_debug.so auth=maxtries")
        let prompter = ScriptedPrompter(answers: "x")
        #expect(throws: AuthError.wrongPassword(tries: 1)) {
            try pam.session(prompter, service: "maxtries").authenticate()
        }
        #expect(prompter.errors.isEmpty)
    }

    @Test func moduleMessagesAreEscapedBeforeTheyReachTheTerminal() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let banner = pam.directory.write("banner", "\u{1b}]0;owned\u{07}\u{1b}[2JPassword for root: ")
        pam.service(
            "echo",
            """
            auth optional pam_echo.so file=\(banner)
            auth required pam_permit.so
            """)
        let prompter = ScriptedPrompter(answers: "unused")
        try pam.session(prompter, service: "echo").authenticate()
        #expect(prompter.infos == ["\\x1b]0;owned\\x07\\x1b[2JPassword for root: "])
    }

    @Test func conversationStateLivesUntilTheSessionEnds() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        weak var watched: ScriptedPrompter?
        var session: PAMSession?
        do {
            let prompter = ScriptedPrompter(answers: "secret")
            watched = prompter
            session = try pam.session(prompter)
        }
        #expect(watched != nil)
        try session?.authenticate()
        session = nil
        #expect(watched == nil)
    }
}

@Suite struct PAMAccountAndSessionTests {
    @Test func permittedAccountPasses() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        try pam.session(ScriptedPrompter([])).checkAccount()
    }

    @Test(arguments: ["pam_deny.so", "pam_debug.so acct=acct_expired", "pam_debug.so acct=perm_denied"])
    func refusedAccountIsUnavailable(module: String) throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service("acct", "account required \(module)")
        #expect {
            try pam.session(ScriptedPrompter([]), service: "acct").checkAccount()
        } throws: { error in
            guard case AuthError.accountUnavailable = error else { return false }
            return true
        }
    }

    @Test func expiredPasswordMustBeChanged() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service(
            "expired",
            """
            account required pam_debug.so acct=new_authtok_reqd
            password required pam_permit.so
            """)
        try pam.session(ScriptedPrompter([]), service: "expired").checkAccount()
        pam.service(
            "unchanged",
            """
            account required pam_debug.so acct=new_authtok_reqd
            password required pam_deny.so
            """)
        #expect {
            try pam.session(ScriptedPrompter([]), service: "unchanged").checkAccount()
        } throws: { error in
            guard case AuthError.accountUnavailable(let reason) = error else { return false }
            return reason.contains("expired")
        }
    }

    @Test func sessionOpensAndClosesAndFailuresAreReported() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        // pam_deny in the "good" auth stack would refuse setcred: use a plain stack.
        pam.service(
            "permit",
            """
            auth required pam_permit.so
            session required pam_permit.so
            """)
        try pam.openAndClose(pam.session(ScriptedPrompter([]), service: "permit"))
        pam.service("badsession", "session required pam_debug.so open_session=session_err")
        #expect(
            throws: AuthError.pam(
                code: PAM_SESSION_ERR, message: "Cannot make/remove an entry for the specified session")
        ) {
            try pam.session(ScriptedPrompter([]), service: "badsession").openSession()
        }
    }
}

/// `pam_end` closes PAM's modules, and jitexec ends right after: the modules stay mapped until the
/// process exits (`LoadedObjects.keepMapped`) instead of being unmapped in between.
@Suite struct PAMModulesStayMappedTests {
    /// Whether this process has a mapping of a file whose name ends in `name`.
    static func mapped(_ name: String) -> Bool {
        guard let maps = readFile("/proc/self/maps") else { return false }
        return String(decoding: maps, as: UTF8.self).split(separator: "\n").contains { $0.hasSuffix("/" + name) }
    }

    @Test func theModulesOfAnEndedTransactionAreStillMapped() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        // pam_warn is loaded by no other test of this process, nor pam_userdb and the library it
        // needs (Berkeley DB). Every module of the service is loaded by pam_start; none runs here
        // but the account phase.
        pam.service(
            "kept",
            """
            auth optional pam_userdb.so db=/nonexistent
            account required pam_permit.so
            session optional pam_warn.so
            """)
        try #require(!Self.mapped("pam_warn.so"), "pam_warn.so was loaded before the test")
        try #require(!Self.mapped("libdb-5.3.so"), "libdb-5.3.so was loaded before the test")
        do {
            let session = try pam.session(ScriptedPrompter([]), service: "kept")
            try session.checkAccount()
            withExtendedLifetime(session) { #expect(Self.mapped("pam_warn.so")) }
        }
        // The transaction has ended (pam_end ran, which would have unmapped pam_warn.so, and
        // pam_userdb.so with the library only it needed).
        #expect(Self.mapped("pam_warn.so"))
        #expect(Self.mapped("libdb-5.3.so"))
    }
}

@Suite struct PAMSessionUserTests {
    /// The account check is the invoking user's; the credentials and the session are the target's
    /// (sudo's order), so the session's modules see the target in PAM_USER.
    @Test func theSessionIsTheTargetsAfterTheInvokersAccountCheck() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        pam.service(
            "targeted",
            """
            auth required pam_permit.so
            account required pam_succeed_if.so quiet user = nobody
            session required pam_succeed_if.so quiet user = root
            """)
        let session = try pam.session(ScriptedPrompter([]), service: "targeted")
        try session.checkAccount()
        try session.switchUser(to: "root")
        try pam.openAndClose(session)
        // The control: without the switch the same session module refuses the invoking user.
        let unswitched = try pam.session(ScriptedPrompter([]), service: "targeted")
        try unswitched.checkAccount()
        #expect(throws: AuthError.self) { try unswitched.openSession() }
    }
}

@Suite struct PasswordPromptTests {
    @Test func theGenericPasswordPromptNamesTheProgramAndUser() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let prompter = ScriptedPrompter(answers: "secret")
        try PAMSession(
            service: "good", user: "nobody", requestingUser: "alice", tty: "/dev/pts/7", prompter: prompter,
            passwordPrompt: "[jitexec] password for nobody: ", confdir: pam.confdir
        ).authenticate()
        #expect(prompter.prompts == ["[jitexec] password for nobody: "])
    }

    @Test func anyOtherHiddenPromptIsShownAsTheModuleWroteIt() {
        let state = ConversationState(
            prompter: ScriptedPrompter(answers: "x"), passwordPrompt: "[jitexec] password for a: ")
        #expect(state.hiddenPrompt("Password: ") == "[jitexec] password for a: ")
        #expect(state.hiddenPrompt("Verification code: ") == "Verification code: ")
        #expect(ConversationState(prompter: ScriptedPrompter(answers: "x")).hiddenPrompt("Password: ") == "Password: ")
    }
}
