import CJitexecSystem
import Glibc

/// One closure run on a thread of its own while the caller goes on, and its result handed over by
/// `join`. The thread starts with every signal blocked: signals stay the starting thread's to take,
/// as in a process with one thread, so what a signal does (and when a held one is delivered) does
/// not change. It is bound to no CPU: the kernel decides where and when it runs (the README's
/// "Benchmark" says what that gave on the machines measured); when this process may use one CPU
/// only, none is started, since it could only take turns with the caller.
/// Used where a step can wait on nothing but itself: the store's open while PAM checks the account
/// (`Context.openStoreInBackground`), the invoking user's group list while jitexec reads the policy
/// (`Accounts.byUIDBeside`), and the store's checkpoint while the command runs
/// (`Context.checkpointBeside`).
public final class BackgroundThread<Value>: @unchecked Sendable {
    // Written by the thread before it ends, read by `join` after pthread_join: no lock needed.
    private var value: Value?
    private var thread = pthread_t()
    private var joined = false

    private init() {}

    /// Starts `body` on a new thread; nil when no thread could be made, or this process may use
    /// one CPU only (the caller then runs it itself).
    public static func start(_ body: @escaping @Sendable () -> Value) -> BackgroundThread? {
        let task = BackgroundThread()
        let start = Unmanaged.passRetained(ThreadStart { task.value = body() }).toOpaque()
        guard jx_thread_start_beside(&task.thread, backgroundThreadMain, start) == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(start).release()
            return nil
        }
        return task
    }

    /// Waits for the thread to end and returns what `body` returned. Called once, by the thread
    /// that started it.
    public func join() -> Value {
        precondition(!joined, "BackgroundThread joined twice")
        joined = true
        pthread_join(thread, nil)
        return value!
    }
}

/// Whether `BackgroundThread.start` can start a thread: this process may use more than one CPU.
public var backgroundThreadCanStart: Bool { jx_cpus_beside() > 0 }

/// The closure a new thread runs, retained for it until it starts.
private final class ThreadStart {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private func backgroundThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let raw else { return nil }
    Unmanaged<ThreadStart>.fromOpaque(raw).takeRetainedValue().run()
    return nil
}
