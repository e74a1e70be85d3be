import Synchronization
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
