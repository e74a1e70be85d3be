import Synchronization
import TestSupport
import Testing
@testable import RillflowCore

@Suite struct WorkerPoolTests {
    @Test func runsEveryJobOnceAcrossThreads() throws {
        let pool = try WorkerPool(threads: 3)
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let counter = Counter()
        for _ in 0..<10_000 { #expect(pool.submit { counter.value.add(1, ordering: .relaxed) }) }
        pool.shutdown()  // runs what is queued first
        #expect(counter.value.load(ordering: .relaxed) == 10_000)
        #expect(!pool.submit {})
    }

    @Test func jobsRunConcurrently() throws {
        // Two jobs that each wait (up to 5 s) for the other both meet only on two threads.
        let pool = try WorkerPool(threads: 2)
        final class Rendezvous: Sendable { let arrived = Atomic<Int>(0); let met = Atomic<Int>(0) }
        let meeting = Rendezvous()
        for _ in 0..<2 {
            pool.submit {
                meeting.arrived.add(1, ordering: .sequentiallyConsistent)
                let giveUp = WallClock.monotonicNanoseconds() + 5_000_000_000
                while meeting.arrived.load(ordering: .sequentiallyConsistent) < 2 {
                    if WallClock.monotonicNanoseconds() > giveUp { return }
                }
                meeting.met.add(1, ordering: .relaxed)
            }
        }
        pool.shutdown()
        #expect(meeting.met.load(ordering: .relaxed) == 2)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A count threads raise and a test waits for (10 s at most).
final class CountLatch: @unchecked Sendable {
    // @unchecked: `count` is only touched under `monitor`.
    private let monitor = Monitor()
    private var count = 0

    func add() {
        monitor.lock()
        count += 1
        monitor.broadcast()
        monitor.unlock()
    }

    func wait(for target: Int) -> Bool {
        let deadline = WallClock.monotonicNanoseconds() + 10_000_000_000
        monitor.lock()
        defer { monitor.unlock() }
        while count < target && WallClock.monotonicNanoseconds() < deadline { monitor.wait(until: deadline) }
        return count >= target
    }
}

@Suite struct WorkerPoolContinuationTests {
    final class Threads: @unchecked Sendable {
        // @unchecked: written by jobs before the pool's shutdown joins them, read after.
        var first: pthread_t?
        var continued: pthread_t?
        var other: pthread_t?
        var otherRanBeforeContinuation = false
    }

    @Test func theFirstJobSubmittedWhileContinuingRunsNextOnTheSameThread() throws {
        let pool = try WorkerPool(threads: 2)
        let seen = Threads()
        let finished = CountLatch()
        pool.submit {
            seen.first = pthread_self()
            pool.continuing {
                pool.submit { seen.continued = pthread_self(); finished.add() }
                pool.submit { seen.other = pthread_self(); finished.add() }
            }
        }
        #expect(finished.wait(for: 2))
        pool.shutdown()
        #expect(seen.continued.map { pthread_equal($0, seen.first!) != 0 } == true)
        #expect(seen.other != nil)
    }

    @Test func outsideAWorkerContinuingJustRunsTheBody() throws {
        let pool = try WorkerPool(threads: 1)
        let ran = Shared<Int>(0)
        pool.continuing { pool.submit { ran.value += 1 } }
        pool.shutdown()
        #expect(ran.value == 1)
    }

    @Test func aPoolCanBeShutDownFromItsOwnThread() throws {
        let pool = try WorkerPool(threads: 2)
        let finished = CountLatch()
        pool.submit {
            pool.shutdown()  // detaches this thread instead of joining it
            finished.add()
        }
        #expect(finished.wait(for: 1))
        #expect(!pool.submit {})
    }
}
