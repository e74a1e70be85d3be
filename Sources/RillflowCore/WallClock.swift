import CSystem

/// Time sources: wall-clock nanoseconds for event timestamps, monotonic for deadlines.
public enum WallClock {
    /// Nanoseconds since the Unix epoch.
    @inline(__always) public static func nowNanoseconds() -> Int64 { rf_sys_realtime_ns() }
    /// Monotonic nanoseconds, for timeouts and durations.
    @inline(__always) public static func monotonicNanoseconds() -> Int64 { rf_sys_monotonic_ns() }
}

/// A point in monotonic time after which a wait gives up; `nil` deadline waits forever.
struct Deadline {
    let nanoseconds: Int64?

    /// `milliseconds`: 0 = do not wait, negative = no limit.
    init(milliseconds: Int64) {
        nanoseconds = milliseconds < 0 ? nil : WallClock.monotonicNanoseconds() + milliseconds * 1_000_000
    }

    var hasPassed: Bool {
        guard let nanoseconds else { return false }
        return WallClock.monotonicNanoseconds() >= nanoseconds
    }

    /// Nanoseconds left (at least 0), or -1 for no limit: the form the futex shim takes.
    var remainingForFutex: Int64 {
        guard let nanoseconds else { return -1 }
        return max(0, nanoseconds - WallClock.monotonicNanoseconds())
    }
}
