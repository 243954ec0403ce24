import JitexecBase
import JitexecPolicy
import Testing

@testable import JitexecCore

/// The compiled policy jitexec reads on every run (`CompiledPolicy`, written and read by hand
/// through `PolicyCoding`): what jitctl writes reads back whole, and another format is not read.
@Suite struct CompiledPolicyTests {
    func readBack(_ compiled: CompiledPolicy) throws -> CompiledPolicy {
        try CompiledPolicy(
            json: try JSONFields(try JSONReader.parse(Array((compiled.json.canonical + "\n").utf8)[...])))
    }

    static let stamp = CompiledPolicy.SourceStamp(
        path: "/etc/jitexec/policy.toml", device: UInt64.max - 3, inode: 1 << 63, size: 512,
        mtime: 1_795_919_401_123_456_789, ctime: 1_795_919_401_123_456_790)

    @Test func everyFieldReadsBack() throws {
        let policy = try Policies.load(Policies.standard)
        let error = Diagnostic.error(SourceLocation(file: "/etc/jitexec/policy.d/x.toml", line: 7), "bad \"key\"")
        let compiled = CompiledPolicy(
            version: "0.1.0", compiledAt: 1_795_919_401, sources: [Self.stamp, Self.stamp], policy: policy,
            errors: [error], schedule: Self.stamp, lastGood: policy)
        let back = try readBack(compiled)
        #expect(back.format == CompiledPolicy.format && back.version == "0.1.0" && back.compiledAt == 1_795_919_401)
        #expect(back.sources == [Self.stamp, Self.stamp])
        #expect(back.policy == policy && back.lastGood == policy)
        #expect(back.errors == [error])
        #expect(back.schedule == Self.stamp)
        let empty = try readBack(
            CompiledPolicy(version: "v", compiledAt: 0, sources: [], policy: nil, errors: [error]))
        #expect(empty.policy == nil && empty.lastGood == nil && empty.schedule == nil)
    }

    @Test func anotherFormatIsNotRead() throws {
        guard
            case .object(var top) = CompiledPolicy(version: "v", compiledAt: 0, sources: [], policy: nil, errors: [])
                .json
        else { throw TestFailure("not an object") }
        top["format"] = .int(Int64(CompiledPolicy.format - 1))
        #expect(throws: JSONReader.Failure.self) {
            try CompiledPolicy(
                json: try JSONFields(try JSONReader.parse(Array(JSONValue.object(top).canonical.utf8)[...])))
        }
    }
}
