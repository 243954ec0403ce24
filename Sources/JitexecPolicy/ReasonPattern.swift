import Glibc
import JitexecBase

/// `reason_pattern`: a POSIX extended regular expression (regcomp with REG_EXTENDED | REG_NOSUB).
public enum ReasonPattern {
    /// nil when `pattern` compiles, else regerror's explanation.
    public static func compileError(_ pattern: String) -> String? {
        var regex = regex_t()
        let status = regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB)
        if status == 0 {
            regfree(&regex)
            return nil
        }
        var buffer = [CChar](repeating: 0, count: 256)
        regerror(status, &regex, &buffer, buffer.count)
        return String(nulTerminated: buffer)
    }

    /// True when `text` (the reason or ticket, as bytes) has a match of `pattern`; false when the
    /// pattern does not compile or the text holds a NUL byte.
    public static func matches(_ pattern: String, _ text: UserText) -> Bool {
        guard !text.containsNUL else { return false }
        var regex = regex_t()
        guard regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB) == 0 else { return false }
        defer { regfree(&regex) }
        return text.withCString { regexec(&regex, $0, 0, nil, 0) == 0 }
    }
}
