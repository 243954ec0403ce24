#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One closure run on a thread of its own while the caller goes on, and its result handed over by
/// `join`. The thread starts with every signal blocked: signals stay the starting thread's to take,
/// as in a process with one thread, so what a signal does (and when a held one is delivered) does
/// not change. Used where a step can wait on nothing but itself (the store's open while PAM checks
/// the account, see `Context.openStoreInBackground`).
public final class BackgroundThread<Value>: @unchecked Sendable {
    // Written by the thread before it ends, read by `join` after pthread_join: no lock needed.
    private var value: Value?
    private var thread = pthread_t()
    private var joined = false

    private init() {}

    /// Starts `body` on a new thread; nil when no thread could be made (the caller then runs it itself).
    public static func start(_ body: @escaping @Sendable () -> Value) -> BackgroundThread? {
        let task = BackgroundThread()
        let start = Unmanaged.passRetained(ThreadStart { task.value = body() }).toOpaque()
        var all = sigset_t()
        var saved = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &saved)
        let rc = pthread_create(&task.thread, nil, backgroundThreadMain, start)
        pthread_sigmask(SIG_SETMASK, &saved, nil)
        guard rc == 0 else {
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
