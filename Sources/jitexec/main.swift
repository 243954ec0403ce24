import CJitexecStartup
import Glibc
import JitexecBase
import JitexecCore

// jitexec: harden, hand the raw argv and environment bytes to the core, exit with its status.
// The caller's environment was set aside before the runtime started (CJitexecStartup); the
// process itself runs with an empty one.
let userUmask = umask(0o077)
let arguments = (1..<Int(CommandLine.argc)).map { UserText(cString: CommandLine.unsafeArgv[$0]!) }
let inheritedEnvironment = (0..<jitexec_inherited_environment_count()).map {
    UserText(cString: jitexec_inherited_environment_entry($0)!)
}
exit(JitexecMain.main(arguments: arguments, environment: inheritedEnvironment, umask: UInt32(userUmask)))
