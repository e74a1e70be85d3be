#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Plain OS threads that run jobs in submission order. Callback steps run here rather than on
/// Swift's cooperative pool because a host's callback may block. Call `shutdown()` when done:
/// the threads keep the pool alive until then.
///
/// Continuations: inside `continuing(_:)` on one of the pool's threads, the first job submitted
/// runs next on that same thread instead of waking another one. A chain of steps then runs
/// step after step on one thread, with no hand-off (a futex wake costs microseconds).
public final class WorkerPool: @unchecked Sendable {
    // @unchecked: the queue and the stopping flag are only touched under `monitor`; each
    // worker's `Local` is only touched by its own thread.
    /// Jobs in order; taken ones are cleared at once so nothing they capture outlives them.
    private var queue: [(() -> Void)?] = []
    private var head = 0
    private var stopping = false
    private let monitor = Monitor()
    private var threads: [pthread_t] = []

    public let threadCount: Int

    /// What a worker thread keeps for itself: which pool it serves and its continuation.
    private final class Local {
        unowned let pool: WorkerPool
        var accepting = false
        var next: (() -> Void)?
        init(pool: WorkerPool) { self.pool = pool }
    }

    /// The calling thread's `Local`, if it is a worker of some pool.
    private static let localKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static var currentLocal: Local? {
        guard let raw = pthread_getspecific(localKey) else { return nil }
        return Unmanaged<Local>.fromOpaque(raw).takeUnretainedValue()
    }

    public init(threads count: Int) throws(RillflowError) {
        threadCount = count
        for _ in 0..<count {
            do {
                threads.append(try LibraryThread.start(named: "rf-worker") { self.work() })
            } catch {
                shutdown()
                throw RillflowError(.system, "\(error.message) after \(threads.count) worker threads")
            }
        }
    }

    /// Queues `job`; false if the pool is shutting down (the job is not run).
    @discardableResult
    public func submit(_ job: @escaping () -> Void) -> Bool {
        if let local = Self.currentLocal, local.accepting, local.next == nil, local.pool === self {
            local.next = job
            return true
        }
        monitor.lock()
        defer { monitor.unlock() }
        guard !stopping else { return false }
        queue.append(job)
        monitor.signal()
        return true
    }

    /// Runs `body`; on one of this pool's threads, the first job `body` submits becomes this
    /// thread's next job. Use it only where the thread is about to be free (after a step's code
    /// returned), never around code that may block.
    public func continuing(_ body: () -> Void) {
        guard let local = Self.currentLocal, local.pool === self, !local.accepting else { return body() }
        local.accepting = true
        body()
        local.accepting = false
    }

    /// Runs the jobs already queued, then stops and joins every thread. From one of the pool's
    /// own threads (its last user went away there), that thread is detached instead of joined.
    public func shutdown() {
        monitor.lock()
        stopping = true
        monitor.broadcast()
        let joining = threads
        threads = []
        monitor.unlock()
        let me = pthread_self()
        for thread in joining {
            if pthread_equal(thread, me) != 0 { pthread_detach(thread) } else { pthread_join(thread, nil) }
        }
    }

    private func work() {
        let local = Local(pool: self)
        pthread_setspecific(Self.localKey, Unmanaged.passUnretained(local).toOpaque())
        defer { pthread_setspecific(Self.localKey, nil) }
        while let job = next() {
            var current: (() -> Void)? = job
            while let run = current {
                run()
                current = local.next
                local.next = nil
            }
        }
    }

    private func next() -> (() -> Void)? {
        monitor.lock()
        defer { monitor.unlock() }
        while head == queue.count {
            if stopping { return nil }
            monitor.wait()
        }
        let job = queue[head]
        queue[head] = nil
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > queue.count {  // drop the consumed prefix now and then
            queue.removeFirst(head)
            head = 0
        }
        return job
    }
}
