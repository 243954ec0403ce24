import CPAM
import JitexecSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One PAM transaction for one user: authentication, account check, credentials and session.
/// It owns the `pam_handle_t`; `deinit` is the one place that calls `pam_end`, with the status
/// of the last PAM call, and it closes a session still open. A forked child that is about to
/// exec must not let this object be destroyed (it would close the parent's session).
public final class PAMSession {
    /// The PAM service name given to `pam_start`.
    public let service: String
    private let handle: OpaquePointer
    /// The conversation's state; internal so tests can reach its hooks.
    let conversation: ConversationState
    private let retainedConversation: Unmanaged<ConversationState>
    private var lastStatus: Int32 = PAM_SUCCESS
    private var credentialsEstablished = false
    private var sessionOpen = false

    /// Starts a transaction for `user` (whose password is asked) on behalf of `requestingUser`
    /// (PAM_RUSER) on terminal `tty` (PAM_TTY; empty when there is none). `passwordPrompt`
    /// replaces the modules' generic "Password: ". `confdir` replaces /etc/pam.d (tests only; the
    /// real binary never passes it).
    public init(
        service: String, user: String, requestingUser: String, tty: String, prompter: any Prompter,
        passwordPrompt: String? = nil, confdir: String? = nil
    ) throws(AuthError) {
        let state = ConversationState(prompter: prompter, passwordPrompt: passwordPrompt)
        let retained = Unmanaged.passRetained(state)
        var conv = pam_conv(conv: pamConversation, appdata_ptr: retained.toOpaque())
        var started: OpaquePointer?
        let status: Int32
        if let confdir {
            status = pam_start_confdir(service, user, &conv, confdir, &started)
        } else {
            status = pam_start(service, user, &conv, &started)
        }
        guard status == PAM_SUCCESS, let started else {
            // A failed pam_start frees its own handle: there is nothing to pam_end.
            retained.release()
            if !isServiceConfigured(service, confdir: confdir) { throw .serviceMissing(service: service) }
            throw .pam(code: status, message: pamMessage(nil, status))
        }
        self.service = service
        handle = started
        conversation = state
        retainedConversation = retained
        // From here a throw releases self, and deinit ends the transaction.
        try setItem(PAM_RUSER, requestingUser)
        try setItem(PAM_TTY, tty)
    }

    deinit {
        if sessionOpen || credentialsEstablished { try? closeSession() }
        LoadedObjects.keepMapped()
        pam_end(handle, lastStatus)
        retainedConversation.release()
    }

    /// Asks for the password up to `tries` times (`PAM_DISALLOW_NULL_AUTHTOK`), saying
    /// "Sorry, try again." between tries like sudo. A prompt that was interrupted, or refused
    /// under `-n` or without a terminal, ends at once with that error: never retried, never a
    /// success, whatever code the modules returned. An interruption after failed tries (the end
    /// of `-S` input, Ctrl-C at the second prompt) reports those tries, as sudo does: the person
    /// learns why they failed, not only that they stopped.
    public func authenticate(tries: Int = 3) throws(AuthError) {
        let tries = max(tries, 1)
        var failedSoFar: AuthError?
        for attempt in 1...tries {
            let status = call { pam_authenticate($0, Int32(PAM_DISALLOW_NULL_AUTHTOK)) }
            switch conversation.failure {
            case .passwordTooLong?:
                conversation.prompter.error(AuthError.passwordTooLong.description)
                failedSoFar = .passwordTooLong
            case .interrupted?:
                throw failedSoFar ?? .interrupted
            case let failure?:
                throw failure
            case nil:
                switch status {
                case PAM_SUCCESS:
                    return
                case PAM_MAXTRIES:
                    throw .wrongPassword(tries: attempt)
                case PAM_AUTH_ERR, PAM_USER_UNKNOWN, PAM_CRED_INSUFFICIENT, PAM_AUTHINFO_UNAVAIL, PAM_PERM_DENIED:
                    // Refused without a question (pam_deny, a locked-out user): not a wrong password,
                    // and asking again would get the same answer.
                    guard conversation.prompted else {
                        throw .refused(service: service, message: pamMessage(handle, status))
                    }
                    failedSoFar = .wrongPassword(tries: attempt)  // a failed try
                default:
                    throw .pam(code: status, message: pamMessage(handle, status))
                }
            }
            if attempt < tries { conversation.prompter.error("Sorry, try again.") }
        }
        throw .wrongPassword(tries: tries)
    }

    /// The account phase (`pam_acct_mgmt`): expired, locked or time-restricted accounts are
    /// refused. An expired password must be changed now (`PAM_CHANGE_EXPIRED_AUTHTOK`).
    public func checkAccount() throws(AuthError) {
        let status = call { pam_acct_mgmt($0, 0) }
        try throwConversationFailure()
        switch status {
        case PAM_SUCCESS:
            return
        case PAM_NEW_AUTHTOK_REQD:
            let changed = call { pam_chauthtok($0, Int32(PAM_CHANGE_EXPIRED_AUTHTOK)) }
            try throwConversationFailure()
            guard changed == PAM_SUCCESS else {
                throw .accountUnavailable(
                    "the password has expired and was not changed (\(pamMessage(handle, changed)))")
            }
        case PAM_ACCT_EXPIRED, PAM_AUTHTOK_EXPIRED, PAM_PERM_DENIED, PAM_AUTH_ERR, PAM_USER_UNKNOWN:
            throw .accountUnavailable(pamMessage(handle, status))
        default:
            throw .pam(code: status, message: pamMessage(handle, status))
        }
    }

    /// Makes `name` the transaction's user (PAM_USER) for what follows: as sudo does, the account
    /// check is the invoking user's and the credentials and session are the target's, so the
    /// target's `pam_limits` entries (not the invoker's) apply to the command.
    public func switchUser(to name: String) throws(AuthError) {
        try setItem(PAM_USER, name)
    }

    /// `pam_setcred(PAM_ESTABLISH_CRED)`, undone by `closeSession()`.
    public func establishCredentials() throws(AuthError) {
        try require(call { pam_setcred($0, Int32(PAM_ESTABLISH_CRED)) })
        credentialsEstablished = true
    }

    /// `pam_open_session`, undone by `closeSession()`.
    public func openSession() throws(AuthError) {
        try require(call { pam_open_session($0, 0) })
        sessionOpen = true
    }

    /// `pam_close_session`, then `pam_setcred(PAM_DELETE_CRED)`, each only if it was opened.
    /// Both are attempted; the first failure is thrown.
    public func closeSession() throws(AuthError) {
        var failure: AuthError?
        if sessionOpen {
            sessionOpen = false
            do { try require(call { pam_close_session($0, 0) }) } catch { failure = error }
        }
        if credentialsEstablished {
            credentialsEstablished = false
            do { try require(call { pam_setcred($0, Int32(PAM_DELETE_CRED)) }) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// Runs one PAM call with a fresh conversation state and remembers its status for `pam_end`.
    private func call(_ body: (OpaquePointer) -> Int32) -> Int32 {
        conversation.reset()
        lastStatus = body(handle)
        return lastStatus
    }

    /// A prompt failure during the last call ends it, whatever the modules returned.
    private func throwConversationFailure() throws(AuthError) {
        if let failure = conversation.failure { throw failure }
    }

    /// Throws a conversation failure, or `.pam` for any status but success.
    private func require(_ status: Int32) throws(AuthError) {
        try throwConversationFailure()
        guard status == PAM_SUCCESS else { throw .pam(code: status, message: pamMessage(handle, status)) }
    }

    /// `pam_set_item` for a string item.
    private func setItem(_ item: Int32, _ value: String) throws(AuthError) {
        try require(call { pam_set_item($0, item, value) })
    }
}

/// Whether a configuration for `service` exists where Linux-PAM looks for it. Used only to
/// explain a failed `pam_start` (Linux-PAM falls back to "other" and fails when that is missing).
private func isServiceConfigured(_ service: String, confdir: String?) -> Bool {
    guard !service.isEmpty, !service.contains("/") else { return false }
    let directories = confdir.map { [$0] } ?? ["/etc/pam.d", "/usr/lib/pam.d"]
    return directories.contains { access(pamServiceFile(service, directory: $0), F_OK) == 0 }
}
