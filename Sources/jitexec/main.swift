import CJitexecStartup
import Glibc
import JitexecBase
import JitexecCore

// jitexec: harden, hand the raw argv and environment bytes to the core, exit with its status.
// The caller's environment was set aside before the runtime started (CJitexecStartup); the
// process itself runs with an empty one.
//
// Loops, not closures: top-level code runs on the main actor, and a closure here would carry a
// run-time check of that, which links Swift's concurrency runtime and libdispatch (whose
// constructor runs at every start) into the setuid binary. make bench and the package test
// refuse a jitexec that carries libdispatch.
let userUmask = umask(0o077)
var arguments: [UserText] = []
for i in 1..<Int(CommandLine.argc) { arguments.append(UserText(cString: CommandLine.unsafeArgv[i]!)) }
var inheritedEnvironment: [UserText] = []
for i in 0..<jitexec_inherited_environment_count() {
    inheritedEnvironment.append(UserText(cString: jitexec_inherited_environment_entry(i)!))
}
jitexec_exit(JitexecMain.main(arguments: arguments, environment: inheritedEnvironment, umask: UInt32(userUmask)))
