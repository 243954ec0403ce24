import CPAM
import JitexecBase

#if canImport(Glibc)
    import Glibc
#endif

/// What the conversation function needs, reached through `appdata_ptr`. `PAMSession` keeps it
/// retained (`Unmanaged`) until after `pam_end`, so PAM never calls back into freed memory.
final class ConversationState {
    let prompter: any Prompter
    /// What replaces the modules' generic "Password: " prompt (`[jitexec] password for alice: `,
    /// as sudo does), so the person sees which program and whose password; nil keeps it.
    let passwordPrompt: String?
    /// The first error a prompter raised during the current PAM call. Modules may turn a failed
    /// conversation into any return code (or ignore it), so the session decides from this, not
    /// from the code PAM returns.
    private(set) var failure: AuthError?
    /// Whether the modules asked anything during the current PAM call. A call that fails without
    /// asking was refused by the modules themselves: a retry cannot change its answer.
    private(set) var prompted = false
    /// Test hook: called with each answer's buffer right after it was wiped.
    var afterWipe: ((UnsafeRawBufferPointer) -> Void)?

    init(prompter: any Prompter, passwordPrompt: String? = nil) {
        self.prompter = prompter
        self.passwordPrompt = passwordPrompt
    }

    /// The prompt to show for a module's hidden prompt `text`: `passwordPrompt` in place of the
    /// generic "Password:", any other text (an OTP module's question) as the module wrote it.
    func hiddenPrompt(_ text: String) -> String {
        guard let passwordPrompt, text.trimmingWhitespace == "Password:" else { return text }
        return passwordPrompt
    }

    /// Keeps the first failure of a PAM call.
    func record(_ error: AuthError) {
        if failure == nil { failure = error }
    }

    /// Notes that the modules asked a question.
    func recordPrompt() { prompted = true }

    /// Forgets the failure and the prompts before the next PAM call.
    func reset() {
        failure = nil
        prompted = false
    }
}

/// The PAM conversation function. It cannot capture anything: its state comes in `appdata`.
/// Answers are `malloc`'d C strings in a `calloc`'d array that PAM frees. Any failure (unknown
/// message style, an answer PAM cannot hold, a prompter error) frees and wipes every answer
/// given so far, leaves `*responses` nil and returns `PAM_CONV_ERR`.
func pamConversation(
    _ count: Int32,
    _ messages: UnsafeMutablePointer<UnsafePointer<pam_message>?>?,
    _ responses: UnsafeMutablePointer<UnsafeMutablePointer<pam_response>?>?,
    _ appdata: UnsafeMutableRawPointer?
) -> Int32 {
    guard let responses else { return PAM_CONV_ERR }
    responses.pointee = nil
    guard let messages, let appdata, count > 0, count <= PAM_MAX_NUM_MSG else { return PAM_CONV_ERR }
    let state = Unmanaged<ConversationState>.fromOpaque(appdata).takeUnretainedValue()
    guard let memory = calloc(Int(count), MemoryLayout<pam_response>.stride) else { return PAM_BUF_ERR }
    let replies = memory.bindMemory(to: pam_response.self, capacity: Int(count))
    for index in 0..<Int(count) {
        // Linux-PAM passes an array of pointers, one per message.
        guard let message = messages[index], answer(message.pointee, into: &replies[index], state) else {
            releaseReplies(replies, count: index + 1)
            return PAM_CONV_ERR
        }
    }
    responses.pointee = replies
    return PAM_SUCCESS
}

/// Answers one message into `reply`. False means the conversation fails.
private func answer(_ message: pam_message, into reply: inout pam_response, _ state: ConversationState) -> Bool {
    let text = escapedMessage(message.msg)
    switch message.msg_style {
    case PAM_PROMPT_ECHO_OFF:
        return ask(state.hiddenPrompt(text), hidden: true, into: &reply, state)
    case PAM_PROMPT_ECHO_ON:
        return ask(text, hidden: false, into: &reply, state)
    case PAM_TEXT_INFO:
        state.prompter.info(text)
        return true
    case PAM_ERROR_MSG:
        state.prompter.error(text)
        return true
    default:
        return false  // PAM_BINARY_PROMPT and anything else: refuse what we do not understand
    }
}

/// Asks the prompter and copies the answer into a `malloc`'d C string. The prompter's array is
/// wiped on every path, including the refusals: longer than `maxAnswerBytes` (never truncated)
/// or containing a NUL byte (which C would silently cut).
private func ask(_ text: String, hidden: Bool, into reply: inout pam_response, _ state: ConversationState) -> Bool {
    state.recordPrompt()
    var bytes: [UInt8]
    do {
        bytes = hidden ? try state.prompter.promptHidden(text) : try state.prompter.promptVisible(text)
    } catch {
        state.record(error)
        return false
    }
    defer {
        wipe(&bytes)
        if let hook = state.afterWipe { bytes.withUnsafeBytes { hook($0) } }
    }
    guard bytes.count <= maxAnswerBytes else {
        state.record(.passwordTooLong)
        return false
    }
    guard !bytes.contains(0), let copy = malloc(bytes.count + 1) else { return false }
    bytes.withUnsafeBytes { source in
        if let base = source.baseAddress { copy.copyMemory(from: base, byteCount: source.count) }
    }
    copy.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
    reply.resp = copy.assumingMemoryBound(to: CChar.self)
    reply.resp_retcode = 0
    return true
}

/// Wipes and frees the first `count` answers and the array itself.
private func releaseReplies(_ replies: UnsafeMutablePointer<pam_response>, count: Int) {
    for index in 0..<count {
        if let resp = replies[index].resp {
            explicit_bzero(resp, strlen(resp))
            free(resp)
        }
    }
    free(replies)
}

/// A module's message made safe to print: each line escaped (a module could send control
/// sequences), line breaks kept, one trailing newline dropped (prompters add their own).
func escapedMessage(_ message: UnsafePointer<CChar>?) -> String {
    guard let message else { return "" }
    var bytes = Array(UnsafeBufferPointer(start: message, count: strlen(message))).map { UInt8(bitPattern: $0) }
    if bytes.last == 0x0a { bytes.removeLast() }
    return bytes.split(separator: 0x0a, omittingEmptySubsequences: false)
        .map { Escape.text(Array($0)) }
        .joined(separator: "\n")
}
