extension StringProtocol {
    /// Without leading and trailing whitespace (spaces, tabs, newlines).
    public var trimmingWhitespace: SubSequence {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return self[endIndex...] }
        return self[first...last]
    }
}

extension String {
    /// The text of a C buffer up to its first NUL (an error message a C library wrote into it).
    public init(nulTerminated buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension StringProtocol {
    /// On one line: every run of whitespace (newlines too) becomes one space.
    public var oneLine: String { split(whereSeparator: { $0.isWhitespace }).joined(separator: " ") }
}
