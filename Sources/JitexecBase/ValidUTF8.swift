extension String {
    /// The bytes as a String when they are valid UTF-8, nil otherwise: what
    /// `String(validating:as:)` returns. That call instantiates generic metadata
    /// (`Unicode.ParseResult<UnsafeBufferPointer<UInt8>>`) at every use, about 300 instructions
    /// (callgrind), and the hot path validates a few hundred strings: the compiled policy's, the
    /// environment's names. Decoding replaces each invalid sequence with U+FFFD, so the decoded
    /// text's UTF-8 is the input byte for byte exactly when the input was valid.
    package init?(validUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        let decoded = String(decoding: bytes, as: UTF8.self)
        guard bytes.allSatisfy({ $0 < 0x80 }) || decoded.utf8.elementsEqual(bytes) else { return nil }
        self = decoded
    }

    /// `init(validUTF8:)` of an array's bytes.
    package init?(validUTF8 bytes: [UInt8]) {
        guard let text = bytes.withUnsafeBufferPointer({ String(validUTF8: $0) }) else { return nil }
        self = text
    }
}
