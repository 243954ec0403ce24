import JitexecBase

/// jitexec's command line (SPEC.md, jitexec), parsed from the raw argv bytes. Option parsing stops
/// at the first word that is not an option, so `jitexec ls -l` runs `ls -l`; `--` ends options too.
/// Hand-written on purpose: the setuid hot path carries no argument-parsing library.
struct JitexecArguments: Equatable, Sendable {
    /// `loginGate` is `--login-gate`, run by pam_exec in the account phase (pam/jitexec-login).
    enum Mode: Equatable, Sendable { case run, shell, edit, list, validate, forget, help, version, loginGate }

    var mode: Mode = .run
    var user: String?
    /// `-g GROUP`: the command's primary group (the rule's `run_as_groups` must name it).
    var group: String?
    /// `-U USER` with `-l`: list what USER may run (root and admins only).
    var otherUser: String?
    var reason: UserText?
    var ticket: UserText?
    var duration: String?
    var once = false
    var noWait = false
    var waitTimeout: String?
    var breakGlass = false
    var nonInteractive = false
    var passwordFromStdin = false
    /// `-i` (true): the target's shell as a login shell; `-s` (false): the target's shell. Mode `.shell`.
    var loginShell = false
    /// `-K` (true): forget cached credentials of every terminal; `-k`: of this one. Mode `.forget`.
    var forgetEverywhere = false
    /// The command and its arguments, byte for byte; with `-e`, the files to edit.
    var command: [UserText] = []

    static let usage = """
        usage: jitexec [-u USER] [-g GROUP] [-r REASON] [-T TICKET] [-d DURATION] [--once]
                       [--no-wait | --wait-timeout DUR] [--break-glass] [-n] [-S] [--] COMMAND [ARG...]
               jitexec -i | -s [-u USER] [-g GROUP] [-r REASON] [-T TICKET] [-d DURATION] [OPTIONS]
               jitexec -e [-u USER] [-g GROUP] [-r REASON] [-T TICKET] [-d DURATION] [OPTIONS] FILE...
               jitexec -l [-U USER] [-u USER] [-g GROUP] [COMMAND [ARG...]]
               jitexec -v | -k | -K | -h | -V
        """

    /// `jitexec -h`: the synopsis, then every option on one line.
    static let help =
        usage + "\n\n" + """
            options:
              -u, --user USER          run as USER (default root)
              -g, --group GROUP        run with GROUP as the primary group (a rule's run_as_groups)
              -r, --reason TEXT        why: shown to the approvers and recorded (a rule may require it)
              -T, --ticket ID          a ticket reference, shown and recorded with the request
              -d, --duration DUR       the grant length to ask for (30m, 2h), at most the rule's max_grant
                  --once               ask for a grant that covers one run
                  --no-wait            file the request and exit 75 instead of waiting for approval
                  --wait-timeout DUR   stop waiting after DUR (exit 75; the request stays open)
                  --break-glass        on call: an immediate, audited grant with no approver (-r needed)
              -n                       never ask for a password (refuse when one is needed)
              -S                       read the password from standard input
              -i                       run the target's login shell (a login, in its home)
              -s                       run the target's shell, here
              -e, --edit FILE...       edit files as the target; the editor runs as you (sudoedit)
              -l                       list my rules, live grants and open requests; -l COMMAND: would it run?
              -U, --other-user USER    with -l: list USER's instead of mine (root and admins)
              -v                       authenticate now and refresh my cached credential
              -k                       forget my cached credential for this terminal
              -K                       forget my cached credentials for every terminal
              -h, --help               this help
              -V, --version            the version
                  --login-gate         the PAM account phase of a gated login (run by pam_exec, as root)
            not taken, each refused with the reason: -E (env_keep decides), -b (use your shell's &)
            exit status: the command's own (128+N for signal N); 1 refused or failed; 75 pending;
            77 denied, expired, cancelled or revoked; 126/127 not executable / not found
            """

    /// sudo's options jitexec does not take, each refused with why and what to do instead.
    static func refused(_ option: Character) -> JitError {
        switch option {
        case "E":
            return .usage(
                "-E is not supported: the command's environment is always rebuilt from the policy's env_keep; "
                    + "ask an admin to add the variable to env_keep")
        default:
            return .usage(
                "-b is not supported: jitexec supervises the command to its end (status, signals, recording, expiry); "
                    + "run 'jitexec COMMAND &' from your shell instead")
        }
    }

    /// Parses argv without argv[0].
    static func parse(_ words: [UserText]) throws(JitError) -> JitexecArguments {
        var a = JitexecArguments()
        var i = 0
        func value(_ option: String) throws(JitError) -> UserText {
            i += 1
            guard i < words.count else { throw .usage("option \(option) needs a value") }
            return words[i]
        }
        func setMode(_ m: Mode) throws(JitError) {
            guard a.mode == .run || a.mode == m else {
                throw .usage("only one of -i, -s, -e, -l, -v, -k, -h, -V, --login-gate may be given")
            }
            a.mode = m
        }
        while i < words.count {
            let word = words[i]
            guard let text = word.string, text.hasPrefix("-"), text != "-" else { break }
            if text == "--" {
                i += 1
                break
            }
            if text.hasPrefix("--") {
                let (name, inline) = splitLong(text)
                func longValue() throws(JitError) -> UserText {
                    if let inline { return UserText(inline) } else { return try value(name) }
                }
                switch name {
                case "--once": a.once = true
                case "--no-wait": a.noWait = true
                case "--wait-timeout": a.waitTimeout = try longValue().string
                case "--break-glass": a.breakGlass = true
                case "--login-gate": try setMode(.loginGate)
                case "--edit": try setMode(.edit)
                case "--help": try setMode(.help)
                case "--version": try setMode(.version)
                case "--user": a.user = try longValue().string
                case "--other-user": a.otherUser = try longValue().string ?? ""
                case "--reason": a.reason = try longValue()
                case "--ticket": a.ticket = try longValue()
                case "--duration": a.duration = try longValue().string
                case "--preserve-env": throw Self.refused("E")
                case "--background": throw Self.refused("b")
                case "--group": a.group = try longValue().string ?? ""
                default: throw .usage("unknown option \(Escape.text(name))")
                }
                if inline != nil
                    && !["--wait-timeout", "--user", "--group", "--other-user", "--reason", "--ticket", "--duration"]
                        .contains(
                            name)
                {
                    throw .usage("option \(name) takes no value")
                }
                i += 1
                continue
            }
            // Bundled short options: -nS, -uroot, -u root.
            let letters = Array(text.utf8.dropFirst())
            var k = 0
            while k < letters.count {
                let c = Character(UnicodeScalar(letters[k]))
                let rest = letters.count > k + 1 ? UserText(bytes: Array(letters[(k + 1)...])) : nil
                func shortValue() throws(JitError) -> UserText {
                    if let rest {
                        k = letters.count
                        return rest
                    }
                    k = letters.count
                    return try value("-\(c)")
                }
                switch c {
                case "u": a.user = try shortValue().string ?? ""
                case "U": a.otherUser = try shortValue().string ?? ""
                case "r": a.reason = try shortValue()
                case "T": a.ticket = try shortValue()
                case "d": a.duration = try shortValue().string ?? ""
                case "n": a.nonInteractive = true
                case "S": a.passwordFromStdin = true
                case "i":
                    try setMode(.shell)
                    a.loginShell = true
                case "s":
                    if a.mode == .shell && a.loginShell { throw .usage("give one of -i and -s") }
                    try setMode(.shell)
                case "l": try setMode(.list)
                case "e": try setMode(.edit)
                case "v": try setMode(.validate)
                case "k": try setMode(.forget)
                case "K":
                    try setMode(.forget)
                    a.forgetEverywhere = true
                case "g": a.group = try shortValue().string ?? ""
                case "E", "b": throw Self.refused(c)
                case "h": try setMode(.help)
                case "V": try setMode(.version)
                default: throw .usage("unknown option -\(Escape.text(String(c)))")
                }
                k += 1
            }
            i += 1
        }
        a.command = Array(words[i...])
        if a.noWait && a.waitTimeout != nil { throw .usage("--no-wait and --wait-timeout exclude each other") }
        if a.otherUser != nil && a.mode != .list {
            throw .usage("-U USER goes with -l: 'jitexec -l -U USER' lists what USER may run")
        }
        switch a.mode {
        case .run where a.command.isEmpty: throw .usage("no command given")
        case .edit where a.command.isEmpty: throw .usage("-e needs the files to edit: jitexec -e FILE...")
        case .shell where !a.command.isEmpty:
            throw .usage(
                "-i and -s start the target's shell and take no command; run 'jitexec COMMAND' for a command")
        case .validate, .forget, .help, .version, .loginGate:
            if !a.command.isEmpty { throw .usage("-\(a.mode) takes no command") }
        default: break
        }
        return a
    }

    private static func splitLong(_ text: String) -> (String, String?) {
        guard let eq = text.firstIndex(of: "=") else { return (text, nil) }
        return (String(text[..<eq]), String(text[text.index(after: eq)...]))
    }
}
