#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Testing
import TestSupport
@testable import RillflowCore

/// What a forked child recovers of the library's process-wide state: a lock another thread
/// held at the fork, and the clock's seqlock left odd by an interrupted anchor. Each test forks;
/// the child checks and reports through its exit status (killed by an alarm if it hangs).
@Suite(.serialized) struct ForkRecoveryTests {
    /// Forks; the child runs `body` and exits with its result. Returns the child's wait status.
    private static func inChild(_ body: () -> Int32) -> Int32 {
        let child = fork()
        if child == 0 {
            // Test threads may block SIGALRM (the concurrency pool's do); the child needs it.
            var alarmOnly = sigset_t()
            sigemptyset(&alarmOnly)
            sigaddset(&alarmOnly, SIGALRM)
            pthread_sigmask(SIG_UNBLOCK, &alarmOnly, nil)
            alarm(10)
            _exit(body())
        }
        var status: Int32 = 0
        _ = waitpid(child, &status, 0)
        return status
    }

    @Test func aLockHeldByAnotherThreadAtTheForkIsFreshInTheChild() {
        let lock = Lock([1, 2, 3])
        let held = Flag(), release = Flag()
        let holder = TestThread {
            lock.withLock { state in
                state.append(4)  // mid-change when the fork comes
                held.raise()
                _ = release.wait(milliseconds: 10_000)
            }
        }
        #expect(held.wait(milliseconds: 10_000))
        let status = Self.inChild {
            guard lock.recoverInForkedChild(resettingTo: { [9] }) else { return 2 }
            return lock.withLock { $0 } == [9] ? 0 : 3
        }
        release.raise()
        holder.join()
        #expect(status == 0, "child wait status \(status)")
        // In the parent the holder finished normally; a free lock is left alone.
        #expect(lock.withLock { $0 } == [1, 2, 3, 4])
        #expect(!lock.recoverInForkedChild(resettingTo: { [] }))
        #expect(lock.withLock { $0 } == [1, 2, 3, 4])
    }

    @Test func anAnchorInterruptedByTheForkIsDroppedInTheChild() throws {
        try #require(TSCClock.isAvailable, "the kernel does not use the TSC here")
        _ = WallClock.nowNanoseconds()
        let status = Self.inChild {
            TSCClock.abandonAnAnchorForTesting()
            WallClock.recoverInForkedChild()
            let kernel = rf_sys_realtime_ns()
            let clock = WallClock.nowNanoseconds()  // waits forever if the seqlock stayed odd
            return abs(clock - kernel) < 5_000_000 ? 0 : 4
        }
        #expect(status == 0, "child wait status \(status)")
    }
}
