#if canImport(Glibc)
import Glibc
#endif

/// Runs jobs after a delay on one thread of its own (retry backoffs, timeouts), so no worker
/// thread sleeps through a wait. Call `shutdown()` when done: the thread keeps it alive.
public final class DelayQueue: @unchecked Sendable {
    // @unchecked: `pending` and `stopping` are only touched under `mutex`.
    private struct Entry {
        let due: Int64
        let order: Int
        let job: () -> Void
    }

    private var pending: [Entry] = []
    private var order = 0
    private var stopping = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var thread = pthread_t()

    public init() throws(RillflowError) {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<DelayQueue>.fromOpaque(raw!).takeRetainedValue().loop()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<DelayQueue>.fromOpaque(context).release()
            throw RillflowError(.system, "pthread_create failed with \(status)")
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `job` on the queue's thread `nanoseconds` from now (jobs due together run in order).
    @discardableResult
    public func schedule(after nanoseconds: Int64, _ job: @escaping () -> Void) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping else { return false }
        order += 1
        pending.append(Entry(due: WallClock.monotonicNanoseconds() + max(0, nanoseconds), order: order, job: job))
        pthread_cond_signal(condition)
        return true
    }

    /// Drops jobs not yet due and joins the thread. Not from a job.
    public func shutdown() {
        pthread_mutex_lock(mutex)
        stopping = true
        pending.removeAll()
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
    }

    private func loop() {
        pthread_mutex_lock(mutex)
        while !stopping {
            guard let next = pending.indices.min(by: { (pending[$0].due, pending[$0].order) < (pending[$1].due, pending[$1].order) }) else {
                pthread_cond_wait(condition, mutex)
                continue
            }
            let now = WallClock.monotonicNanoseconds()
            if pending[next].due > now {
                var deadline = timespec(tv_sec: Int(pending[next].due / 1_000_000_000), tv_nsec: Int(pending[next].due % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &deadline)
                continue
            }
            let job = pending.remove(at: next).job
            pthread_mutex_unlock(mutex)
            job()
            pthread_mutex_lock(mutex)
        }
        pthread_mutex_unlock(mutex)
    }
}
