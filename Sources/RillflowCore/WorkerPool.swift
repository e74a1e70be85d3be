#if canImport(Glibc)
import Glibc
#endif

/// Plain OS threads that run jobs in submission order. Callback steps run here rather than on
/// Swift's cooperative pool because a host's callback may block. Call `shutdown()` when done:
/// the threads keep the pool alive until then.
public final class WorkerPool: @unchecked Sendable {
    // @unchecked: the queue and the stopping flag are only touched under `mutex`.
    private var queue: [() -> Void] = []
    private var head = 0
    private var stopping = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var threads: [pthread_t] = []

    public let threadCount: Int

    public init(threads count: Int) throws(RillflowError) {
        threadCount = count
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        pthread_cond_init(condition, nil)
        for _ in 0..<count {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let status = pthread_create(&thread, nil, { raw in
                let pool = Unmanaged<WorkerPool>.fromOpaque(raw!).takeRetainedValue()
                pool.work()
                return nil
            }, context)
            guard status == 0 else {
                Unmanaged<WorkerPool>.fromOpaque(context).release()
                shutdown()
                throw RillflowError(.system, "pthread_create failed with \(status) after \(threads.count) worker threads")
            }
            threads.append(thread)
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Queues `job`; false if the pool is shutting down (the job is not run).
    @discardableResult
    public func submit(_ job: @escaping () -> Void) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping else { return false }
        queue.append(job)
        pthread_cond_signal(condition)
        return true
    }

    /// Runs the jobs already queued, then stops and joins every thread. Not from a worker.
    public func shutdown() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(condition)
        let joining = threads
        threads = []
        pthread_mutex_unlock(mutex)
        for thread in joining { pthread_join(thread, nil) }
    }

    private func work() {
        while let job = next() { job() }
    }

    private func next() -> (() -> Void)? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == queue.count {
            if stopping { return nil }
            pthread_cond_wait(condition, mutex)
        }
        let job = queue[head]
        head += 1
        if head > 1024 && head * 2 > queue.count {  // drop the consumed prefix now and then
            queue.removeFirst(head)
            head = 0
        }
        return job
    }
}
