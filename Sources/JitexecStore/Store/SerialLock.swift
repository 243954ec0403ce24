#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A mutex that refuses re-entry instead of deadlocking: a `read`/`write` body that calls back
/// into the same store gets `StoreError.nestedTransaction`. The mutex memory is owned here and
/// destroyed in `deinit`.
final class SerialLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ERRORCHECK))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) throws -> T {
        guard pthread_mutex_lock(mutex) == 0 else { throw StoreError.nestedTransaction }
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
