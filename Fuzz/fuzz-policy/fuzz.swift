import FuzzDriver
import JitexecBase
import JitexecPolicy
import JitexecPolicyTOML

/// libFuzzer target: any bytes as a policy file. Loading must never crash, every diagnostic must
/// carry a line inside the file, and a loaded policy must survive decisions on odd input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (policy, diagnostics) = PolicyLoader.load(
        [PolicySource(path: "fuzz.toml", text: text)], system: FuzzSystem(), isolated: false)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
    for d in diagnostics where d.location.line < 1 || d.location.line > max(lines, 1) {
        fatalError("diagnostic outside the file: \(d)")
    }
    if let policy {
        _ = policy.decide(
            subject: Subject(user: "alice", groups: ["dev"]), target: Subject(user: "root", groups: ["root"]),
            host: "h",
            path: "/usr/bin/true", args: [UserText(bytes: [0xff, 0x2a]), ""])
    }
    return 0
}

/// A fixed, side-effect-free view of the system.
struct FuzzSystem: SystemLookup {
    func canonicalPath(_ path: String) -> String? { path.hasPrefix("/") ? path : nil }
    func fileKind(_ path: String) -> FileKind { path.hasPrefix("/usr/bin/") ? .regularExecutable : .missing }
    func userExists(_ name: String) -> Bool { ["alice", "bob", "root"].contains(name) }
    func groupExists(_ name: String) -> Bool { ["dev", "leads"].contains(name) }
    func groupMembers(_ name: String) -> [String]? { name == "leads" ? ["bob"] : name == "dev" ? ["alice"] : nil }
    func groupsOfUser(_ name: String) -> [String] { name == "alice" ? ["dev"] : name == "bob" ? ["leads"] : [] }
}

@_cdecl("fuzz_policy_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzPolicy(data, size) }
}
