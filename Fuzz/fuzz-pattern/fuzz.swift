import FuzzDriver
import JitexecBase
import JitexecPolicy

/// libFuzzer target: the first line is a command pattern, the rest NUL-separated argv bytes.
/// Parsing and matching must never crash, and a pattern of literal words matches its own words
/// (a `sudoedit` pattern lists files that may be edited: with none it allows nothing, and
/// `jitctl check` refuses it, so it is left out of that property).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPattern(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cut = bytes.firstIndex(of: 0x0a) ?? bytes.count
    let patternText = String(decoding: bytes[..<cut], as: UTF8.self)
    let rest = cut < bytes.count ? Array(bytes[(cut + 1)...]) : []
    let args = rest.split(separator: 0, omittingEmptySubsequences: false).map { UserText(bytes: Array($0)) }
    guard let pattern = try? CommandPattern.parse(patternText) else { return 0 }
    _ = pattern.matches(path: pattern.path, args: args)
    _ = pattern.matches(path: "/usr/bin/true", args: args)
    let plain = pattern.args.allSatisfy { word in !word.contains { "*?[]\\".contains($0) } }
    let editsNothing = pattern.path == CommandPattern.sudoedit && pattern.args.isEmpty
    if plain && !pattern.anyRest && !pattern.pathIsGlob && !editsNothing,
        !pattern.matches(path: pattern.path, args: pattern.args.map { UserText($0) })
    {
        fatalError("literal pattern does not match its own words: \(patternText)")
    }
    return 0
}

@_cdecl("fuzz_pattern_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzPattern(data, size) }
}
