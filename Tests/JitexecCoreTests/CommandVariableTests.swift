import Testing

@testable import JitexecCore

@Suite struct CommandVariableTests {
    @Test func shortCommandLineIsKeptWhole() {
        let shown = "/usr/bin/printf %s \\xff"
        #expect(ExecuteCommand.commandVariable(shown) == shown)
        let limit = String(repeating: "a", count: ExecuteCommand.maxCommandVariable)
        #expect(ExecuteCommand.commandVariable(limit) == limit)
    }

    /// A 1 MiB command line must still start: the variable stays far below the kernel's 128 KiB
    /// per string, and says that it was cut.
    @Test(arguments: ["a", "é", "\\xff"])
    func longCommandLineIsCutAndMarked(unit: String) {
        let shown = "/usr/bin/printf " + String(repeating: unit, count: 1 << 20)
        let value = ExecuteCommand.commandVariable(shown)
        #expect(value.utf8.count <= ExecuteCommand.maxCommandVariable)
        #expect(value.hasSuffix(" ... (cut, \(shown.utf8.count) bytes in all)"))
        #expect(shown.hasPrefix(String(value.dropLast(" ... (cut, \(shown.utf8.count) bytes in all)".count))))
    }
}
