import Synchronization
import Testing
@testable import RillflowCore

@Suite struct DelayQueueTests {
    final class Log: @unchecked Sendable {
        let lock = Lock<[Int]>([])
        func append(_ value: Int) { lock.withLock { $0.append(value) } }
        var values: [Int] { lock.withLock { $0 } }
    }

    @Test func jobsRunInDueOrderNotSubmissionOrder() throws {
        let queue = try DelayQueue()
        let log = Log()
        let done = Futex()
        let finished = Atomic<Int>(0)
        // 100 ms apart: scheduling all four must not take longer than that, even on a busy machine.
        for (value, delay) in [(3, 300_000_000), (1, 100_000_000), (2, 200_000_000), (0, 0)] as [(Int, Int64)] {
            queue.schedule(after: delay) {
                log.append(value)
                if finished.add(1, ordering: .relaxed).newValue == 4 { done.wakeAll() }
            }
        }
        let deadline = Deadline(milliseconds: 5_000)
        while finished.load(ordering: .relaxed) < 4 && !deadline.hasPassed {
            let observed = done.value
            if finished.load(ordering: .relaxed) < 4 { done.wait(expected: observed, deadline: deadline) }
        }
        queue.shutdown()
        #expect(log.values == [0, 1, 2, 3])
    }

    /// Shuts its queue down when the last reference to it goes, as a run's runtime does.
    final class ShutsDownWhenReleased: Sendable {
        let queue: DelayQueue
        let shutDown: Flag
        init(queue: DelayQueue, shutDown: Flag) {
            self.queue = queue
            self.shutDown = shutDown
        }
        deinit {
            queue.shutdown()
            shutDown.raise()
        }
    }

    // A job holding the last reference to what owns the queue: releasing it on the queue's own
    // thread shuts the queue down there, which must not wait for the lock that thread holds.
    @Test func aJobMayReleaseTheLastReferenceToItsQueuesOwner() throws {
        let shutDown = Flag()
        do {
            let queue = try DelayQueue()
            let owner = ShutsDownWhenReleased(queue: queue, shutDown: shutDown)
            queue.schedule(after: 0) { _ = owner }
        }
        #expect(shutDown.wait(milliseconds: 10_000), "the queue's thread deadlocked shutting its own queue down")
    }

    /// A delay too long to add to the clock means "never", and does not hold up other jobs.
    @Test func aDelayPastTheClocksRangeIsNever() throws {
        let queue = try DelayQueue()
        let log = Log()
        let ran = Flag()
        queue.schedule(after: Int64.max) { log.append(1) }
        queue.schedule(after: Int64.max - 1) { log.append(2) }
        queue.schedule(after: 0) { ran.raise() }
        #expect(ran.wait(milliseconds: 10_000))
        queue.shutdown()
        #expect(log.values.isEmpty)
    }

    @Test func shutdownDropsJobsNotYetDue() throws {
        let queue = try DelayQueue()
        let log = Log()
        queue.schedule(after: 60_000_000_000) { log.append(1) }
        queue.shutdown()
        #expect(log.values.isEmpty)
        #expect(!queue.schedule(after: 0) { log.append(2) })
    }
}
