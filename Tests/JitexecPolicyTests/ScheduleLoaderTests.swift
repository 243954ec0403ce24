import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

@Suite struct ScheduleLoaderTests {
    private func load(_ text: String) -> Result<[Shift], ScheduleProblem> {
        ScheduleLoader.load(text: text, path: "oncall.toml")
    }

    @Test func shiftsAsDateTimesOrStringsMayOverlap() throws {
        let shifts = try load(
            """
            [[shift]]
            user = "alice"
            from = 2026-11-30T08:00:00Z
            to = "2026-11-30T20:00:00Z"

            [[shift]]
            user = "bob"
            from = "2026-11-30T19:00:00+01:00"
            to = 2026-12-01T08:00:00Z
            """
        ).get()
        let eight = try #require(RFC3339.parse("2026-11-30T08:00:00Z"))
        #expect(
            shifts == [
                Shift(user: "alice", from: eight, to: eight + .seconds(12 * 3600)),
                Shift(user: "bob", from: eight + .seconds(10 * 3600), to: eight + .seconds(24 * 3600)),
            ])
        #expect(Shift.onShift(shifts, at: eight - .microseconds(1)) == [])
        #expect(Shift.onShift(shifts, at: eight) == ["alice"])
        #expect(Shift.onShift(shifts, at: eight + .seconds(11 * 3600)) == ["alice", "bob"])
        #expect(Shift.onShift(shifts, at: eight + .seconds(12 * 3600)) == ["bob"])
        #expect(try load("").get() == [])
    }

    @Test(arguments: [
        ("[[shift]]\nfrom = 2026-11-30T08:00:00Z\nto = 2026-11-30T09:00:00Z\n", "oncall.toml:1: a shift needs 'user'"),
        (
            "[[shift]]\nuser = \"a\"\nfrom = 2026-11-30T08:00:00\nto = 2026-11-30T09:00:00Z\n",
            "RFC 3339 times with a zone"
        ),
        ("[[shift]]\nuser = \"a\"\nfrom = \"tomorrow\"\nto = 2026-11-30T09:00:00Z\n", "RFC 3339 times with a zone"),
        ("[[shift]]\nuser = \"a\"\nfrom = 2026-11-30T09:00:00Z\nto = 2026-11-30T08:00:00Z\n", "ends before it starts"),
        ("\n[[shift]]\nuser = \"a\"\nwho = 1\n", "oncall.toml:2: unknown key 'who'"),
        ("users = [\"a\"]\n", "unknown key 'users'"),
        ("[[shift]\n", "TOML syntax error"),
        ("[[\u{e9}]]\n", "oncall.toml:1: TOML syntax error: a table header must start with a bare key"),
    ])
    func problemsAreOneLineWithTheirPlace(text: String, fragment: String) {
        guard case .failure(let problem) = load(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(problem.description.contains(fragment), "\(problem)")
        #expect(!problem.description.contains("\n"))
    }
}
