import Testing

@testable import JitexecAuth

#if canImport(Glibc)
    import Glibc
#endif

/// The terminal prompter over a real pseudo-terminal, the way a person at a terminal uses it.
/// Serialized: a prompt changes process-wide signal dispositions while it waits.
@Suite(.serialized) struct TerminalPrompterTests {
    /// A prompt running on its own thread against the slave side of `pty`.
    final class RunningPrompt: Sendable {
        let thread: TestThread
        let outcome = Slot<Result<[UInt8], AuthError>>()

        init(_ pty: PseudoTerminal, hidden: Bool = true) {
            let path = pty.slavePath
            let outcome = self.outcome
            thread = TestThread {
                let prompter = TerminalPrompter(path: path)
                outcome.value = Result { () throws(AuthError) -> [UInt8] in
                    hidden ? try prompter.promptHidden("Password: ") : try prompter.promptVisible("Name: ")
                }
            }
        }

        func finish() -> Result<[UInt8], AuthError>? {
            thread.join()
            return outcome.value
        }
    }

    @Test func hiddenPromptTurnsEchoOffWhileWaitingAndRestoresIt() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        var before = termios()
        tcgetattr(check, &before)
        #expect(echoIsOn(check) == true)

        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false }, "echo is off while the prompt waits")
        pty.type("hunter2\n")
        let result = prompt.finish()

        #expect(result == .success(Array("hunter2".utf8)))
        #expect(!pty.drain().contains("hunter2"), "the password was not echoed")
        var after = termios()
        tcgetattr(check, &after)
        #expect(after.c_lflag == before.c_lflag)
        #expect(echoIsOn(check) == true)
    }

    @Test func promptTextGoesToTheTerminal() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        let prompt = RunningPrompt(pty)
        var shown = ""
        #expect(
            waitUntil {
                shown += pty.drain()
                return shown.contains("Password: ")
            })
        pty.type("x\n")
        _ = prompt.finish()
    }

    @Test func visiblePromptEchoes() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let prompt = RunningPrompt(pty, hidden: false)
        var shown = ""
        #expect(
            waitUntil {
                shown += pty.drain()
                return shown.contains("Name: ")
            })
        pty.type("alice\n")
        #expect(prompt.finish() == .success(Array("alice".utf8)))
        shown += pty.drain()
        #expect(shown.contains("alice"))
    }

    @Test func endOfFileInterrupts() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        pty.type("\u{04}")  // Ctrl-D at the start of a line
        #expect(prompt.finish() == .failure(.interrupted))
        #expect(echoIsOn(check) == true)
    }

    @Test func hangupInterrupts() {
        let pty = PseudoTerminal()
        let check = pty.openSlave()
        defer { close(check) }
        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        pty.close()
        #expect(prompt.finish() == .failure(.interrupted))
    }

    @Test(arguments: PromptSignals.handled)
    func signalInterruptsAndEverythingIsRestored(signal: Int32) {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        var before = sigaction()
        sigaction(signal, nil, &before)

        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        // To the prompting thread only. Without the prompter's handler SIGINT, SIGTERM, SIGHUP
        // and SIGQUIT would kill the test process and SIGTSTP would stop it.
        pthread_kill(prompt.thread.id, signal)
        #expect(prompt.finish() == .failure(.interrupted))

        #expect(echoIsOn(check) == true)
        var after = sigaction()
        sigaction(signal, nil, &after)
        #expect(handlerAddress(after) == handlerAddress(before))
        #expect(after.sa_flags == before.sa_flags)
    }

    @Test func handlerRecordsTheSignalThatInterrupted() {
        let saved = PromptSignals.install()
        defer { saved.restore() }
        #expect(PromptSignals.caught == 0)
        PromptSignals.simulate(SIGTERM)
        #expect(PromptSignals.caught == SIGTERM)
    }

    @Test func overlongAnswerIsAnError() {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let check = pty.openSlave()
        defer { close(check) }
        let prompt = RunningPrompt(pty)
        #expect(waitUntil { echoIsOn(check) == false })
        pty.type(String(repeating: "q", count: maxAnswerBytes + 1) + "\n")
        #expect(prompt.finish() == .failure(.passwordTooLong))
        #expect(echoIsOn(check) == true)
    }

    @Test func noTerminalIsReportedAsSuch() {
        #expect(throws: AuthError.noTerminal) {
            try TerminalPrompter(path: "/nonexistent/tty").promptHidden("Password: ")
        }
        let pipe = makePipe()
        defer {
            close(pipe.read)
            close(pipe.write)
        }
        #expect(throws: AuthError.noTerminal) {
            try TerminalPrompter(fileDescriptor: pipe.read).promptHidden("Password: ")
        }
        #expect(TerminalPrompter(path: "/nonexistent/tty").fileDescriptor == nil)
    }

    @Test func sessionScopeOfATerminalIsItsDeviceAndSessionLeader() throws {
        let pty = PseudoTerminal()
        defer { pty.close() }
        let slave = pty.openSlave()
        defer { close(slave) }
        let leader = getsid(0)
        guard leader > 0, let leaderStart = startTime(ofProcess: leader) else {
            // The session leader is outside this pid namespace (getsid reports 0), as in some CI
            // containers: the scope is unknown, so nothing may be cached.
            #expect(SessionScope.current(ttyFD: slave) == nil)
            return
        }
        let scope = try #require(SessionScope.current(ttyFD: slave))
        #expect(scope.terminalDevice == UInt64(fileStatus(pty.slavePath)!.st_rdev))
        #expect(scope.processID == leader)
        #expect(scope.processStartTime == leaderStart)
    }
}

/// The handler of a `sigaction`, as a number to compare.
private func handlerAddress(_ action: sigaction) -> UInt {
    unsafeBitCast(action.__sigaction_handler.sa_handler, to: UInt.self)
}
