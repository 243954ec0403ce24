import Glibc
import JitexecBase
import JitexecCore

// jitexec: harden, hand the raw argv bytes to the core, exit with its status. Nothing else here.
umask(0o077)
let arguments = (1..<Int(CommandLine.argc)).map { UserText(cString: CommandLine.unsafeArgv[$0]!) }
exit(JitexecMain.main(arguments: arguments))
