import CJitexecSystem
import Glibc
import JitexecBase
import JitexecSystem
import Testing

@testable import JitexecExec

/// The signal forwarding rules and the status and error mapping, without running anything.
@Suite struct SignalRoutingTests {
    static let command: pid_t = 5000
    static let supervisor: pid_t = 4000
    static let callerGroup: pid_t = 3000
    static let kernel: Int32 = 0x80  // SI_KERNEL
    static let user: Int32 = 0  // SI_USER

    static let noPTY = SignalRouting(
        usePTY: false, commandPID: command, commandGroup: callerGroup, selfPID: supervisor)
    static let withPTY = SignalRouting(
        usePTY: true, commandPID: command, commandGroup: command, selfPID: supervisor)

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGTSTP, SIGCONT, SIGWINCH])
    func signalSentByAnotherProcessIsForwardedWithoutPTY(signal: Int32) {
        #expect(Self.noPTY.action(signal: signal, code: Self.user, sender: 77, senderGroup: 77) == .forward(signal))
    }

    @Test(arguments: [SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP])
    func terminalSignalIsNotDoubledWithoutPTY(signal: Int32) {
        // Ctrl-C reaches the whole foreground group, the command included: no second copy.
        #expect(Self.noPTY.action(signal: signal, code: Self.kernel, sender: 0, senderGroup: nil) == .ignore)
    }

    @Test func terminalSignalIsForwardedWithPTY() {
        // With a pty the command is in its own session: only we received the caller's Ctrl-C.
        #expect(Self.withPTY.action(signal: SIGINT, code: Self.kernel, sender: 0, senderGroup: nil) == .forward(SIGINT))
        #expect(Self.withPTY.action(signal: SIGHUP, code: Self.kernel, sender: 0, senderGroup: nil) == .forward(SIGHUP))
    }

    @Test func commandSignallingItsOwnGroupIsNotEchoedBack() {
        #expect(
            Self.noPTY.action(signal: SIGTERM, code: Self.user, sender: Self.command, senderGroup: Self.callerGroup)
                == .ignore)
        #expect(
            Self.withPTY.action(signal: SIGTERM, code: Self.user, sender: 5001, senderGroup: Self.command) == .ignore)
    }

    @Test func signalTheSupervisorSendsItselfIsForwarded() {
        #expect(
            Self.noPTY.action(
                signal: SIGTERM, code: Self.user, sender: Self.supervisor, senderGroup: Self.callerGroup)
                == .forward(SIGTERM))
    }

    @Test func childStatusChangeOnlyTriggersWaitpid() {
        #expect(Self.noPTY.action(signal: SIGCHLD, code: 1, sender: Self.command, senderGroup: nil) == .reap)
        #expect(Self.withPTY.action(signal: SIGCHLD, code: 1, sender: Self.command, senderGroup: nil) == .reap)
    }

    @Test func windowChangeResizesThePTYInsteadOfForwarding() {
        #expect(Self.withPTY.action(signal: SIGWINCH, code: Self.user, sender: 77, senderGroup: 77) == .resize)
        #expect(Self.withPTY.action(signal: SIGWINCH, code: Self.kernel, sender: 0, senderGroup: nil) == .resize)
    }

    @Test func suspendIsForwardedAsStopToASessionLeader() {
        #expect(Self.withPTY.action(signal: SIGTSTP, code: Self.user, sender: 77, senderGroup: 77) == .forward(SIGSTOP))
        #expect(Self.noPTY.action(signal: SIGTSTP, code: Self.user, sender: 77, senderGroup: 77) == .forward(SIGTSTP))
    }
}

@Suite struct StatusMappingTests {
    @Test func waitStatusDecodesToShellStatus() throws {
        let exited = try #require(ExitOutcome(waitStatus: 3 << 8, duration: .zero))
        #expect(exited.termination == .exited(3) && exited.shellStatus == 3)
        let killed = try #require(ExitOutcome(waitStatus: SIGKILL, duration: .zero))
        #expect(killed.termination == .signaled(9) && killed.shellStatus == 137)
        let dumped = try #require(ExitOutcome(waitStatus: SIGSEGV | 0x80, duration: .zero))
        #expect(dumped.termination == .signaled(SIGSEGV) && dumped.shellStatus == 139)
        #expect(ExitOutcome(waitStatus: SIGTSTP << 8 | 0x7f, duration: .zero) == nil)  // stopped
        #expect(ExitOutcome(waitStatus: 0xffff, duration: .zero) == nil)  // continued
    }

    static let spec = ExecSpec(
        path: "/usr/bin/x", argv: ["x"], environment: [],
        identity: Account(
            name: "daemon", uid: 1, gid: 1, home: "/", shell: "/bin/sh", groups: ["daemon"], groupIDs: [1]),
        umask: 0o022, cwd: "/srv")

    /// (child step, errno, expected exit status)
    static let failures: [(UInt32, Int32, Int32)] = [
        (JX_STEP_EXEC.rawValue, ENOENT, 127), (JX_STEP_EXEC.rawValue, ENOTDIR, 127),
        (JX_STEP_EXEC.rawValue, EACCES, 126), (JX_STEP_EXEC.rawValue, ENOEXEC, 126),
        (JX_STEP_EXEC.rawValue, E2BIG, 126), (JX_STEP_CHDIR.rawValue, EACCES, 1),
        (JX_STEP_SETUID.rawValue, EPERM, 1), (JX_STEP_VERIFY.rawValue, 0, 1),
        (JX_STEP_CLOSE_FDS.rawValue, EBADF, 1),
    ]

    @Test(arguments: failures)
    func childFailureMapsToExitStatus(step: UInt32, code: Int32, status: Int32) {
        let failure = jx_child_failure(step: Int32(step), error: code)
        let error = ExecError(failure: failure, spec: Self.spec)
        #expect(error.exitStatus == status)
        #expect(!error.description.contains("\n"))
        #expect(!error.description.isEmpty)
    }

    @Test func failureDescriptionsNameWhatFailed() {
        let notFound = ExecError(
            failure: jx_child_failure(step: Int32(JX_STEP_EXEC.rawValue), error: ENOENT), spec: Self.spec)
        #expect(notFound == .notFound(path: "/usr/bin/x"))
        let cwd = ExecError(
            failure: jx_child_failure(step: Int32(JX_STEP_CHDIR.rawValue), error: EACCES), spec: Self.spec)
        #expect(cwd == .workingDirectory(path: "/srv", user: "daemon", errno: EACCES))
        #expect(cwd.description.contains("/srv") && cwd.description.contains("daemon"))
        let verify = ExecError(
            failure: jx_child_failure(step: Int32(JX_STEP_VERIFY.rawValue), error: 0), spec: Self.spec)
        #expect(verify.description.contains("irreversible"))
    }

    @Test func specThatExecveCannotCarryIsRefused() {
        var spec = Self.spec
        spec.argv = []
        #expect(throws: ExecError.self) { try spec.validate() }
        spec.argv = [UserText(bytes: [0x61, 0, 0x62])]
        #expect(throws: ExecError.self) { try spec.validate() }
        spec = Self.spec
        spec.path = "relative/x"
        #expect(throws: ExecError.self) { try spec.validate() }
        spec = Self.spec
        spec.environment = ["NOEQUALS"]
        #expect(throws: ExecError.self) { try spec.validate() }
        #expect(throws: Never.self) { try Self.spec.validate() }
    }
}
