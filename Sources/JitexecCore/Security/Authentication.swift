import Glibc
import JitexecAuth
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// How a password may be asked for: on the terminal, from standard input (`-S`), or not at all (`-n`).
public enum PromptMode: Sendable { case terminal, stdin, never }

/// The invoking user's terminal: a descriptor of /dev/tty (nil without one) and its name for PAM_TTY.
struct ControllingTerminal: Sendable {
    var fd: Int32?
    var name: String

    /// Opens /dev/tty when the process has a controlling terminal. Its name (recorded as `tty`, given
    /// to PAM) is that of the controlling terminal itself (`tty_nr` of /proc/self/stat), never of
    /// whatever terminal the caller put on descriptors 0-2: a descriptor's name counts only when it is
    /// the same device.
    static func current() -> ControllingTerminal {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return ControllingTerminal(fd: nil, name: "") }
        guard let device = ProcessTree.controllingTerminal() else { return ControllingTerminal(fd: fd, name: "") }
        for candidate in [Int32(0), 1, 2] {
            var st = stat()
            guard isatty(candidate) == 1, fstat(candidate, &st) == 0, st.st_rdev == device,
                let p = ttyname(candidate)
            else { continue }
            return ControllingTerminal(fd: fd, name: String(cString: p))
        }
        // None of 0-2 is it: a pseudo-terminal's name follows from its device number.
        let major = (device >> 8) & 0xfff
        let minor = (device & 0xff) | ((device >> 12) & 0xfff00)
        if (136...143).contains(major) {
            let name = "/dev/pts/\((major - 136) * 256 + minor)"
            var st = stat()
            if stat(name, &st) == 0, st.st_rdev == device { return ControllingTerminal(fd: fd, name: name) }
        }
        return ControllingTerminal(fd: fd, name: "")
    }

    /// Closes the /dev/tty descriptor.
    func close() {
        if let fd { _ = Glibc.close(fd) }
    }
}

/// PAM authentication of the invoking user with the credential cache (SPEC: jitexec -v/-k,
/// credential_cache): a fresh cache entry for this user and terminal session skips the password,
/// never the account check.
enum Authentication {
    /// Authenticates the invoking user; returns the PAM transaction with the account checked, for
    /// the caller to open a session on (a run) or drop (jitctl). Failures are audited `auth.failure`.
    static func authenticate(
        _ ctx: Context, policy: Policy, mode: PromptMode, terminal: ControllingTerminal, forcePassword: Bool = false
    ) throws(JitError) -> PAMSession {
        let user = ctx.invoker
        let asking: any Prompter
        switch mode {
        case .never: asking = NonInteractivePrompter()
        case .stdin: asking = StdinPrompter()
        case .terminal: asking = terminal.fd.map { TerminalPrompter(fileDescriptor: $0) } ?? TerminalPrompter()
        }
        // The store may be opening in the background, with the terminal signals held meanwhile
        // (`Context.openStoreInBackground`): that ends before PAM asks or shows anything.
        let prompter = SettlingPrompter(asking) { ctx.settleStore() }
        let session: PAMSession
        do {
            try requireServiceFile(ctx.paths.pamService)
            session = try PAMSession(
                service: ctx.paths.pamService, user: user.name, requestingUser: user.name, tty: terminal.name,
                prompter: prompter, passwordPrompt: "[\(ctx.program)] password for \(Escape.text(user.name)): ")
            let cache = try credentialCache(ctx, policy)
            let scope = SessionScope.current(ttyFD: terminal.fd)
            let fresh = !forcePassword && scope.map { cache?.isFresh(uid: user.uid, scope: $0) ?? false } ?? false
            // PAM runs with root as the real uid, as in sudo: the caller cannot kill the process
            // between a wrong password and its audit record (or the failure delay). Root (the
            // caller's real uid) is not asked for a password, as with sudo.
            if !fresh && user.uid != 0 {
                try session.authenticate(tries: 3)
            }
            try session.checkAccount()
            if let cache, let scope { try? cache.refresh(uid: user.uid, scope: scope) }
        } catch let error as AuthError {
            auditFailure(ctx, error)
            throw .authentication(error.description)
        } catch {
            throw JitError(error)
        }
        return session
    }

    /// The service's own PAM file must be there and trusted before PAM starts: without it
    /// Linux-PAM silently uses /etc/pam.d/other (on Debian common-auth, which would let the
    /// password through under rules nobody wrote for jitexec). Throws `AuthError.serviceMissing`
    /// (audited like any authentication failure) or `JitError.untrusted`. `directory` is for tests.
    /// The directory is checked once; the service file and the files it includes are read through it.
    static func requireServiceFile(_ service: String, directory: String = "/etc/pam.d") throws {
        let file = pamServiceFile(service, directory: directory)
        let folder: TrustedFiles.Directory
        do {
            folder = try TrustedFiles.Directory(directory)
        } catch {
            // A missing service file is reported as such whatever else is wrong above it.
            var st = stat()
            if case .untrusted(_, .missing) = error { throw AuthError.serviceMissing(service: service) }
            if lstat(file, &st) != 0 && errno == ENOENT { throw AuthError.serviceMissing(service: service) }
            throw error
        }
        guard let text = try folder.read(pamServiceFileName(service)) else {
            throw AuthError.serviceMissing(service: service)
        }
        // PAM runs with root as the real uid: pam_rootok would let every caller through. An
        // included file that cannot be read safely is PAM's to refuse; it is not searched here.
        if mentionsRootOK(text)
            || includes(text).contains(where: { name in
                (try? folder.read(name)).flatMap { $0 }.map(mentionsRootOK) ?? false
            })
        {
            throw JitError.notPermitted(
                "\(file) uses pam_rootok.so, which would pass every caller (jitexec runs PAM as root); remove it from jitexec's PAM service"
            )
        }
    }

    /// Whether a PAM file's non-comment lines name pam_rootok.
    static func mentionsRootOK(_ text: [UInt8]) -> Bool {
        let module = Array("pam_rootok".utf8)
        // Most files do not hold the name at all, not even in a comment: one search of the whole
        // text says so before any line is split into words (Debian's common-* files are mostly
        // comments; 61,000 instructions a run for the four files, callgrind).
        guard holds(text[...], module) else { return false }
        return PAMLines(text).contains { line in line.contains { word in holds(word, module) } }
    }

    /// Whether `bytes` hold `name` (not empty) anywhere.
    private static func holds(_ bytes: ArraySlice<UInt8>, _ name: [UInt8]) -> Bool {
        guard bytes.count >= name.count else { return false }
        return (bytes.startIndex...(bytes.endIndex - name.count)).contains { at in
            bytes[at] == name[0] && bytes[at..<at + name.count].elementsEqual(name)
        }
    }

    /// The files a PAM file pulls in with `@include NAME` (one level).
    static func includes(_ text: [UInt8]) -> [String] {
        PAMLines(text).compactMap { line in
            var words = line.makeIterator()
            guard words.next()?.elementsEqual("@include".utf8) == true, let name = words.next(),
                !name.contains(UInt8(ascii: "/"))
            else { return nil }
            return String(decoding: name, as: UTF8.self)
        }
    }

    /// The lines of a PAM file that are not comments, each as its words (split at spaces and tabs),
    /// all as slices of the text. This runs on every run: no text is decoded into characters and no
    /// array is made per line or word.
    private struct PAMLines: Sequence, IteratorProtocol {
        var rest: ArraySlice<UInt8>

        init(_ text: [UInt8]) { rest = text[...] }

        mutating func next() -> PAMWords? {
            while !rest.isEmpty {
                let end = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
                let line = PAMWords(rest: rest[..<end])
                rest = rest[end...].dropFirst()
                var words = line.makeIterator()
                if let first = words.next(), first.first != UInt8(ascii: "#") { return line }
            }
            return nil
        }
    }

    /// The words of one line, split at spaces and tabs.
    private struct PAMWords: Sequence, IteratorProtocol {
        var rest: ArraySlice<UInt8>

        mutating func next() -> ArraySlice<UInt8>? {
            let blank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            guard let start = rest.firstIndex(where: { !blank($0) }) else { return nil }
            let end = rest[start...].firstIndex(where: blank) ?? rest.endIndex
            defer { rest = rest[end...] }
            return rest[start..<end]
        }
    }

    /// `jitexec -k`: forgets the invoking user's cached credential (every session of theirs).
    /// `-K` (`everywhere`): forgets every cached session of the caller. `-k`: only this terminal
    /// session's (all of them when there is no terminal session to name).
    static func forget(_ ctx: Context, policy: Policy, everywhere: Bool) throws(JitError) {
        guard let cache = try credentialCache(ctx, policy) else { return }
        let terminal = ctx.effects.controllingTerminal()
        defer { terminal.close() }
        if !everywhere, let scope = SessionScope.current(ttyFD: terminal.fd) {
            do {
                try cache.remove(uid: ctx.invoker.uid, scope: scope)
            } catch {
                throw .storeUnavailable("cannot update the credential cache: \(error)")
            }
        } else {
            cache.remove(uid: ctx.invoker.uid)
        }
    }

    /// The credential cache under RUNDIR/jitexec (nil when `credential_cache = "0"`). RUNDIR must be
    /// trusted; the jitexec directory in it is created root-only.
    static func credentialCache(_ ctx: Context, _ policy: Policy) throws(JitError) -> CredentialCache? {
        let ttl = policy.settings.credentialCache.seconds
        guard ttl > 0 else { return nil }
        let dir = ctx.paths.credentialDir
        var st = stat()
        if lstat(dir, &st) != 0 {
            try TrustedFiles.requireRootOwned(ctx.paths.rundir, kind: .directory)
            guard mkdir(dir, 0o700) == 0 || errno == EEXIST else {
                throw .storeUnavailable("cannot create \(dir): \(errnoText())")
            }
        }
        try TrustedFiles.requireRootOwned(dir, kind: .directory)
        return CredentialCache(directory: dir, ttlSeconds: ttl)
    }

    /// Best effort: a failed or cancelled authentication is recorded `auth.failure`.
    static func auditFailure(_ ctx: Context, _ error: AuthError) {
        guard let store = try? ctx.store() else { return }
        let reason: String
        switch error {
        case .wrongPassword: reason = "wrong_password"
        case .interrupted: reason = "interrupted"
        case .passwordRequired: reason = "password_required"
        case .noTerminal: reason = "no_terminal"
        case .passwordTooLong: reason = "password_too_long"
        case .accountUnavailable: reason = "account_unavailable"
        case .serviceMissing: reason = "service_missing"
        case .refused: reason = "refused"
        case .pam: reason = "pam_error"
        }
        var fields: [String: JSONValue] = ["reason": .string(reason), "service": .string(ctx.paths.pamService)]
        if case .wrongPassword(let tries) = error { fields["tries"] = .int(Int64(tries)) }
        let now = ctx.clock()
        _ = try? ctx.storeWrite(store) { w in
            try Workflow.appendBounded(
                w, AuditEvent(event: "auth.failure", actor: ctx.invoker.name, fields: fields), now: now)
        }
    }
}

/// A prompter that first waits for the store being opened in the background (and so ends the hold
/// on the terminal signals that goes with it), whatever PAM asks or shows first.
private final class SettlingPrompter: Prompter {
    private let inner: any Prompter
    private var settle: (() -> Void)?

    init(_ inner: any Prompter, settle: @escaping () -> Void) {
        self.inner = inner
        self.settle = settle
    }

    private func settled() {
        settle?()
        settle = nil
    }

    func promptHidden(_ message: String) throws(AuthError) -> [UInt8] {
        settled()
        return try inner.promptHidden(message)
    }

    func promptVisible(_ message: String) throws(AuthError) -> [UInt8] {
        settled()
        return try inner.promptVisible(message)
    }

    func info(_ message: String) {
        settled()
        inner.info(message)
    }

    func error(_ message: String) {
        settled()
        inner.error(message)
    }
}
