import Glibc
import JitexecBase

/// fnmatch(3) glob helpers on bytes. The process runs in the C locale, so every byte is one
/// character and text that is not UTF-8 still matches `*` and `?`.
package enum Glob {
    /// The characters that fnmatch treats specially; a backslash before one makes it literal.
    package static let metacharacters: Set<Character> = ["*", "?", "[", "]", "\\"]

    /// True when `pattern` (fnmatch form) matches `text` with no flags: `*` crosses `/`.
    package static func matches(_ pattern: String, _ text: UserText) -> Bool {
        guard !text.containsNUL else { return false }
        return text.withCString { fnmatch(pattern, $0, 0) == 0 }
    }

    /// True when `pattern` matches `text` with FNM_PATHNAME: `*` and `?` stay inside one path component.
    package static func matchesPath(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, FNM_PATHNAME) == 0
    }

    /// True when `pattern` has an unescaped `*`, `?` or `[`, so it may match more than one string.
    package static func hasWildcards(_ pattern: String) -> Bool {
        var escaped = false
        for c in pattern.unicodeScalars {
            if escaped {
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "*" || c == "?" || c == "[" {
                return true
            }
        }
        return false
    }

    /// The one string a pattern without wildcards matches: backslash escapes removed.
    package static func literal(_ pattern: String) -> String {
        var out = ""
        var escaped = false
        for c in pattern.unicodeScalars {
            if !escaped && c == "\\" {
                escaped = true
                continue
            }
            escaped = false
            out.unicodeScalars.append(c)
        }
        return out
    }

    /// `text` escaped so that fnmatch matches exactly it.
    package static func escape(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            if metacharacters.contains(Character(c)) { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out
    }
}
