import FuzzDriver
import JitexecBase

/// libFuzzer target: escaping of user text. The escaped form must contain no control character,
/// no bidi/format, invisible or blank-looking character, and no combining mark at its start;
/// the JSON form must give back the exact bytes, and its printable form must hide nothing a
/// terminal would not show. The input split at NUL bytes is also an argv: its one-line display
/// must read back to exactly that argv (so two argv never show alike).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEscape(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = UserText(bytes: bytes)
    let escaped = text.escaped
    for scalar in escaped.unicodeScalars where scalar != " " {
        let p = scalar.properties
        switch p.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator, .unassigned, .privateUse,
            .surrogate:
            fatalError("unsafe scalar \(scalar.value) survived escaping")
        default: break
        }
        if p.isDefaultIgnorableCodePoint || p.isWhitespace || p.isBidiControl || scalar.value == 0x2800 {
            fatalError("invisible scalar \(scalar.value) survived escaping")
        }
    }
    if let first = escaped.unicodeScalars.first {
        switch first.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: fatalError("escaped text starts with a combining mark")
        default: break
        }
    }
    guard UserText(json: text.jsonValue) == text else { fatalError("JSON round trip lost bytes") }
    guard (try? JSONValue.parse(text.jsonValue.canonical)) == text.jsonValue else {
        fatalError("canonical JSON does not parse back")
    }
    let printable = text.jsonValue.printable
    for scalar in printable.unicodeScalars {
        let v = scalar.value
        if v < 0x20 || (0x7f...0x9f).contains(v) || v == 0x2028 || v == 0x2029 || scalar.properties.isBidiControl
            || scalar.properties.isDefaultIgnorableCodePoint
        {
            fatalError("printable JSON keeps scalar \(v) raw")
        }
    }
    guard (try? JSONValue.parse(printable)) == text.jsonValue else { fatalError("printable JSON does not parse back") }

    let argv = bytes.split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
    let shown = Escape.argv(argv.map { UserText(bytes: $0) })
    guard Escape.parseArgv(shown) == argv else { fatalError("argv display does not read back: \(shown)") }
    return 0
}

@_cdecl("fuzz_escape_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzEscape(data, size) }
}
