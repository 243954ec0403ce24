import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

@Suite struct PolicyLoaderTests {
    static let specExample = """
        [settings]
        secure_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        credential_cache = "5m"        # per user and terminal session; "0" disables
        request_ttl = "1h"             # pending requests expire
        default_grant = "15m"
        max_grant = "4h"
        wait_timeout = "15m"
        env_keep = ["TERM", "LANG", "LC_*", "TZ", "COLORTERM"]
        admins = ["%jit-admins"]       # may revoke anything, cancel requests, review break-glass

        [[rule]]
        name = "service-restarts"
        users = ["alice", "%developers"]          # who may ask; %group
        run_as = ["root"]                          # allowed targets, default ["root"]
        commands = ["/usr/bin/systemctl restart *", "/usr/bin/systemctl reload nginx"]
        action = "approve"                         # allow | approve | deny
        approvers = ["%sre-leads"]
        approvals = 1                              # distinct approvers needed (two-person rule: 2)
        max_grant = "30m"
        reason = "required"                        # required | optional
        reason_pattern = "^(INC|CHG)-[0-9]+"       # optional
        scope = "command"                          # command: exactly this argv | rule: any command of the rule
        once = false                               # force single-use grants
        hosts = ["*"]                              # fleet: which hosts the rule applies to
        break_glass = true                         # on-call may self-grant
        break_glass_max = "30m"
        record = false                             # record the terminal session
        enforce_expiry = false                     # stop the command when its grant expires

        [oncall]                                   # who is on call now: any of
        group = "oncall"
        schedule = "/etc/jitexec/oncall.toml"      # rotation: user, from, to
        command = ["/usr/local/bin/who-is-oncall"] # prints user names; run unprivileged, with a timeout

        [[login]]                                  # shell login gating (PAM account phase)
        users = ["%contractors"]
        services = ["sshd", "login"]
        approvers = ["%sre-leads"]
        approvals = 1
        max_grant = "8h"
        auto_request = true

        [notify]
        command = ["/usr/local/share/jitexec/notify-webhook", "https://chat.example/hook"]
        run_as = "nobody"
        timeout = "5s"
        events = ["request.filed", "request.approved", "request.denied", "breakglass.used", "grant.revoked"]

        [store]
        backend = "sqlite"                         # sqlite (default) | postgresql (fleet)
        url_file = "/etc/jitexec/store.url"        # postgresql: root-only file holding the connection URL
        """

    @Test func specExampleLoadsCleanly() throws {
        let (policy, diagnostics) = load(Self.specExample)
        #expect(diagnostics.map(\.description) == [])
        let p = try #require(policy)
        #expect(p.settings.securePath == Settings.defaultSecurePath)
        #expect(p.settings.admins == [.group("jit-admins")])
        let rule = try #require(p.rules.first)
        #expect(rule.name == "service-restarts")
        #expect(rule.users == [.user("alice"), .group("developers")])
        #expect(rule.action == .approve)
        #expect(rule.maxGrant == TimeSpan(seconds: 1_800))
        #expect(rule.reasonRequired)
        #expect(rule.reasonPattern == "^(INC|CHG)-[0-9]+")
        #expect(rule.breakGlass && rule.breakGlassMax == TimeSpan(seconds: 1_800))
        #expect(rule.commands.map(\.args) == [["restart", "*"], ["reload", "nginx"]])
        #expect(rule.location == SourceLocation(file: "policy.toml", line: 11))
        #expect(
            p.oncall
                == OnCall(
                    group: "oncall", schedule: "/etc/jitexec/oncall.toml", command: ["/usr/local/bin/who-is-oncall"]))
        #expect(p.logins.first?.services == ["sshd", "login"])
        #expect(p.logins.first?.autoRequest == true)
        #expect(p.logins.first?.location.line == 35)
        #expect(p.notify?.events.count == 5)
        #expect(p.store == StoreConfig(backend: .sqlite, urlFile: "/etc/jitexec/store.url"))
        #expect(p.files == ["policy.toml"])
    }
}

@Suite struct PolicyMergeTests {
    static let main = """
        [settings]
        max_grant = "4h"
        default_grant = "10m"
        [[rule]]
        name = "a"
        users = ["alice"]
        commands = ["/usr/bin/ls"]
        action = "allow"
        """

    @Test func laterFileOverridesSettingsKeyWithWarningAndAppendsRules() throws {
        let extra = PolicySource(
            path: "policy.d/10-x.toml",
            text: """
                [settings]
                max_grant = "2h"
                [[rule]]
                name = "b"
                users = ["bob"]
                commands = ["/usr/bin/ls -l"]
                action = "allow"
                """)
        let (policy, diagnostics) = load(Self.main, more: [extra])
        #expect(
            diagnostics.map(\.description) == [
                "policy.d/10-x.toml:2: warning: 'max_grant' in [settings] overrides the value set at policy.toml:2"
            ])
        let p = try #require(policy)
        #expect(p.settings.maxGrant == TimeSpan.hours(2))
        #expect(p.settings.defaultGrant == TimeSpan.minutes(10))
        #expect(p.rules.map(\.name) == ["a", "b"])
        #expect(p.rules[1].location == SourceLocation(file: "policy.d/10-x.toml", line: 3))
        #expect(p.files == ["policy.toml", "policy.d/10-x.toml"])
    }

    @Test func ruleNamesAreUniqueAcrossFiles() {
        let extra = PolicySource(
            path: "policy.d/20-y.toml",
            text: """
                # y

                [[rule]]
                name = "a"
                users = ["carol"]
                commands = ["/usr/bin/ls -a"]
                action = "allow"
                """)
        let (policy, diagnostics) = load(Self.main, more: [extra])
        #expect(policy == nil)
        #expect(
            diagnostics.map(\.description) == [
                "policy.d/20-y.toml:4: error: duplicate rule name 'a' (first defined at policy.toml:5)"
            ])
    }

    @Test func securePathFromALaterFileResolvesBareNames() throws {
        let main = """
            [[rule]]
            name = "tool"
            users = ["alice"]
            commands = ["tool --check"]
            action = "allow"
            """
        let extra = PolicySource(
            path: "policy.d/paths.toml",
            text: """
                [settings]
                secure_path = "/usr/local/bin:/usr/bin"
                """)
        let (policy, diagnostics) = load(main, more: [extra])
        #expect(diagnostics.isEmpty)
        #expect(try #require(policy).rules[0].commands[0].path == "/usr/bin/tool")
    }

    @Test func diagnosticsAreSortedByFileInGivenOrderThenLine() {
        let main = """
            [settings]
            admins = ["%nobody-group"]
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/nope"]
            action = "allow"
            bogus = 1
            """
        let extra = PolicySource(
            path: "a-sorts-first-by-name.toml",
            text: """
                [store]
                backend = "oracle"
                """)
        let (_, diagnostics) = load(main, more: [extra])
        #expect(
            diagnostics.map { "\($0.location)" } == [
                "policy.toml:2", "policy.toml:6", "policy.toml:8", "a-sorts-first-by-name.toml:2",
            ])
    }
}

@Suite struct PolicyLoadTests {
    @Test func literalPathsAreCanonicalizedAndBareNamesResolved() throws {
        let (policy, diagnostics) = load(
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/bin/true", "deploy **", "systemctl status *", "/usr/bin/* --version", '"/opt/my tools/run" x']
            action = "allow"
            """)
        #expect(diagnostics.isEmpty)
        let commands = try #require(policy).rules[0].commands
        #expect(
            commands.map(\.path) == [
                "/usr/bin/true", "/opt/deploy/bin/deploy", "/usr/bin/systemctl", "/usr/bin/*", "/opt/my tools/run",
            ])
        #expect(commands.map(\.source)[1] == "deploy **")
        #expect(commands[3].pathIsGlob)
    }

    @Test func defaultsApplyWhenKeysAreAbsent() throws {
        let (policy, diagnostics) = load(
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = ["bob"]
            [notify]
            command = ["/usr/local/bin/notify"]
            """)
        #expect(diagnostics.isEmpty)
        let p = try #require(policy)
        let rule = p.rules[0]
        #expect(rule.runAs == [.user("root")])
        #expect(rule.hosts == ["*"])
        #expect(rule.approvals == 1)
        #expect(rule.scope == .command)
        #expect(!rule.reasonRequired && !rule.once && !rule.breakGlass && !rule.record && !rule.enforceExpiry)
        #expect(rule.maxGrant == nil)
        #expect(p.settings == Settings())
        #expect(
            p.settings.securePath == ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        #expect(p.settings.credentialCache == TimeSpan(seconds: 300))
        #expect(p.settings.requestTTL == TimeSpan(seconds: 3_600))
        #expect(p.settings.defaultGrant == TimeSpan(seconds: 900))
        #expect(p.settings.maxGrant == TimeSpan(seconds: 14_400))
        #expect(p.settings.waitTimeout == TimeSpan(seconds: 900))
        #expect(p.settings.envKeep == ["TERM", "LANG", "LC_*", "TZ", "COLORTERM"])
        #expect(
            p.notify
                == Notify(
                    command: ["/usr/local/bin/notify"], runAs: "nobody", timeout: TimeSpan(seconds: 5),
                    events: Notify.defaultEvents))
        #expect(p.store == StoreConfig(backend: .sqlite, urlFile: nil))
        #expect(p.oncall == nil)
    }

    @Test func zeroCredentialCacheIsAllowed() throws {
        let (policy, diagnostics) = load(
            """
            [settings]
            credential_cache = "0"
            """)
        #expect(diagnostics.isEmpty)
        #expect(try #require(policy).settings.credentialCache == .zero)
    }

    @Test func warningsAloneKeepThePolicy() {
        let (policy, diagnostics) = load(
            """
            [[rule]]
            name = "r"
            users = ["ghost"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            """)
        #expect(diagnostics.map(\.severity) == [.warning])
        #expect(policy?.rules.count == 1)
    }

    @Test func emptyPolicyIsValidAndDeniesEverything() throws {
        let (policy, diagnostics) = load("# nothing yet\n")
        #expect(diagnostics.isEmpty)
        #expect(try #require(policy).rules.isEmpty)
    }

    @Test func unknownKeysInEverySectionAreErrors() {
        let (policy, diagnostics) = load(
            """
            [oncall]
            grup = "oncall"
            [[login]]
            users = ["%contractors"]
            approvers = ["bob"]
            service = ["sshd"]
            [notify]
            command = ["/usr/local/bin/n"]
            runas = "nobody"
            [store]
            url = "x"
            top = 1
            """)
        #expect(policy == nil)
        #expect(
            diagnostics.map(\.description) == [
                "policy.toml:2: error: unknown key 'grup' in [oncall] (did you mean 'group'?)",
                "policy.toml:6: error: unknown key 'service' in [[login]] (did you mean 'services'?)",
                "policy.toml:9: error: unknown key 'runas' in [notify] (did you mean 'run_as'?)",
                "policy.toml:11: error: unknown key 'url' in [store]",
                "policy.toml:12: error: unknown key 'top' in [store]",
            ])
    }

    @Test func notifierRunningAsRootIsAnError() {
        let (policy, diagnostics) = load(
            """
            [notify]
            command = ["/usr/local/bin/n"]
            run_as = "root"
            """)
        #expect(policy == nil)
        #expect(
            diagnostics.map(\.description) == [
                "policy.toml:3: error: 'run_as': notifiers run unprivileged; name a user other than root (default nobody)"
            ])
    }

    @Test func controlCharactersInPolicyTextAreEscapedInMessages() {
        let (_, diagnostics) = load(
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "\\u001b[2Jallow"
            """)
        #expect(diagnostics.map(\.message) == [#"'action' must be one of allow, approve, deny, not "\x1b[2Jallow""#])
    }
}
