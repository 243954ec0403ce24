import JitexecSystem
import Synchronization
import Testing

@testable import JitexecAuth

#if canImport(Glibc)
    import Glibc
#endif

/// A settable `CLOCK_BOOTTIME` for the cache.
final class FakeBootClock: Sendable {
    private let seconds = Mutex<Int64>(1000)
    func set(_ value: Int64) { seconds.withLock { $0 = value } }
    var read: @Sendable () -> Int64 { { self.seconds.withLock { $0 } } }
}

/// A cache in a fresh directory (`<tmp>/cache`, not created yet) with a fake clock.
struct CacheFixture {
    let root = TemporaryDirectory()
    let clock = FakeBootClock()
    var directory: String { root.path + "/cache" }

    func cache(ttl: Int64 = 300, bootID: String = "0123abcd-0000-4000-8000-00000000beef") -> CredentialCache {
        CredentialCache(directory: directory, ttlSeconds: ttl, bootClock: clock.read, bootID: bootID)
    }

    func file(_ uid: UInt32) -> String { directory + "/\(uid)" }
    func remove() { root.remove() }

    /// A cache where `uid` authenticated in `terminalScope`, then in `otherTerminalScope`.
    func cacheWithTwoSessions() throws -> CredentialCache {
        let cache = cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        try cache.refresh(uid: uid, scope: otherTerminalScope)
        return cache
    }
}

let terminalScope = SessionScope(terminalDevice: 34816, processID: 4242, processStartTime: 777)
let otherTerminalScope = SessionScope(terminalDevice: 34817, processID: 5000, processStartTime: 9)
let uid: UInt32 = 1000

@Suite struct CredentialCacheTests {
    @Test func freshWithinTheTTLAndNotAfter() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache(ttl: 300)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(cache.isFresh(uid: uid, scope: terminalScope))
        expectFresh(cache, fixture.clock, until: 1300)
    }

    @Test func aRefreshInTheSameSecondLeavesTheFileAndALaterOneExtendsIt() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache(ttl: 300)
        try cache.refresh(uid: uid, scope: terminalScope)
        let first = try #require(fileStatus(fixture.file(uid))?.st_ino)
        // Same second, same session: the file would be written with the same text, so it is not.
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(fileStatus(fixture.file(uid))?.st_ino == first)
        // A later second: rewritten, and the TTL counts from the new time.
        fixture.clock.set(1200)
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(fileStatus(fixture.file(uid))?.st_ino != first)
        expectFresh(cache, fixture.clock, until: 1500)
    }

    /// Fresh in the last second before `end`, and not from `end` on.
    func expectFresh(
        _ cache: CredentialCache, _ clock: FakeBootClock, until end: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        clock.set(end - 1)
        #expect(cache.isFresh(uid: uid, scope: terminalScope), sourceLocation: sourceLocation)
        clock.set(end)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope), sourceLocation: sourceLocation)
    }

    @Test func aRefreshInTheSameSecondStillRecordsAnotherSession() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = try fixture.cacheWithTwoSessions()
        let other = otherTerminalScope
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(cache.isFresh(uid: uid, scope: terminalScope))
        #expect(cache.isFresh(uid: uid, scope: other))
        // The last refresh moved this session to the end: the file names both, this one last.
        let lines = try #require(readFile(fixture.file(uid))).split(separator: 0x0a)
        #expect(lines.count == 2)
        #expect(lines.last.map { String(decoding: $0, as: UTF8.self).hasSuffix(" 4242 777 1000") } == true)
    }

    @Test(arguments: [
        SessionScope(terminalDevice: 34817, processID: 4242, processStartTime: 777),
        SessionScope(terminalDevice: 34816, processID: 4243, processStartTime: 777),
        SessionScope(terminalDevice: 34816, processID: 4242, processStartTime: 778),
        SessionScope(terminalDevice: nil, processID: 4242, processStartTime: 777),
    ])
    func anotherTerminalOrSessionLeaderIsNotHonoured(other: SessionScope) throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(!cache.isFresh(uid: uid, scope: other))
        #expect(cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func anotherUserIsNotHonoured() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(!cache.isFresh(uid: uid + 1, scope: terminalScope))
        // Another user's file put in place of mine is not mine either.
        #expect(rename(fixture.file(uid), fixture.file(uid + 1)) == 0)
        #expect(!cache.isFresh(uid: uid + 1, scope: terminalScope))
    }

    @Test func anotherBootIsNotHonoured() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        try fixture.cache(bootID: "aaaa-1111").refresh(uid: uid, scope: terminalScope)
        #expect(fixture.cache(bootID: "aaaa-1111").isFresh(uid: uid, scope: terminalScope))
        #expect(!fixture.cache(bootID: "bbbb-2222").isFresh(uid: uid, scope: terminalScope))
    }

    @Test func entryFromTheFutureIsNotHonoured() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        fixture.clock.set(999)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func removeForgets() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        try cache.refresh(uid: uid + 1, scope: terminalScope)
        cache.remove(uid: uid)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        #expect(cache.isFresh(uid: uid + 1, scope: terminalScope), "other users keep theirs")
    }

    @Test func removingOneScopeKeepsTheUsersOtherSessions() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = try fixture.cacheWithTwoSessions()
        let other = otherTerminalScope
        try cache.remove(uid: uid, scope: terminalScope)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        #expect(cache.isFresh(uid: uid, scope: other), "-k forgets this terminal only")
        try cache.remove(uid: uid, scope: other)
        #expect(!cache.isFresh(uid: uid, scope: other))
    }

    @Test(arguments: [Int64(0), -5])
    func zeroTTLDisablesTheCache(ttl: Int64) throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache(ttl: ttl)
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        #expect(fileStatus(fixture.directory) == nil, "nothing was written")
    }

    @Test func emptyBootIDDisablesTheCache() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache(bootID: "")
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func filesAreRootOnly() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        try fixture.cache().refresh(uid: uid, scope: terminalScope)
        let file = try #require(fileStatus(fixture.file(uid)))
        #expect(file.st_mode & S_IFMT == S_IFREG)
        #expect(file.st_mode & 0o7777 == 0o600)
        #expect(file.st_uid == geteuid())
        #expect(try #require(fileStatus(fixture.directory)).st_mode & 0o7777 == 0o700)
        #expect(directoryNames(fixture.directory) == ["\(uid)"], "no temporary file left behind")
    }

    @Test func looseDirectoryIsTightenedAndOthersWritableOneRefused() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        mkdir(fixture.directory, 0o700)
        chmod(fixture.directory, 0o755)
        try fixture.cache().refresh(uid: uid, scope: terminalScope)
        #expect(try #require(fileStatus(fixture.directory)).st_mode & 0o7777 == 0o700)
        chmod(fixture.directory, 0o777)
        #expect(throws: CredentialCacheError.self) { try fixture.cache().refresh(uid: uid, scope: terminalScope) }
        #expect(!fixture.cache().isFresh(uid: uid, scope: terminalScope))
    }

    @Test func fileWithTheWrongModeIsIgnoredAndReplaced() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        chmod(fixture.file(uid), 0o644)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(cache.isFresh(uid: uid, scope: terminalScope))
        #expect(try #require(fileStatus(fixture.file(uid))).st_mode & 0o7777 == 0o600)
    }

    @Test(.enabled(if: geteuid() == 0, "chown needs root; CI runs as root"))
    func fileOwnedBySomeoneElseIsIgnored() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(chown(fixture.file(uid), 65534, 65534) == 0)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func hardLinkedFileIsIgnored() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(link(fixture.file(uid), fixture.root.path + "/elsewhere") == 0)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func plantedSymlinkIsNotFollowed() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        // A valid cache file elsewhere: following the link would make the entry fresh.
        let decoy = CacheFixture()
        defer { decoy.remove() }
        try decoy.cache().refresh(uid: uid, scope: terminalScope)
        let target = decoy.file(uid)
        let original = try #require(readFile(target))
        mkdir(fixture.directory, 0o700)
        #expect(symlink(target, fixture.file(uid)) == 0)

        let cache = fixture.cache()
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        fixture.clock.set(1100)
        try cache.refresh(uid: uid, scope: terminalScope)
        #expect(readFile(target) == original, "the symlink target is untouched")
        let replaced = try #require(fileStatus(fixture.file(uid)))
        #expect(replaced.st_mode & S_IFMT == S_IFREG, "the link itself was replaced")
        #expect(cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func malformedFileIsIgnored() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        try cache.refresh(uid: uid, scope: terminalScope)
        let good = try #require(readFile(fixture.file(uid)))
        writeFile(fixture.file(uid), good + Array("garbage line\n".utf8), mode: 0o600)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
    }

    @Test func severalSessionsOfOneUserEachKeepTheirEntry() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache()
        let other = SessionScope(terminalDevice: nil, processID: 5151, processStartTime: 9)
        try cache.refresh(uid: uid, scope: terminalScope)
        fixture.clock.set(1100)
        try cache.refresh(uid: uid, scope: other)
        #expect(cache.isFresh(uid: uid, scope: terminalScope))
        #expect(cache.isFresh(uid: uid, scope: other))
        // The first expires on its own schedule.
        fixture.clock.set(1350)
        #expect(!cache.isFresh(uid: uid, scope: terminalScope))
        #expect(cache.isFresh(uid: uid, scope: other))
    }

    @Test func listIsBoundedAndExpiredEntriesAreDropped() throws {
        let fixture = CacheFixture()
        defer { fixture.remove() }
        let cache = fixture.cache(ttl: 300)
        try cache.refresh(uid: uid, scope: SessionScope(terminalDevice: 1, processID: 1, processStartTime: 1))
        fixture.clock.set(1400)  // the first is now expired
        for pid in Int32(2)...Int32(30) {
            try cache.refresh(uid: uid, scope: SessionScope(terminalDevice: nil, processID: pid, processStartTime: 1))
        }
        let lines = try #require(readFile(fixture.file(uid))).split(separator: 0x0a)
        #expect(lines.count == CredentialCache.maxEntries)
        #expect(cache.isFresh(uid: uid, scope: SessionScope(terminalDevice: nil, processID: 30, processStartTime: 1)))
        #expect(!cache.isFresh(uid: uid, scope: SessionScope(terminalDevice: nil, processID: 2, processStartTime: 1)))
    }
}

@Suite struct SessionScopeTests {
    @Test func withoutATerminalTheParentProcessIsTheScope() throws {
        guard getppid() > 1 else {
            // Reparented to init (or the runner is a namespace's init): no parent to tie a cache to.
            #expect(SessionScope.current(ttyFD: nil) == nil)
            return
        }
        let scope = try #require(SessionScope.current(ttyFD: nil))
        #expect(scope.terminalDevice == nil)
        #expect(scope.processID == getppid())
        #expect(scope.processStartTime > 0)
    }

    @Test func aDescriptorThatIsNotATerminalGivesNoScope() {
        let pipe = makePipe()
        defer {
            close(pipe.read)
            close(pipe.write)
        }
        #expect(SessionScope.current(ttyFD: pipe.read) == nil)
    }

    @Test func startTimeIsReadPastACommandNameWithSpacesAndParentheses() throws {
        // Field 22 of our own stat line, found by hand, must match the parser.
        let line = try #require(readFile("/proc/self/stat"))
        let afterName = line[(line.lastIndex(of: UInt8(ascii: ")"))! + 2)...]
        let fields = afterName.split(separator: 0x20)
        #expect(startTime(ofProcess: getpid()) == UInt64(String(decoding: fields[19], as: UTF8.self)))
        #expect(startTime(ofProcess: -1) == nil)
    }

    @Test func deviceNumbersAreEncodedLikeGlibc() {
        #expect(deviceNumber(major: 136, minor: 3) == 0x8803)
        #expect(deviceNumber(major: 5, minor: 0) == 0x500)
        // /proc/PID/stat's tty_nr for /dev/pts/0 and /dev/pts/300.
        #expect(deviceNumber(kernelEncoded: 34816) == deviceNumber(major: 136, minor: 0))
        #expect(deviceNumber(kernelEncoded: 44 | 136 << 8 | 1 << 20) == deviceNumber(major: 136, minor: 300))
        #expect(deviceNumber(major: 136, minor: 300) == (136 << 8 | (300 & 0xff) | (300 & ~0xff) << 12))
    }

    @Test func bootIDAndBootClockAreAvailable() {
        #expect(systemBootID().utf8.count == 36)
        #expect(bootTimeSeconds() > 0)
    }
}
