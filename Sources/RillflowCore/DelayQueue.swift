#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Runs jobs after a delay on one thread of its own (retry backoffs, timeouts), so no worker
/// thread sleeps through a wait. Call `shutdown()` when done: the thread keeps it alive.
public final class DelayQueue: @unchecked Sendable {
    // @unchecked: `pending` and `stopping` are only touched under `monitor`.
    private struct Entry {
        let due: Int64
        let order: Int
        /// Whose job it is, for `cancelAll(owner:)`.
        let owner: ObjectIdentifier?
        let job: () -> Void
    }

    private var pending: [Entry] = []
    private var order = 0
    private var stopping = false
    private let monitor = Monitor()
    private var thread = pthread_t()

    public init() throws(RillflowError) {
        thread = try LibraryThread.start(named: "rf-timer") { self.loop() }
    }

    /// Runs `job` on the queue's thread `nanoseconds` from now (jobs due together run in order).
    @discardableResult
    public func schedule(after nanoseconds: Int64, owner: AnyObject? = nil, _ job: @escaping () -> Void) -> Bool {
        monitor.lock()
        defer { monitor.unlock() }
        guard !stopping else { return false }
        order += 1
        // Saturating: a delay near Int64.max means "never", not a trap.
        let (due, overflow) = WallClock.monotonicNanoseconds().addingReportingOverflow(max(0, nanoseconds))
        pending.append(Entry(due: overflow ? Int64.max : due, order: order, owner: owner.map(ObjectIdentifier.init), job: job))
        monitor.signal()
        return true
    }

    /// Drops `owner`'s jobs not yet run: what they captured (often the owner itself) is let go
    /// now, not when they would have come due (a run's one-hour timeout would keep it that long).
    public func cancelAll(owner: AnyObject) {
        let key = ObjectIdentifier(owner)
        monitor.lock()
        let dropped = pending.filter { $0.owner == key }
        pending.removeAll { $0.owner == key }
        monitor.unlock()
        _ = dropped  // released here, outside the lock: a job's captures may call back in
    }

    /// Drops jobs not yet due and joins the thread; from a job on that thread (its last user
    /// went away there), the thread is detached instead.
    public func shutdown() {
        monitor.lock()
        let first = !stopping
        stopping = true
        let dropped = pending
        pending.removeAll()
        monitor.signal()
        monitor.unlock()
        _ = dropped  // released here, outside the lock: a job's captures may call back in
        guard first else { return }
        if pthread_equal(thread, pthread_self()) != 0 { pthread_detach(thread) } else { pthread_join(thread, nil) }
    }

    private func loop() {
        monitor.lock()
        while !stopping {
            guard let next = pending.indices.min(by: { (pending[$0].due, pending[$0].order) < (pending[$1].due, pending[$1].order) }) else {
                monitor.wait()
                continue
            }
            let now = WallClock.monotonicNanoseconds()
            if pending[next].due > now {
                monitor.wait(until: pending[next].due)
                continue
            }
            var job: (() -> Void)? = pending.remove(at: next).job
            monitor.unlock()
            job!()
            // Released before the lock is taken again: the job may hold the last reference to a
            // run, whose teardown shuts this queue down, and `shutdown` takes the lock.
            job = nil
            monitor.lock()
        }
        monitor.unlock()
    }
}
