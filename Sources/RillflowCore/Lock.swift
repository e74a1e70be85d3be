#if canImport(Glibc)
import Glibc
#endif

/// State protected by a pthread mutex.
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer on Linux does not see that
/// type's futex-based locking and reports races inside correctly locked regions (checked with
/// Swift 6.3.1: two threads incrementing a counter under `Mutex.withLock` are reported).
/// ThreadSanitizer intercepts pthread mutexes, so races it reports here are real. Locks guard
/// only slow paths (registration, waiting, history), never the emit path.
public final class Lock<State>: @unchecked Sendable {
    // @unchecked: `state` is only touched between pthread_mutex_lock and unlock.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    public init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Runs `body` if the lock is free at once; returns whether it ran.
    @discardableResult
    public func withLockIfAvailable(_ body: (inout State) -> Void) -> Bool {
        guard pthread_mutex_trylock(mutex) == 0 else { return false }
        defer { pthread_mutex_unlock(mutex) }
        body(&state)
        return true
    }
}
