import Glibc
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// Only a crash of the parsing child is a verdict on the text: a child someone killed (the caller,
/// to make a valid policy count as invalid) is tried again and, failing that, "not checked".
@Suite struct IsolatedTOMLTests {
    @Test(arguments: [SIGABRT, SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP])
    func aCrashSignalIsASyntaxVerdict(signal: Int32) {
        #expect(IsolatedTOML.outcome(waitStatus: signal) == .crashed(signal: signal))
    }

    @Test(arguments: [SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGPIPE])
    func aKillIsNoVerdict(signal: Int32) {
        guard case .failed = IsolatedTOML.outcome(waitStatus: signal) else {
            Issue.record("signal \(signal) counted as a verdict")
            return
        }
    }

    @Test func aCleanExitIsSafe() {
        #expect(IsolatedTOML.outcome(waitStatus: 0) == .safe)
    }

    @Test func notCheckedTextIsFoundAmongTheDiagnostics() {
        let unchecked = Diagnostic.error(
            SourceLocation(file: "/etc/jitexec/policy.toml", line: 1), IsolatedTOML.notCheckedPrefix + "killed")
        let syntax = Diagnostic.error(SourceLocation(file: "/etc/jitexec/policy.toml", line: 3), "TOML syntax error: x")
        #expect(PolicyLoader.notChecked([syntax]) == nil)
        #expect(PolicyLoader.notChecked([syntax, unchecked]) == unchecked)
    }

    /// Text toml++ stops on (a failed assertion) crashes the child, not this process: the verdict
    /// the loaders report for text their own checks (`LineLocator.firstMalformed`) let through.
    @Test func textTheParserStopsOnCrashesTheChildOnly() {
        guard case .crashed = IsolatedTOML.probe("a=[}\n") else {
            Issue.record("the child did not crash on a=[}")
            return
        }
    }

    @Test func aValidPolicyParsedInTheChildIsSafe() {
        #expect(IsolatedTOML.probe("[settings]\ncredential_cache = \"5m\"\n") == .safe)
    }
}
