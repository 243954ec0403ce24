import JitexecSystem

@testable import JitexecAuth

#if canImport(Glibc)
    import Glibc
#endif

/// A prompter that answers from a script and records everything it was shown. Each answer is
/// built in fresh storage when it is handed out, so the conversation receives an array that no
/// one else references (as the real prompters do), and the storage address is recorded.
final class ScriptedPrompter: Prompter {
    enum Step {
        case answer([UInt8])
        case fail(AuthError)
    }

    private var steps: [Step]
    var prompts: [String] = []
    var infos: [String] = []
    var errors: [String] = []
    /// Base address of every answer handed out, in order.
    var handedOut: [UInt] = []

    init(_ steps: [Step]) { self.steps = steps }
    convenience init(answers: String...) { self.init(answers.map { .answer(Array($0.utf8)) }) }

    func promptHidden(_ message: String) throws(AuthError) -> [UInt8] { try next(message) }
    func promptVisible(_ message: String) throws(AuthError) -> [UInt8] { try next(message) }
    func info(_ message: String) { infos.append(message) }
    func error(_ message: String) { errors.append(message) }

    /// Runs out as an interruption, so a test can never hang on a missing answer.
    private func next(_ message: String) throws(AuthError) -> [UInt8] {
        prompts.append(message)
        guard !steps.isEmpty else { throw .interrupted }
        switch steps.removeFirst() {
        case .fail(let error):
            throw error
        case .answer(let bytes):
            var fresh: [UInt8] = []
            fresh.reserveCapacity(bytes.count)
            fresh.append(contentsOf: bytes)
            handedOut.append(fresh.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) })
            return fresh
        }
    }
}

/// A temporary directory removed (with everything in it) by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/jitexec-auth-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = cText(template)
    }

    func remove() { removeTree(path) }

    /// Writes `text` to `name` inside the directory with `mode`.
    @discardableResult
    func write(_ name: String, _ text: String, mode: mode_t = 0o644) -> String {
        let file = path + "/" + name
        writeFile(file, Array(text.utf8), mode: mode)
        return file
    }
}

/// Creates or truncates `path`, writes `bytes`, sets `mode`.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    precondition(fd >= 0, "cannot create \(path)")
    _ = FileSystem.writeAll(fd, bytes)
    fchmod(fd, mode)
    close(fd)
}

/// The whole file, or nil when it cannot be read.
func readFile(_ path: String) -> [UInt8]? { readSmallFile(path, limit: 1 << 20) }

/// `rm -rf` without following symlinks.
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        for name in directoryNames(path) { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// The names in a directory (without "." and ".."), sorted.
func directoryNames(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
            String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// `lstat`'s answer, or nil.
func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

/// A pipe as (read end, write end).
func makePipe() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    precondition(pipe(&fds) == 0)
    return (fds[0], fds[1])
}

/// Polls `condition` every 10 ms for up to `seconds`.
func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Int(seconds * 100)
    for _ in 0..<deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A POSIX thread running `body`, so that a test can signal exactly that thread.
final class TestThread: @unchecked Sendable {
    private(set) var id = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(
            &id, nil,
            { raw in
                let thread = Unmanaged<TestThread>.fromOpaque(raw!).takeRetainedValue()
                thread.body()
                return nil
            }, context)
        precondition(created == 0, "pthread_create failed")
    }

    func join() { pthread_join(id, nil) }
}

/// A value written by one thread and read by another after `join()`.
final class Slot<Value>: @unchecked Sendable {
    var value: Value?
}

/// A pseudo-terminal: the master side for the test, the slave path for the prompter.
struct PseudoTerminal {
    let master: Int32
    let slavePath: String

    init() {
        // posix_openpt and friends need _XOPEN_SOURCE, which the Glibc module does not set.
        let openpt = libc("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
        let grant = libc("grantpt", as: (@convention(c) (Int32) -> Int32).self)
        let unlock = libc("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
        let ptsname = libc("ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32).self)
        master = openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        precondition(master >= 0 && grant(master) == 0 && unlock(master) == 0, "no pty")
        var name = [CChar](repeating: 0, count: 128)
        precondition(ptsname(master, &name, name.count) == 0)
        slavePath = cText(name)
        // Non-blocking, so that draining the output never hangs.
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    /// Opens another descriptor of the slave, for the test's own checks.
    func openSlave() -> Int32 { open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC) }

    func type(_ text: String) { _ = FileSystem.writeAll(master, Array(text.utf8)) }

    /// Everything the slave side has written so far.
    func drain() -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func close() { _ = Glibc.close(master) }
}

/// Whether echo is on for the terminal `fd`, nil if its settings cannot be read.
func echoIsOn(_ fd: Int32) -> Bool? {
    var settings = termios()
    guard tcgetattr(fd, &settings) == 0 else { return nil }
    return settings.c_lflag & tcflag_t(ECHO) != 0
}

/// A libc function looked up by name.
func libc<F>(_ name: String, as type: F.Type) -> F {
    guard let symbol = dlsym(nil, name) else { fatalError("no \(name) in libc") }
    return unsafeBitCast(symbol, to: type)
}

/// The text of a NUL-terminated C character array.
func cText(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
