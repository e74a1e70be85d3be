import CSystem
import Testing
@testable import RillflowCore

@Suite struct WallClockTests {
    @Test func tscClockAgreesWithTheKernelClock() throws {
        guard TSCClock.isAvailable else { return }  // the kernel does not use the TSC here
        // It calibrates over its first 10 ms; until then it defers to clock_gettime.
        let start = rf_sys_monotonic_ns()
        while TSCClock.now() == nil {
            #expect(rf_sys_monotonic_ns() - start < 1_000_000_000, "calibrated within a second")
            if rf_sys_monotonic_ns() - start > 1_000_000_000 { return }
        }
        var worst: Int64 = 0
        for _ in 0..<10_000 {
            let before = rf_sys_realtime_ns()
            let tsc = try #require(TSCClock.now())
            let after = rf_sys_realtime_ns()
            // Inside the [before, after] window, give or take the calibration error.
            worst = max(worst, before - tsc, tsc - after)
        }
        #expect(worst < 200_000, "worst disagreement \(worst) ns")
    }

    @Test func scaleStaysExactForLongUptimes() {
        // A 2.8 GHz counter: 0.357142857... ns per tick, whatever the time since calibration.
        for seconds: UInt64 in [1, 5, 3600, 86_400 * 365] {
            let ticks = seconds * 2_800_000_000
            let perTick = TSCClock.scale(nanoseconds: seconds * 1_000_000_000, ticks: ticks)!
            let back = ticks.multipliedFullWidth(by: perTick)
            let nanoseconds = back.high << 32 | back.low >> 32
            #expect(nanoseconds <= seconds * 1_000_000_000 && seconds * 1_000_000_000 - nanoseconds < seconds + 1,
                    "after \(seconds) s")
        }
        #expect(TSCClock.scale(nanoseconds: 1, ticks: 0) == nil)
    }

    @Test func wallClockIsNanosecondsSinceTheEpoch() {
        let now = WallClock.nowNanoseconds()
        #expect(abs(now - rf_sys_realtime_ns()) < 1_000_000_000)
        #expect(now > 1_700_000_000_000_000_000)
    }
}
