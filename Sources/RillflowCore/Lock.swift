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
///
/// A lock is a reference to its storage: copies share one state and one mutex. The state and
/// the mutex sit in one allocation (a step's context makes a lock on every step).
public struct Lock<State>: @unchecked Sendable {
    // @unchecked: `storage.header` is only touched between pthread_mutex_lock and unlock.
    private let storage: Storage

    public init(_ state: State) { storage = Storage.make(state) }

    @inline(__always)
    public func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        let mutex = storage.mutex
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&storage.header)
    }

    /// Runs `body` if the lock is free at once; returns whether it ran.
    @discardableResult
    public func withLockIfAvailable(_ body: (inout State) -> Void) -> Bool {
        let mutex = storage.mutex
        guard pthread_mutex_trylock(mutex) == 0 else { return false }
        defer { pthread_mutex_unlock(mutex) }
        body(&storage.header)
        return true
    }

    /// For a child process right after fork(), where only the forking thread exists: a mutex
    /// that another thread held at the fork stays locked for good, and the state it guarded
    /// may be half changed. Such a lock gets a new mutex and `fresh()` as its state (the old
    /// state is left as it is, never released: it may be inconsistent). A lock that was free
    /// is left alone. Returns whether the lock was reset.
    @discardableResult
    public func recoverInForkedChild(resettingTo fresh: () -> State) -> Bool {
        let mutex = storage.mutex
        if pthread_mutex_trylock(mutex) == 0 {
            pthread_mutex_unlock(mutex)
            return false
        }
        pthread_mutex_init(mutex, nil)
        storage.withUnsafeMutablePointerToHeader { $0.initialize(to: fresh()) }
        return true
    }

    /// The state as the buffer's header and the mutex as its one element: a buffer's elements
    /// stay at one address for its life, as a pthread mutex must.
    private final class Storage: ManagedBuffer<State, pthread_mutex_t> {
        static func make(_ state: State) -> Storage {
            let buffer = unsafeDowncast(create(minimumCapacity: 1) { _ in state }, to: Storage.self)
            pthread_mutex_init(buffer.mutex, nil)
            return buffer
        }

        deinit { pthread_mutex_destroy(mutex) }

        var mutex: UnsafeMutablePointer<pthread_mutex_t> {
            @inline(__always) get { withUnsafeMutablePointerToElements { $0 } }
        }
    }
}
