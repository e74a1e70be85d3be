#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Busy-waiting for a condition another thread will make true soon, gentle on the memory it
/// watches and on the other threads: between two looks it pauses for about
/// `lookGapNanoseconds` (each look pulls the watched cache line to this core and the writer's
/// next store must pull it back, so looking continuously slows the very writer being waited
/// for), then yields the CPU, so a thread ready to run on this core (a sink or the history
/// writer, when threads outnumber cores) is not held up by the spin; with none, it returns at once.
enum SpinWait {
    /// Measured once: how many CPU pause hints take a microsecond (from about 3 to 140 cycles
    /// each, depending on the processor).
    static let pausesPerMicrosecond: Int = {
        let trial = 2_000
        let start = WallClock.monotonicNanoseconds()
        for _ in 0..<trial { rf_sys_cpu_relax() }
        let elapsed = max(1, WallClock.monotonicNanoseconds() - start)
        return max(1, min(1_000, Int(Int64(trial) * 1_000 / elapsed)))
    }()

    static let lookGapNanoseconds = 4_000

    /// Looks at `condition` until it holds (true) or `limitNanoseconds` have passed (false).
    /// The first look comes after a gap: the caller has just looked.
    static func until(limitNanoseconds: Int64, _ condition: () -> Bool) -> Bool {
        let pausesPerLook = max(1, pausesPerMicrosecond * lookGapNanoseconds / 1_000)
        let stop = WallClock.monotonicNanoseconds() + limitNanoseconds
        while true {
            for _ in 0..<pausesPerLook { rf_sys_cpu_relax() }
            sched_yield()
            if condition() { return true }
            if WallClock.monotonicNanoseconds() >= stop { return false }
        }
    }
}
