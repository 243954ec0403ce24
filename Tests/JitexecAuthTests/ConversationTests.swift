import CPAM
import Testing

@testable import JitexecAuth

#if canImport(Glibc)
    import Glibc
#endif

/// Calls `pamConversation` directly with crafted messages, the way libpam would.
struct CraftedConversation {
    let state: ConversationState
    private let retained: Unmanaged<ConversationState>

    init(_ prompter: any Prompter) {
        state = ConversationState(prompter: prompter)
        retained = Unmanaged.passRetained(state)
    }

    /// Runs the conversation over `(style, text)` messages. Returns the status and the answers
    /// (nil where PAM would get no string), and frees what the conversation allocated, as PAM does.
    func run(_ messages: [(Int32, String)], appdata: Bool = true) -> (status: Int32, responses: [String?]?) {
        let texts = messages.map { strdup($0.1)! }
        defer { for text in texts { free(text) } }
        let items = UnsafeMutablePointer<pam_message>.allocate(capacity: max(messages.count, 1))
        defer { items.deallocate() }
        let pointers = UnsafeMutablePointer<UnsafePointer<pam_message>?>.allocate(capacity: max(messages.count, 1))
        defer { pointers.deallocate() }
        for (index, message) in messages.enumerated() {
            items[index] = pam_message(msg_style: message.0, msg: texts[index])
            pointers[index] = UnsafePointer(items + index)
        }
        // A sentinel that a conversation which fails must overwrite with nil.
        var responses: UnsafeMutablePointer<pam_response>? = UnsafeMutablePointer(bitPattern: 0xdead)
        let status = pamConversation(
            Int32(messages.count), pointers, &responses,
            appdata ? retained.toOpaque() : nil)
        guard let replies = responses else { return (status, nil) }
        var answers: [String?] = []
        for index in 0..<messages.count {
            answers.append(replies[index].resp.map { String(cString: $0) })
            free(replies[index].resp)
        }
        free(replies)
        return (status, answers)
    }

    func release() { retained.release() }
}

@Suite struct ConversationTests {
    @Test func answersPromptsAndShowsMessages() {
        let prompter = ScriptedPrompter(answers: "hidden", "visible")
        let conversation = CraftedConversation(prompter)
        defer { conversation.release() }
        let result = conversation.run([
            (PAM_PROMPT_ECHO_OFF, "Password: "), (PAM_TEXT_INFO, "hello"),
            (PAM_PROMPT_ECHO_ON, "Code: "), (PAM_ERROR_MSG, "careful"),
        ])
        #expect(result.status == PAM_SUCCESS)
        #expect(result.responses! == ["hidden", nil, "visible", nil])
        #expect(prompter.prompts == ["Password: ", "Code: "])
        #expect(prompter.infos == ["hello"])
        #expect(prompter.errors == ["careful"])
    }

    @Test(arguments: [99, PAM_BINARY_PROMPT, 0])
    func unknownMessageStyleIsRefused(style: Int32) {
        let prompter = ScriptedPrompter(answers: "secret", "again")
        let conversation = CraftedConversation(prompter)
        defer { conversation.release() }
        var wiped: [Bool] = []
        conversation.state.afterWipe = { buffer in wiped.append(buffer.allSatisfy { $0 == 0 }) }
        // The answer to the first prompt must be wiped and freed, not handed to PAM.
        let result = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: "), (style, "???")])
        #expect(result.status == PAM_CONV_ERR)
        #expect(result.responses == nil)
        #expect(wiped == [true])
    }

    @Test func malformedCallsAreRefused() {
        let conversation = CraftedConversation(ScriptedPrompter(answers: "x"))
        defer { conversation.release() }
        #expect(conversation.run([]).status == PAM_CONV_ERR)
        #expect(conversation.run([(PAM_TEXT_INFO, "hi")], appdata: false).status == PAM_CONV_ERR)
        let tooMany = Array(repeating: (PAM_TEXT_INFO, "hi"), count: Int(PAM_MAX_NUM_MSG) + 1)
        #expect(conversation.run(tooMany).status == PAM_CONV_ERR)
    }

    @Test func answerLongerThanPAMAcceptsIsRefusedNotTruncated() {
        let long = String(repeating: "x", count: maxAnswerBytes + 1)
        let prompter = ScriptedPrompter(answers: long)
        let conversation = CraftedConversation(prompter)
        defer { conversation.release() }
        let result = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")])
        #expect(result.status == PAM_CONV_ERR)
        #expect(result.responses == nil)
        #expect(conversation.state.failure == .passwordTooLong)
    }

    @Test func answerOfTheMaximumLengthPassesWhole() {
        let exact = String(repeating: "y", count: maxAnswerBytes)
        let conversation = CraftedConversation(ScriptedPrompter(answers: exact))
        defer { conversation.release() }
        let result = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")])
        #expect(result.status == PAM_SUCCESS)
        #expect(result.responses! == [exact])
    }

    @Test func answerWithANULByteIsRefused() {
        let prompter = ScriptedPrompter([.answer([0x61, 0x00, 0x62])])
        let conversation = CraftedConversation(prompter)
        defer { conversation.release() }
        #expect(conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")]).status == PAM_CONV_ERR)
    }

    @Test func prompterErrorIsRecordedForTheSession() {
        let conversation = CraftedConversation(ScriptedPrompter([.fail(.noTerminal), .fail(.interrupted)]))
        defer { conversation.release() }
        let result = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")])
        #expect(result.status == PAM_CONV_ERR)
        #expect(result.responses == nil)
        #expect(conversation.state.failure == .noTerminal)
        _ = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")])
        #expect(conversation.state.failure == .noTerminal, "the first failure of a PAM call is kept")
        conversation.state.reset()
        #expect(conversation.state.failure == nil)
    }

    @Test func messagesWithControlSequencesAreEscapedLineByLine() {
        let prompter = ScriptedPrompter(answers: "x")
        let conversation = CraftedConversation(prompter)
        defer { conversation.release() }
        _ = conversation.run([
            (PAM_TEXT_INFO, "line one\n\u{1b}[2Jline two\n"), (PAM_PROMPT_ECHO_OFF, "\u{1b}[8mPassword: "),
        ])
        #expect(prompter.infos == ["line one\n\\x1b[2Jline two"])
        #expect(prompter.prompts == ["\\x1b[8mPassword: "])
    }
}

/// The password buffer the prompter hands over is wiped in place after use, on success and on
/// every refusal, and it is the very storage the prompter produced (no copy left behind).
@Suite struct PasswordWipingTests {
    /// What the wipe hook saw: where the buffer was, how long, and whether it was all zeros.
    final class Observations {
        var seen: [(address: UInt, count: Int, zeroed: Bool)] = []
    }

    private func observe(_ state: ConversationState) -> Observations {
        let observations = Observations()
        state.afterWipe = { buffer in
            observations.seen.append(
                (UInt(bitPattern: buffer.baseAddress), buffer.count, buffer.allSatisfy { $0 == 0 }))
        }
        return observations
    }

    @Test func answerIsWipedInPlaceAfterARealPAMConversation() throws {
        let pam = PAMFixture()
        defer { pam.remove() }
        let prompter = ScriptedPrompter(answers: "wrong", "secret")
        let session = try pam.session(prompter)
        let observations = observe(session.conversation)
        try session.authenticate()
        #expect(observations.seen.map(\.count) == [5, 6])
        #expect(observations.seen.allSatisfy { $0.zeroed })
        #expect(observations.seen.map(\.address) == prompter.handedOut)
    }

    @Test func refusedAnswersAreWipedToo() {
        let long = String(repeating: "z", count: maxAnswerBytes + 10)
        let prompter = ScriptedPrompter([.answer(Array(long.utf8)), .answer([0x70, 0x00, 0x71])])
        let conversation = CraftedConversation(prompter)
        defer { conversation.release() }
        let observations = observe(conversation.state)
        _ = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")])
        _ = conversation.run([(PAM_PROMPT_ECHO_OFF, "Password: ")])
        #expect(observations.seen.map(\.count) == [long.utf8.count, 3])
        #expect(observations.seen.allSatisfy { $0.zeroed })
        #expect(observations.seen.map(\.address) == prompter.handedOut)
    }

    @Test func wipeZeroesUniqueStorageInPlace() {
        var bytes: [UInt8] = Array("hunter2".utf8)
        let before = bytes.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        wipe(&bytes)
        #expect(bytes == [UInt8](repeating: 0, count: 7))
        #expect(bytes.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == before)
    }
}
