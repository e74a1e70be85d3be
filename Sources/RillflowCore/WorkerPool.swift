#if canImport(Glibc)
import Glibc
#endif

/// Plain OS threads that run jobs in submission order. Callback steps run here rather than on
/// Swift's cooperative pool because a host's callback may block. Call `shutdown()` when done:
/// the threads keep the pool alive until then.
public final class WorkerPool: @unchecked Sendable {
    // @unchecked: the queue and the stopping flag are only touched under `monitor`.
    private var queue: [() -> Void] = []
    private var head = 0
    private var stopping = false
    private let monitor = Monitor()
    private var threads: [pthread_t] = []

    public let threadCount: Int

    public init(threads count: Int) throws(RillflowError) {
        threadCount = count
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

    /// Queues `job`; false if the pool is shutting down (the job is not run).
    @discardableResult
    public func submit(_ job: @escaping () -> Void) -> Bool {
        monitor.lock()
        defer { monitor.unlock() }
        guard !stopping else { return false }
        queue.append(job)
        monitor.signal()
        return true
    }

    /// Runs the jobs already queued, then stops and joins every thread. Not from a worker.
    public func shutdown() {
        monitor.lock()
        stopping = true
        monitor.broadcast()
        let joining = threads
        threads = []
        monitor.unlock()
        for thread in joining { pthread_join(thread, nil) }
    }

    private func work() {
        while let job = next() { job() }
    }

    private func next() -> (() -> Void)? {
        monitor.lock()
        defer { monitor.unlock() }
        while head == queue.count {
            if stopping { return nil }
            monitor.wait()
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
