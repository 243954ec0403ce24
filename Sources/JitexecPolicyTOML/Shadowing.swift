import JitexecBase
import JitexecPolicy

/// Whether an earlier rule certainly matches every request a later rule matches. A sound
/// approximation: `true` only when that holds for every user, target, host and argv; many real
/// overlaps answer `false`.
extension Rule {
    func shadows(_ later: Rule) -> Bool {
        Set(users).isSuperset(of: later.users) && Set(runAs).isSuperset(of: later.runAs)
            && Set(runAsGroups ?? []).isSuperset(of: later.runAsGroups ?? []) && hostsCover(later.hosts)
            && later.commands.allSatisfy { theirs in commands.contains { $0.covers(theirs) } }
    }

    private func hostsCover(_ theirs: [String]) -> Bool {
        theirs.allSatisfy { host in
            hosts.contains("*") || hosts.contains(host)
                || (!Glob.hasWildcards(host) && hosts.contains { Glob.matches($0, UserText(Glob.literal(host))) })
        }
    }
}

extension CommandPattern {
    /// True when every (path, args) that `other` matches is also matched by this pattern.
    func covers(_ other: CommandPattern) -> Bool {
        guard coversPath(of: other) else { return false }
        if !pathIsGlob && path == Self.sudoedit {
            // Files: each of the other's must be one of mine, or a literal path one of mine matches
            // (a `*` within one directory, as jitexec -e matches).
            return other.args.allSatisfy { theirs in
                args.contains { mine in
                    mine == theirs
                        || (!Glob.hasWildcards(theirs) && Glob.matchesPath(mine, Glob.literal(theirs)))
                }
            }
        }
        if anyRest {
            guard other.args.count >= args.count else { return false }
        } else {
            guard !other.anyRest, other.args.count == args.count else { return false }
        }
        return zip(args, other.args).allSatisfy { CommandPattern.word($0, covers: $1) }
    }

    private func coversPath(of other: CommandPattern) -> Bool {
        if !pathIsGlob { return !other.pathIsGlob && path == other.path }
        if other.pathIsGlob { return path == other.path }
        return Glob.matchesPath(path, other.path)
    }

    /// One pattern word covers another when they are the same, it is `*`, or the other is a
    /// literal that it matches.
    private static func word(_ mine: String, covers theirs: String) -> Bool {
        mine == theirs || mine == "*"
            || (!Glob.hasWildcards(theirs) && Glob.matches(mine, UserText(Glob.literal(theirs))))
    }
}
