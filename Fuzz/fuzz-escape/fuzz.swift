import FuzzDriver
import JitexecBase

/// libFuzzer target: escaping of user text. The escaped form must contain no control character,
/// no bidi/format character, and the JSON form must give back the exact bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEscape(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = UserText(bytes: Array(UnsafeBufferPointer(start: data, count: size)))
    for scalar in text.escaped.unicodeScalars {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .privateUse, .surrogate:
            fatalError("unsafe scalar \(scalar.value) survived escaping")
        default: break
        }
    }
    guard UserText(json: text.jsonValue) == text else { fatalError("JSON round trip lost bytes") }
    guard (try? JSONValue.parse(text.jsonValue.canonical)) == text.jsonValue else {
        fatalError("canonical JSON does not parse back")
    }
    return 0
}

@_cdecl("fuzz_escape_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzEscape(data, size) }
}
