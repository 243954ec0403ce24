import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// One row of a matching table: pattern, path called, its arguments, expected answer.
struct MatchCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var path: String
    var args: [String]
    var matches: Bool
    var testDescription: String { "\(pattern) vs \(path) \(args) -> \(matches)" }

    init(_ pattern: String, _ path: String, _ args: [String], _ matches: Bool) {
        self.pattern = pattern
        self.path = path
        self.args = args
        self.matches = matches
    }
}

@Suite struct CommandPatternTests {
    static let cases: [MatchCase] = [
        // exact words
        MatchCase("/usr/bin/systemctl reload nginx", "/usr/bin/systemctl", ["reload", "nginx"], true),
        MatchCase("/usr/bin/systemctl reload nginx", "/usr/bin/systemctl", ["reload", "nginx2"], false),
        MatchCase("/usr/bin/systemctl reload nginx", "/usr/bin/systemctl", ["reload"], false),
        MatchCase("/usr/bin/systemctl reload nginx", "/usr/bin/systemctl", ["reload", "nginx", "x"], false),
        MatchCase("/usr/bin/systemctl reload nginx", "/usr/sbin/systemctl", ["reload", "nginx"], false),
        // * is one whole argument, never a joined string
        MatchCase("/usr/bin/systemctl restart *", "/usr/bin/systemctl", ["restart", "nginx"], true),
        MatchCase("/usr/bin/systemctl restart *", "/usr/bin/systemctl", ["restart", ""], true),
        MatchCase("/usr/bin/systemctl restart *", "/usr/bin/systemctl", ["restart", "a b; rm -rf /"], true),
        MatchCase("/usr/bin/systemctl restart *", "/usr/bin/systemctl", ["restart", "nginx", "sshd"], false),
        MatchCase("/usr/bin/systemctl restart *", "/usr/bin/systemctl", ["restart"], false),
        MatchCase("/usr/bin/cat /var/log/*", "/usr/bin/cat", ["/var/log/../../etc/shadow"], true),
        // ? and [...]
        MatchCase("/usr/bin/ls ?", "/usr/bin/ls", ["a"], true),
        MatchCase("/usr/bin/ls ?", "/usr/bin/ls", ["ab"], false),
        MatchCase("/usr/bin/ls [a-c]", "/usr/bin/ls", ["b"], true),
        MatchCase("/usr/bin/ls [a-c]", "/usr/bin/ls", ["d"], false),
        MatchCase("/usr/bin/ls [!a-c]x", "/usr/bin/ls", ["dx"], true),
        // final ** : zero, one, many
        MatchCase("/usr/bin/journalctl **", "/usr/bin/journalctl", [], true),
        MatchCase("/usr/bin/journalctl **", "/usr/bin/journalctl", ["-u"], true),
        MatchCase("/usr/bin/journalctl **", "/usr/bin/journalctl", ["-u", "nginx", "-f", "--since", "1h"], true),
        MatchCase("/usr/bin/journalctl -u **", "/usr/bin/journalctl", ["-u"], true),
        MatchCase("/usr/bin/journalctl -u **", "/usr/bin/journalctl", ["-f", "-u"], false),
        // a path alone matches only a call without arguments
        MatchCase("/usr/sbin/reboot", "/usr/sbin/reboot", [], true),
        MatchCase("/usr/sbin/reboot", "/usr/sbin/reboot", ["-f"], false),
        MatchCase("/usr/sbin/reboot", "/usr/sbin/reboot", [""], false),
        // quoting
        MatchCase(#"/usr/bin/echo "two words""#, "/usr/bin/echo", ["two words"], true),
        MatchCase(#"/usr/bin/echo "two words""#, "/usr/bin/echo", ["two", "words"], false),
        MatchCase("/usr/bin/echo '*'", "/usr/bin/echo", ["*"], true),
        MatchCase("/usr/bin/echo '*'", "/usr/bin/echo", ["anything"], false),
        MatchCase("/usr/bin/echo *", "/usr/bin/echo", ["anything"], true),
        MatchCase(#"/usr/bin/echo \*"#, "/usr/bin/echo", ["*"], true),
        MatchCase(#"/usr/bin/echo \*"#, "/usr/bin/echo", ["x"], false),
        MatchCase(#"/usr/bin/echo "a?[b]""#, "/usr/bin/echo", ["a?[b]"], true),
        MatchCase(#"/usr/bin/echo "a?[b]""#, "/usr/bin/echo", ["ax[b]"], false),
        MatchCase(#"/usr/bin/echo pre"*"*"#, "/usr/bin/echo", ["pre*xyz"], true),
        MatchCase(#"/usr/bin/echo pre"*"*"#, "/usr/bin/echo", ["prexyz"], false),
        MatchCase(#"/usr/bin/echo "back\\slash""#, "/usr/bin/echo", [#"back\slash"#], true),
        MatchCase(#"/usr/bin/echo '**'"#, "/usr/bin/echo", ["**"], true),
        MatchCase(#"/usr/bin/echo '**'"#, "/usr/bin/echo", [], false),
        MatchCase(#"/usr/bin/echo """#, "/usr/bin/echo", [""], true),
        // paths with spaces
        MatchCase(#""/opt/my tools/run" x"#, "/opt/my tools/run", ["x"], true),
        MatchCase(#"/opt/my\ tools/run x"#, "/opt/my tools/run", ["x"], true),
        MatchCase(#""/opt/my tools/run" x"#, "/opt/my", ["tools/run", "x"], false),
        // a glob in the path stays inside one directory level
        MatchCase("/usr/bin/* --version", "/usr/bin/ls", ["--version"], true),
        MatchCase("/usr/bin/* --version", "/usr/bin/sub/ls", ["--version"], false),
        // sudoedit's files are paths: a `*` stays inside one directory level
        MatchCase("sudoedit /etc/nginx/*.conf", "sudoedit", ["/etc/nginx/a.conf"], true),
        MatchCase("sudoedit /etc/nginx/*.conf", "sudoedit", ["/etc/nginx/sites/a.conf"], false),
        MatchCase("sudoedit /etc/nginx/*.conf", "/usr/bin/sudoedit", ["/etc/nginx/a.conf"], false),
        MatchCase("sudoedit /etc/hosts", "sudoedit", ["/etc/hosts", "/etc/shadow"], false),
        // ... and name the files that may be edited, together or one by one
        MatchCase("sudoedit /etc/hosts /etc/nginx/*.conf", "sudoedit", ["/etc/nginx/a.conf", "/etc/hosts"], true),
        MatchCase(
            "sudoedit /etc/hosts /etc/nginx/*.conf", "sudoedit", ["/etc/nginx/a.conf", "/etc/nginx/b.conf"], true),
        MatchCase("sudoedit /etc/hosts /etc/nginx/*.conf", "sudoedit", [], false),
    ]

    @Test(arguments: cases)
    func matchesArgvWordByWord(_ row: MatchCase) throws {
        let pattern = try CommandPattern.parse(row.pattern)
        #expect(pattern.matches(path: row.path, args: row.args.map { UserText($0) }) == row.matches)
    }

    @Test func splitsLikeAShell() throws {
        let pattern = try CommandPattern.parse(#"  "/opt/my tools/run"  'a b' c\ d "e*" f* ** "#)
        #expect(pattern.path == "/opt/my tools/run")
        #expect(!pattern.pathIsGlob)
        #expect(pattern.args == ["a b", "c d", #"e\*"#, "f*"])
        #expect(pattern.anyRest)
        #expect(try CommandPattern.parse("/usr/bin/true").args == [])
        #expect(try !CommandPattern.parse("/usr/bin/true").anyRest)
        #expect(try CommandPattern.parse("/usr/bin/*").pathIsGlob)
    }

    @Test(arguments: [
        ("/usr/bin/ls ** -l", PatternError.anyRestNotLast),
        ("/usr/bin/ls ** **", PatternError.anyRestNotLast),
        ("**", PatternError.anyRestNotLast),
        (#"/usr/bin/echo "unclosed"#, PatternError.unbalancedQuote("\"")),
        ("/usr/bin/echo 'unclosed", PatternError.unbalancedQuote("'")),
        (#"/usr/bin/echo trailing\"#, PatternError.trailingBackslash),
        ("   ", PatternError.empty),
        ("", PatternError.empty),
        ("/usr/bin/echo a\u{0}b", PatternError.containsNUL),
        ("/usr/bin/echo \\\u{0}", PatternError.containsNUL),
    ])
    func rejectsMalformedPatterns(text: String, error: PatternError) {
        #expect(throws: error) { try CommandPattern.parse(text) }
    }

    @Test func invalidUTF8ArgumentMatchesStarButNotALiteral() throws {
        let raw = UserText(bytes: [0x61, 0xff, 0xfe, 0x62])
        #expect(raw.string == nil)
        #expect(try CommandPattern.parse("/usr/bin/echo *").matches(path: "/usr/bin/echo", args: [raw]))
        #expect(try CommandPattern.parse("/usr/bin/echo a??b").matches(path: "/usr/bin/echo", args: [raw]))
        #expect(try !CommandPattern.parse("/usr/bin/echo ab").matches(path: "/usr/bin/echo", args: [raw]))
        #expect(try !CommandPattern.parse("/usr/bin/echo a\u{fffd}b").matches(path: "/usr/bin/echo", args: [raw]))
    }

    @Test func argumentWithNULNeverMatches() throws {
        let sneaky = UserText(bytes: [0x61, 0x00, 0x62])
        #expect(try !CommandPattern.parse("/usr/bin/echo *").matches(path: "/usr/bin/echo", args: [sneaky]))
    }

    @Test func coverageIsSoundForShadowing() throws {
        func covers(_ a: String, _ b: String) throws -> Bool {
            try CommandPattern.parse(a).covers(CommandPattern.parse(b))
        }
        #expect(try covers("/usr/bin/ls **", "/usr/bin/ls"))
        #expect(try covers("/usr/bin/ls **", "/usr/bin/ls -l **"))
        #expect(try covers("/usr/bin/ls *", "/usr/bin/ls -l"))
        #expect(try covers("/usr/bin/ls -[lh]", "/usr/bin/ls -l"))
        #expect(try covers("/usr/bin/*", "/usr/bin/ls"))
        #expect(try !covers("/usr/bin/ls *", "/usr/bin/ls **"))
        #expect(try !covers("/usr/bin/ls -[lh]", "/usr/bin/ls -?"))
        #expect(try !covers("/usr/bin/ls -l", "/usr/bin/ls -l -a"))
        #expect(try !covers("/usr/bin/ls", "/usr/bin/ls **"))
        #expect(try !covers("/usr/bin/*", "/usr/bin/sub/ls"))
        #expect(try !covers("/usr/bin/ls \\*", "/usr/bin/ls x"))
        #expect(try covers("/usr/bin/ls *", "/usr/bin/ls '*'"))
    }
}

/// Found by fuzz-pattern (Fuzz/regressions/pattern/): Swift's Character is a grapheme cluster, so a
/// combining mark after a backslash or a quote used to merge with it and change the word.
@Suite struct PatternScalarRegressionTests {
    @Test func backslashBeforeACombiningMarkEscapesJustTheMark() throws {
        let p = try CommandPattern.parse("/usr/bin/echo \\\u{301}a")
        #expect(p.matches(path: "/usr/bin/echo", args: [UserText("\u{301}a")]))
        #expect(!p.matches(path: "/usr/bin/echo", args: [UserText("\\\u{301}a")]))
    }

    @Test func quoteFollowedByACombiningMarkStillQuotes() throws {
        let p = try CommandPattern.parse("/usr/bin/echo '\u{301}*'")
        #expect(p.matches(path: "/usr/bin/echo", args: [UserText("\u{301}*")]))
        #expect(!p.matches(path: "/usr/bin/echo", args: [UserText("\u{301}x")]))
    }

    @Test func starFollowedByACombiningMarkIsStillAWildcard() throws {
        let p = try CommandPattern.parse("/usr/bin/echo *\u{301}")
        #expect(p.matches(path: "/usr/bin/echo", args: [UserText("abc\u{301}")]))
    }
}
