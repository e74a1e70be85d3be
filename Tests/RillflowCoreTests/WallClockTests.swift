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

    @Test func wallClockIsNanosecondsSinceTheEpoch() {
        let now = WallClock.nowNanoseconds()
        #expect(abs(now - rf_sys_realtime_ns()) < 1_000_000_000)
        #expect(now > 1_700_000_000_000_000_000)
    }
}
