import Glibc
import JitexecBase
import JitexecSystem

/// Where a supervised command's terminal output (and, when asked, input) is written as it passes.
/// `AsciicastWriter` is the one real recorder; a failure latches and ends the command.
public protocol SessionRecorder: AnyObject {
    func output(_ bytes: ArraySlice<UInt8>) throws(RecordingError)
    func input(_ bytes: ArraySlice<UInt8>) throws(RecordingError)
    func resize(width: Int, height: Int) throws(RecordingError)
}

extension AsciicastWriter: SessionRecorder {
    public func output(_ bytes: ArraySlice<UInt8>) throws(RecordingError) {
        var failure: RecordingError?
        bytes.withUnsafeBytes { raw in
            do throws(RecordingError) { try output(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func input(_ bytes: ArraySlice<UInt8>) throws(RecordingError) {
        var failure: RecordingError?
        bytes.withUnsafeBytes { raw in
            do throws(RecordingError) { try input(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// What a monitor tells the supervisor at each check.
public enum MonitorVerdict: Equatable, Sendable {
    /// Nothing to do.
    case keep
    /// Show this line on the user's terminal (once per distinct notice is the caller's business).
    case notice(String)
    /// End the command now: `reason` is recorded (`SessionControl.endedBy`), `message` is shown.
    case end(reason: String, message: String)
}

/// What the caller adds to a supervised run beyond running the command: a recording, a monitor that
/// may end it (a grant's expiry or revocation, `jitctl stop`), and containment of what it starts.
/// A class: the supervisor records on it how the run ended.
public final class SessionControl {
    public let recorder: (any SessionRecorder)?
    /// Also record keyboard input (pty runs only), except while the command's terminal has echo off.
    public let recordInput: Bool
    /// Asked about twice a second while the command runs.
    public let monitor: (() -> MonitorVerdict)?
    /// Make this process a child subreaper and give the command a parent-death signal, so nothing
    /// the command starts escapes an ending by setsid or double fork.
    public let contain: Bool
    /// With `contain`: processes the command leaves behind when it exits are ended too.
    public let endLeftovers: Bool
    /// Between SIGHUP+SIGTERM and SIGKILL.
    public let grace: Duration
    /// When the monitor will end the command at the latest (monotonic, `Clocks.monotonic()`). With a
    /// deadline there is no job control: a command that stops is continued at once.
    public let deadline: Duration?
    /// Called before this process stops itself because the command stopped (job control): what
    /// this process still has running beside the command (the store's checkpoint) ends first.
    public let beforeSuspend: (() -> Void)?

    /// Set by the supervisor when it ended the command: the monitor's reason, or `record_failed` /
    /// `record_limit` when the recording could not go on.
    public internal(set) var endedBy: String?
    /// The recording's failure, when there was one.
    public internal(set) var recordingFailure: RecordingError?

    public init(
        recorder: (any SessionRecorder)? = nil, recordInput: Bool = false, monitor: (() -> MonitorVerdict)? = nil,
        contain: Bool = false, endLeftovers: Bool = false, grace: Duration = .seconds(5), deadline: Duration? = nil,
        beforeSuspend: (() -> Void)? = nil
    ) {
        self.deadline = deadline
        self.beforeSuspend = beforeSuspend
        self.recorder = recorder
        self.recordInput = recordInput
        self.monitor = monitor
        self.contain = contain
        self.endLeftovers = endLeftovers
        self.grace = grace
    }

    /// The width and height a recording of `spec` starts with: the caller's terminal's, or 80x24.
    public static func initialSize(of spec: ExecSpec) -> (width: Int, height: Int) {
        for fd in spec.standardDescriptors where isTerminal(fd) {
            if let size = WindowSize.of(fd), size.columns > 0, size.rows > 0 {
                return (Int(size.columns), Int(size.rows))
            }
        }
        return (80, 24)
    }
}

/// Output the command writes to a pipe or file (no terminal) passes through this process when it is
/// recorded: each of its stdout and stderr that is not the pty becomes a pipe whose bytes are
/// recorded and then written where the caller's descriptor points.
struct OutputTap {
    struct Stream {
        let read: Int32
        var write: Int32
        let destination: Int32
        var buffer: [UInt8] = []
        var open = true
        var destinationOpen = true
    }

    private(set) var streams: [Int32: Stream] = [:]

    /// Pipes for the command's fd 1 and 2 where `descriptors` (what the child gets) is not `keep`.
    static func open(descriptors: [Int32], keep: Int32) throws(ExecError) -> OutputTap {
        var tap = OutputTap()
        for target in [Int32(1), 2] where descriptors[Int(target)] != keep {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                tap.closeAll()
                throw .system(call: "creating the recording pipe", errno: errno)
            }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
            tap.streams[target] = Stream(read: fds[0], write: fds[1], destination: descriptors[Int(target)])
        }
        return tap
    }

    /// The child's descriptors with the tapped ones replaced by the pipes' write ends.
    func childDescriptors(_ descriptors: [Int32]) -> [Int32] {
        var result = descriptors
        for (target, stream) in streams { result[Int(target)] = stream.write }
        return result
    }

    /// After fork: only the command holds the write ends, so reading sees EOF once it is gone.
    mutating func closeChildEnds() {
        for key in streams.keys where streams[key]!.write >= 0 {
            _ = close(streams[key]!.write)
            streams[key]!.write = -1
        }
    }

    func closeAll() {
        for stream in streams.values {
            _ = close(stream.read)
            if stream.write >= 0 { _ = close(stream.write) }
        }
    }

    /// Which end a poll entry watches.
    enum Role: Equatable {
        case read(Int32)
        case write(Int32)
    }

    private static let capacity = 64 * 1024

    /// Reads while the buffer has room; writes (never more than one pipe buffer after POLLOUT, so
    /// this process does not block on a reader that stalls) while it holds bytes.
    func pollRequests() -> [(Role, pollfd)] {
        var requests: [(Role, pollfd)] = []
        for (target, stream) in streams {
            if stream.open && stream.buffer.count < Self.capacity {
                requests.append((.read(target), pollfd(fd: stream.read, events: Int16(POLLIN), revents: 0)))
            }
            if stream.destinationOpen && !stream.buffer.isEmpty {
                requests.append((.write(target), pollfd(fd: stream.destination, events: Int16(POLLOUT), revents: 0)))
            }
        }
        return requests
    }

    /// Moves bytes for one ready descriptor. A recording failure is returned (the bytes still reach
    /// the caller); the caller ends the command.
    mutating func service(_ role: Role, revents: Int16, recorder: (any SessionRecorder)?) -> RecordingError? {
        guard revents != 0 else { return nil }
        switch role {
        case .read(let target): return readStream(target, recorder: recorder)
        case .write(let target):
            writeStream(target)
            return nil
        }
    }

    private mutating func readStream(_ target: Int32, recorder: (any SessionRecorder)?) -> RecordingError? {
        guard var stream = streams[target] else { return nil }
        defer { streams[target] = stream }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { read(stream.read, $0.baseAddress, $0.count) }
        if count > 0 {
            if stream.destinationOpen { stream.buffer += chunk[..<count] }
            do throws(RecordingError) {
                try recorder?.output(chunk[..<count])
            } catch {
                return error
            }
        } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
            stream.open = false
        }
        return nil
    }

    private mutating func writeStream(_ target: Int32) {
        guard var stream = streams[target] else { return }
        defer { streams[target] = stream }
        let chunk = min(stream.buffer.count, 4096)
        let count = stream.buffer.withUnsafeBytes { write(stream.destination, $0.baseAddress, chunk) }
        if count > 0 {
            stream.buffer.removeFirst(count)
        } else if count < 0 && errno != EINTR && errno != EAGAIN {
            stream.destinationOpen = false  // the caller's reader is gone: keep reading, discard
            stream.buffer.removeAll()
        }
    }

    /// After the command ended: what is still in the pipes reaches the caller and the recording,
    /// bounded in bytes and time (a process left behind may keep writing; a reader may stall).
    mutating func drain(recorder: (any SessionRecorder)?) -> RecordingError? {
        var failure: RecordingError?
        var rounds = 0
        while rounds < 1000 {
            rounds += 1
            let requests = pollRequests()
            guard !requests.isEmpty else { break }
            var fds = requests.map(\.1)
            guard poll(&fds, nfds_t(fds.count), 100) > 0 else { break }
            for (index, request) in requests.enumerated() {
                let problem = service(request.0, revents: fds[index].revents, recorder: failure == nil ? recorder : nil)
                failure = failure ?? problem
            }
        }
        return failure
    }
}
