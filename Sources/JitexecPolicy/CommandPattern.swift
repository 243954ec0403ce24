import JitexecBase

/// Why a command pattern could not be read.
public enum PatternError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The pattern has no words at all.
    case empty
    /// A `"` or `'` is never closed.
    case unbalancedQuote(Character)
    /// The pattern ends with a backslash that escapes nothing.
    case trailingBackslash
    /// `**` appears somewhere other than as the last word.
    case anyRestNotLast
    /// A NUL character: no argv word can contain one, so the word could never match.
    case containsNUL

    public var description: String {
        switch self {
        case .empty: return "the command pattern is empty"
        case .unbalancedQuote(let q): return "unbalanced \(q) quote in command pattern"
        case .trailingBackslash: return "command pattern ends with a lone backslash"
        case .anyRestNotLast: return "'**' may only be the last word of a command pattern"
        case .containsNUL: return "command pattern contains a NUL character, which no argument can"
        }
    }
}

/// One command pattern from `commands`: argv-based, never a joined string.
public struct CommandPattern: Hashable, Sendable, CustomStringConvertible {
    /// As written in the policy.
    public var source: String
    /// Absolute after load; canonicalized (realpath) at load when it is literal and exists.
    /// When `pathIsGlob` it is an fnmatch pattern matched with FNM_PATHNAME, else a literal path.
    public var path: String
    /// True when `path` has unquoted wildcards.
    public var pathIsGlob: Bool
    /// Each matches exactly one argument (fnmatch form, no FNM_PATHNAME; quoted parts are escaped).
    public var args: [String]
    /// A final unquoted `**`: any number (0+) of remaining arguments.
    public var anyRest: Bool

    public init(source: String, path: String, pathIsGlob: Bool = false, args: [String], anyRest: Bool) {
        self.source = source
        self.path = path
        self.pathIsGlob = pathIsGlob
        self.args = args
        self.anyRest = anyRest
    }

    public var description: String { source }

    /// The first word of a rule's command for files edited with `jitexec -e` (`sudoedit FILE...`);
    /// a real command's path is always absolute, so it never matches one.
    public static let sudoedit = "sudoedit"

    /// Splits `text` into words like a shell (tokenizing only, no filesystem access).
    public static func parse(_ text: String) throws(PatternError) -> CommandPattern {
        guard !text.utf8.contains(0) else { throw .containsNUL }
        let words = try PatternWord.split(text)
        guard let first = words.first else { throw .empty }
        var args: [String] = []
        var anyRest = false
        for (n, word) in words.enumerated().dropFirst() {
            if word.isAnyRest {
                guard n == words.count - 1 else { throw .anyRestNotLast }
                anyRest = true
            } else {
                args.append(word.pattern)
            }
        }
        if first.isAnyRest { throw .anyRestNotLast }
        let glob = Glob.hasWildcards(first.pattern)
        return CommandPattern(
            source: text, path: glob ? first.pattern : first.literal, pathIsGlob: glob, args: args,
            anyRest: anyRest)
    }

    /// True when the command at canonical `path` called with `args` (argv without argv[0]) matches.
    /// `sudoedit FILE...` patterns list the files that may be edited, together or one by one:
    /// every file given must match one of them (a `*` stays within one directory).
    public func matches(path candidate: String, args given: [UserText]) -> Bool {
        guard pathIsGlob ? Glob.matchesPath(path, candidate) : path == candidate else { return false }
        if !pathIsGlob && path == Self.sudoedit {
            return !given.isEmpty
                && given.allSatisfy { file in
                    file.string.map { name in args.contains { Glob.matchesPath($0, name) } } ?? false
                }
        }
        if anyRest {
            guard given.count >= args.count else { return false }
        } else {
            guard given.count == args.count else { return false }
        }
        for (pattern, arg) in zip(args, given) where !Glob.matches(pattern, arg) {
            return false
        }
        return true
    }
}

/// One shell-like word of a pattern, in fnmatch form and as plain text.
struct PatternWord {
    /// fnmatch form: quoted or backslash-escaped metacharacters are escaped.
    var pattern = ""
    /// The text with quotes and escapes removed.
    var literal = ""
    /// True when any part was quoted or escaped.
    var quoted = false

    /// An unquoted `**` word.
    var isAnyRest: Bool { !quoted && pattern == "**" }

    mutating func appendLiteral(_ c: Unicode.Scalar) {
        quoted = true
        if Glob.metacharacters.contains(Character(c)) { pattern.unicodeScalars.append("\\") }
        pattern.unicodeScalars.append(c)
        literal.unicodeScalars.append(c)
    }

    mutating func appendBare(_ c: Unicode.Scalar) {
        pattern.unicodeScalars.append(c)
        literal.unicodeScalars.append(c)
    }

    /// Whitespace separates words; `"..."` and `'...'` quote; a backslash (outside single quotes)
    /// takes the next character literally. Everything quoted is literal to the matcher. Works on
    /// Unicode scalars, not grapheme clusters: a combining mark after a backslash or a quote must
    /// not merge with it into one "character" that is neither.
    static func split(_ text: String) throws(PatternError) -> [PatternWord] {
        var words: [PatternWord] = []
        var current: PatternWord?
        var quote: Unicode.Scalar?
        var escaping = false
        for c in text.unicodeScalars {
            if escaping {
                current = current ?? PatternWord()
                current!.appendLiteral(c)
                escaping = false
            } else if let q = quote {
                if c == q {
                    quote = nil
                } else if c == "\\" && q == "\"" {
                    escaping = true
                } else {
                    current!.appendLiteral(c)
                }
            } else if c == "\"" || c == "'" {
                quote = c
                current = current ?? PatternWord()
                current!.quoted = true
            } else if c == "\\" {
                escaping = true
            } else if c.properties.isWhitespace {
                if let word = current { words.append(word) }
                current = nil
            } else {
                current = current ?? PatternWord()
                current!.appendBare(c)
            }
        }
        if let q = quote { throw .unbalancedQuote(Character(q)) }
        if escaping { throw .trailingBackslash }
        if let word = current { words.append(word) }
        return words
    }
}
