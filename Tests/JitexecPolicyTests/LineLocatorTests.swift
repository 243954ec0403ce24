import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

@Suite struct LineLocatorTests {
    static let text = #"""
        # comment with key = "x"
        top = 1
        [settings]
        "max_grant" = "4h"
        desc = """
        fake = "line"
        """
        env_keep = [
          "TERM",   # a comment ]
          "LANG",
        ]
        admins = ["%a"]
        [[rule]]
        name = "a"
        [[rule]]
        name = 'b'
        users = [ "x",
          "y" ]
        [ store ]
        backend = "sqlite"
        a.b = 1
        inline = { k = "v",
                   j = "w" }
        after = true
        """#

    @Test func findsHeadersKeysAndElements() {
        let locator = LineLocator(text: Self.text)
        #expect(locator.keyLine(.root, "top") == 2)
        #expect(locator.keyLine(.root, "key") == nil)
        #expect(locator.headerLine(.table("settings")) == 3)
        #expect(locator.keyLine(.table("settings"), "max_grant") == 4)
        #expect(locator.keyLine(.table("settings"), "desc") == 5)
        #expect(locator.keyLine(.table("settings"), "fake") == nil)
        #expect(locator.keyLine(.table("settings"), "env_keep") == 8)
        #expect(locator.elementLine(.table("settings"), "env_keep", "LANG") == 10)
        #expect(locator.keyLine(.table("settings"), "admins") == 12)
        #expect(locator.headerLine(.arrayItem("rule", 0)) == 13)
        #expect(locator.headerLine(.arrayItem("rule", 1)) == 15)
        #expect(locator.keyLine(.arrayItem("rule", 0), "name") == 14)
        #expect(locator.keyLine(.arrayItem("rule", 1), "name") == 16)
        #expect(locator.elementLine(.arrayItem("rule", 1), "users", "y") == 18)
        #expect(locator.elementLine(.arrayItem("rule", 1), "users", "absent") == 17)
        #expect(locator.headerLine(.table("store")) == 19)
        #expect(locator.keyLine(.table("store"), "backend") == 20)
        #expect(locator.keyLine(.table("store"), "a") == 21)
        #expect(locator.keyLine(.table("store"), "a.b") == 21)
        #expect(locator.keyLine(.table("store"), "j") == nil)
        #expect(locator.keyLine(.table("store"), "after") == 24)
    }

    @Test func dottedTopLevelKeysCountForTheirTable() {
        let locator = LineLocator(text: "\n\nsettings.max_grant = \"1h\"\n")
        #expect(locator.keyLine(.table("settings"), "max_grant") == 3)
    }

    @Test func dottedTopLevelKeyDiagnosticPointsAtIt() {
        let (_, diagnostics) = load(
            """
            # dotted

            settings.max_grant = "soon"
            """)
        #expect(
            diagnostics.map(\.description) == [
                #"policy.toml:3: error: 'max_grant': "soon" is not a duration (use e.g. 90s, 15m, 1h30m)"#
            ])
    }
}
