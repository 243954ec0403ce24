import JitexecSystem
import Testing

@testable import JitexecAuth

#if canImport(Glibc)
    import Glibc
#endif

/// `-S` and `-n` prompters over pipes.
@Suite struct StdinPrompterTests {
    /// A prompter reading `input` from a pipe (closed after writing) and writing to another.
    struct Piped {
        let input = makePipe()
        let output = makePipe()
        let prompter: StdinPrompter

        init(_ text: String) {
            prompter = StdinPrompter(input: input.read, output: output.write)
            _ = FileSystem.writeAll(input.write, Array(text.utf8))
            Glibc.close(input.write)
            _ = fcntl(output.read, F_SETFL, O_NONBLOCK)
        }

        /// Whatever is still unread on the input pipe.
        func rest() -> String { String(decoding: FileSystem.readAll(input.read, limit: 1 << 20) ?? [], as: UTF8.self) }

        /// What the prompter wrote.
        func shown() -> String {
            var bytes = [UInt8](repeating: 0, count: 4096)
            let n = bytes.withUnsafeMutableBytes { read(output.read, $0.baseAddress, $0.count) }
            return String(decoding: bytes.prefix(max(n, 0)), as: UTF8.self)
        }

        func close() {
            Glibc.close(input.read)
            Glibc.close(output.read)
            Glibc.close(output.write)
        }
    }

    @Test func readsOneLineAndLeavesTheRestForTheCommand() throws {
        let piped = Piped("pw\nfor the command\n")
        defer { piped.close() }
        #expect(try piped.prompter.promptHidden("Password: ") == Array("pw".utf8))
        #expect(piped.shown() == "Password: ")
        #expect(piped.rest() == "for the command\n")
    }

    @Test func lastLineWithoutNewlineCounts() throws {
        let piped = Piped("pw")
        defer { piped.close() }
        #expect(try piped.prompter.promptHidden("Password: ") == Array("pw".utf8))
    }

    @Test func emptyLineIsAnEmptyAnswer() throws {
        let piped = Piped("\n")
        defer { piped.close() }
        #expect(try piped.prompter.promptHidden("Password: ") == [])
    }

    @Test func endOfFileBeforeAnyByteInterrupts() {
        let piped = Piped("")
        defer { piped.close() }
        #expect(throws: AuthError.interrupted) { try piped.prompter.promptHidden("Password: ") }
    }

    @Test func overlongLineIsAnError() {
        let piped = Piped(String(repeating: "a", count: maxAnswerBytes + 1) + "\n")
        defer { piped.close() }
        #expect(throws: AuthError.passwordTooLong) { try piped.prompter.promptHidden("Password: ") }
    }

    @Test func overlongLineIsDroppedSoTheNextLineIsTheNextTry() throws {
        let piped = Piped(String(repeating: "a", count: 5000) + "\nnext\n")
        defer { piped.close() }
        #expect(throws: AuthError.passwordTooLong) { try piped.prompter.promptHidden("Password: ") }
        #expect(try piped.prompter.promptHidden("Password: ") == Array("next".utf8))
    }

    @Test func lineOfTheMaximumLengthIsAccepted() throws {
        let exact = String(repeating: "a", count: maxAnswerBytes)
        let piped = Piped(exact + "\n")
        defer { piped.close() }
        #expect(try piped.prompter.promptHidden("Password: ") == Array(exact.utf8))
    }

    @Test func messagesGoToTheOutput() {
        let piped = Piped("")
        defer { piped.close() }
        piped.prompter.error("Sorry, try again.")
        #expect(piped.shown() == "Sorry, try again.\n")
    }

    @Test func nonInteractivePrompterNeverPrompts() {
        let sink = makePipe()
        defer {
            close(sink.read)
            close(sink.write)
        }
        let prompter = NonInteractivePrompter(output: sink.write)
        #expect(throws: AuthError.passwordRequired) { try prompter.promptHidden("Password: ") }
        #expect(throws: AuthError.passwordRequired) { try prompter.promptVisible("Login: ") }
        prompter.info("note")
        _ = fcntl(sink.read, F_SETFL, O_NONBLOCK)
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = bytes.withUnsafeMutableBytes { read(sink.read, $0.baseAddress, $0.count) }
        #expect(String(decoding: bytes.prefix(max(n, 0)), as: UTF8.self) == "note\n")
    }
}

/// Every error explains itself in one line and names a next step where there is one.
@Suite struct AuthErrorTests {
    @Test(arguments: [
        (AuthError.wrongPassword(tries: 3), "3 incorrect password attempts"),
        (.wrongPassword(tries: 1), "1 incorrect password attempt;"),
        (.interrupted, "authentication cancelled; nothing was run"),
        (.passwordRequired, "a password is required; run without -n, or run 'jitexec -v' first"),
        (.noTerminal, "no terminal to ask for a password; use -S to read it from standard input"),
        (.passwordTooLong, "at most 511 bytes"),
        (.accountUnavailable("account\u{1b}[2J expired"), "account\\x1b[2J expired"),
        (.serviceMissing(service: "jitexec"), "/etc/pam.d/jitexec does not exist"),
        (.serviceMissing(service: "Jitexec-IT"), "copy jitexec's pam/jitexec to /etc/pam.d/jitexec-it"),
        (.refused(service: "jitexec", message: "Authentication failure"), "nothing was run; check /etc/pam.d/jitexec"),
        (.pam(code: 4, message: "System error"), "System error"),
    ])
    func descriptionIsOneClearLine(error: AuthError, expected: String) {
        #expect(error.description.contains(expected))
        #expect(!error.description.contains("\n"))
        #expect(error.exitStatus == 1)
    }
}

/// `-S` when standard input is a terminal: the password is read with echo off, like `sudo -S`.
/// Serialized: a prompt changes process-wide signal dispositions while it waits.
@Suite(.serialized) struct StdinPrompterOnATerminalTests {
    /// A `-S` prompt on its own thread, reading the slave side of `pty` as its standard input
    /// and writing its prompt to a pipe (standard error).
    final class RunningPrompt: Sendable {
        let thread: TestThread
        let outcome = Slot<Result<[UInt8], AuthError>>()
        let output = makePipe()

        init(_ pty: PseudoTerminal, hidden: Bool = true) {
            let path = pty.slavePath
            let outcome = self.outcome
            let write = output.write
            thread = TestThread {
                let input = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
                defer { close(input) }
                let prompter = StdinPrompter(input: input, output: write)
                outcome.value = Result { () throws(AuthError) -> [UInt8] in
                    hidden ? try prompter.promptHidden("Password: ") : try prompter.promptVisible("Name: ")
                }
            }
        }

        /// Waits for the prompt to end; returns its outcome and what it wrote to standard error.
        func finish() -> (Result<[UInt8], AuthError>?, String) {
            thread.join()
            close(output.write)
            let shown = String(decoding: FileSystem.readAll(output.read, limit: 4096) ?? [], as: UTF8.self)
            close(output.read)
            return (outcome.value, shown)
        }
    }

    @Test func hiddenPromptTurnsEchoOffWhileReadingAndRestoresIt() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        var before = termios()
        tcgetattr(check, &before)

        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false }, "echo is off while the prompt waits")
        pty.type("hunter2\nrest\n")
        let (result, shown) = prompt.finish()

        #expect(result == .success(Array("hunter2".utf8)))
        #expect(shown == "Password: \n", "the prompt line is ended, since the newline was not echoed")
        #expect(!pty.drain().contains("hunter2"), "the password was not echoed")
        var after = termios()
        tcgetattr(check, &after)
        #expect(after.c_lflag == before.c_lflag)
        #expect(echoIsOn(check) == true)
        var rest: [UInt8] = []
        #expect(readAnswerLine(check, into: &rest) == .newline)
        #expect(rest == Array("rest".utf8), "what follows the password stays for the command")
    }

    @Test func visiblePromptKeepsEcho() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        let prompt = RunningPrompt(pty, hidden: false)
        usleep(100_000)
        #expect(echoIsOn(check) == true)
        pty.type("alice\n")
        #expect(prompt.finish().0 == .success(Array("alice".utf8)))
        #expect(pty.drain().contains("alice"))
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGTSTP])
    func signalInterruptsAndEchoComesBack(signal: Int32) {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        pthread_kill(prompt.thread.id, signal)
        #expect(prompt.finish().0 == .failure(.interrupted))
        #expect(echoIsOn(check) == true)
    }

    @Test func endOfFileAndOverlongAnswersRestoreEcho() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        let eof = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        pty.type("\u{04}")
        #expect(eof.finish().0 == .failure(.interrupted))
        #expect(echoIsOn(check) == true)

        let long = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        pty.type(String(repeating: "q", count: maxAnswerBytes + 1) + "\n")
        #expect(long.finish().0 == .failure(.passwordTooLong))
        #expect(echoIsOn(check) == true)
    }
}
