import Glibc
import JitexecBase
import JitexecCore

// jitexec: harden, hand the raw argv and environment bytes to the core, exit with its status.
let userUmask = umask(0o077)
let arguments = (1..<Int(CommandLine.argc)).map { UserText(cString: CommandLine.unsafeArgv[$0]!) }
var inheritedEnvironment: [UserText] = []
var entry = environ
while let p = entry.pointee {
    inheritedEnvironment.append(UserText(cString: p))
    entry += 1
}
exit(JitexecMain.main(arguments: arguments, environment: inheritedEnvironment, umask: UInt32(userUmask)))
