import CSystem
import Synchronization
import Testing
import TestSupport
@testable import RillflowCore

@Suite struct FutexTests {
    /// Two threads hand a turn back and forth 20,000 times, each sleeping on the futex until it
    /// is its turn. The waker skips the system call when it sees no sleeper, so a wake lost to
    /// that race leaves a thread asleep until its 1 s deadline: the test stops at the first
    /// wait that long, and otherwise counts every turn.
    @Test func noWakeIsLostBetweenTheSleeperCountAndTheWord() {
        let futex = Futex()
        let turn = Atomic<Int>(0)
        let lostWake = Atomic<Bool>(false)
        let rounds = 20_000
        let deadlineMilliseconds: Int64 = 1_000

        @Sendable func play(parity: Int) {
            for _ in 0..<rounds {
                while !lostWake.load(ordering: .relaxed) {
                    let observed = futex.value
                    if turn.load(ordering: .acquiring) % 2 == parity { break }
                    let started = rf_sys_monotonic_ns()
                    futex.wait(expected: observed, deadline: Deadline(milliseconds: deadlineMilliseconds))
                    if rf_sys_monotonic_ns() - started >= deadlineMilliseconds * 1_000_000 {
                        lostWake.store(true, ordering: .relaxed)
                    }
                }
                if lostWake.load(ordering: .relaxed) { break }
                turn.add(1, ordering: .releasing)
                futex.wakeAll()
            }
            futex.wakeAll()  // the other player may be asleep when this one stops
        }

        let other = TestThread { play(parity: 1) }
        play(parity: 0)
        other.join()
        let wakeWasLost = lostWake.load(ordering: .relaxed), turns = turn.load(ordering: .relaxed)
        #expect(!wakeWasLost, "a wait ran to its deadline: a wake was lost")
        #expect(turns == 2 * rounds)
    }
}
