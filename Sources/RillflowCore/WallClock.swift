#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// Time sources: wall-clock nanoseconds for event timestamps, monotonic for deadlines.
public enum WallClock {
    /// Nanoseconds since the Unix epoch. Every emit takes one, so where the kernel trusts the
    /// CPU's time-stamp counter this reads it (about 11 ns here) instead of `clock_gettime`
    /// (about 28 ns); see `TSCClock`.
    @inline(__always) public static func nowNanoseconds() -> Int64 {
        TSCClock.now(TSCClock.state) ?? rf_sys_realtime_ns()
    }

    /// Called in a child process right after fork() (see `TSCClock.recoverInForkedChild`).
    public static func recoverInForkedChild() { TSCClock.recoverInForkedChild() }

    /// Monotonic nanoseconds, for timeouts and durations.
    @inline(__always) public static func monotonicNanoseconds() -> Int64 { rf_sys_monotonic_ns() }
}

/// Wall-clock time from the time-stamp counter, scaled against `CLOCK_REALTIME`.
///
/// Until 10 ms have passed since the first use it has no scale yet and callers fall back to
/// `clock_gettime`. After that it re-anchors every 50 ms: the base is a fresh (realtime, tsc)
/// pair, and the scale is measured over the whole time since the first anchor, so both the
/// offset and the rate error shrink; between anchors the error stays in the tens of ns.
/// Anchors are published through a seqlock (`sequence` odd while a writer updates).
/// Used only when the kernel's clocksource is "tsc", i.e. the kernel itself found the
/// counter constant-rate and synchronized across cores.
enum TSCClock {
    fileprivate struct State: ~Copyable {
        let sequence = Atomic<UInt64>(0)
        let baseNanoseconds = Atomic<Int64>(0)
        let baseTicks = Atomic<UInt64>(0)
        /// Nanoseconds per tick, fixed point with 32 fraction bits; 0 until calibrated.
        let scale = Atomic<UInt64>(0)
        let reanchorTicks = Atomic<UInt64>(UInt64.max)
        let firstNanoseconds: Int64
        let firstTicks: UInt64
    }

    /// Allocated once and never freed: a plain pointer, so reading the clock costs no
    /// reference counting. nil where the TSC is not usable.
    fileprivate nonisolated(unsafe) static let state: UnsafeMutablePointer<State>? = {
        guard rf_sys_rdtsc() != 0, kernelUsesTSC() else { return nil }
        let (nanoseconds, ticks) = sample()
        let state = UnsafeMutablePointer<State>.allocate(capacity: 1)
        state.initialize(to: State(firstNanoseconds: nanoseconds, firstTicks: ticks))
        state.pointee.baseNanoseconds.store(nanoseconds, ordering: .relaxed)
        state.pointee.baseTicks.store(ticks, ordering: .relaxed)
        madeState.store(UInt(bitPattern: state), ordering: .releasing)
        return state
    }()

    /// `state`'s address once made, 0 before: the fork handler reads it without touching the
    /// lazy global (a child that only execs should not calibrate a clock first).
    private static let madeState = Atomic<UInt>(0)

    private static let calibrationNanoseconds: Int64 = 10_000_000
    private static let reanchorNanoseconds: Int64 = 50_000_000

    /// Whether this machine's kernel lets the clock use the TSC.
    static var isAvailable: Bool { state != nil }

    /// Nanoseconds since the epoch, or nil while not calibrated yet (or not available).
    static func now() -> Int64? { now(state) }

    @inline(__always)
    fileprivate static func now(_ state: UnsafeMutablePointer<State>?) -> Int64? {
        guard let state else { return nil }
        while true {
            let before = state.pointee.sequence.load(ordering: .acquiring)
            let base = state.pointee.baseNanoseconds.load(ordering: .relaxed)
            let ticksAtBase = state.pointee.baseTicks.load(ordering: .relaxed)
            let perTick = state.pointee.scale.load(ordering: .relaxed)
            let due = state.pointee.reanchorTicks.load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            guard before & 1 == 0, state.pointee.sequence.load(ordering: .relaxed) == before else { continue }
            let ticks = rf_sys_rdtsc()
            // Another core's counter may be a little behind the one the anchor was read on:
            // like the kernel's own clock, treat a negative difference as none.
            let elapsed = ticks > ticksAtBase ? ticks - ticksAtBase : 0
            if perTick == 0 || elapsed >= due {
                reanchor(state, sequence: before)
                if perTick == 0 { return nil }
            }
            // (elapsed ticks * scale) >> 32, in 128 bits: a thread idle for hours still gets it right.
            let product = elapsed.multipliedFullWidth(by: perTick)
            return base + Int64(truncatingIfNeeded: product.high << 32 | product.low >> 32)
        }
    }

    /// For a child process right after fork(): a thread that was taking a new anchor at the
    /// fork left the sequence odd, and readers would wait for it forever. The anchor it may
    /// have half written is dropped (scale 0: the next read takes a whole new one).
    static func recoverInForkedChild() {
        guard let state = UnsafeMutablePointer<State>(bitPattern: madeState.load(ordering: .acquiring)) else { return }
        let sequence = state.pointee.sequence.load(ordering: .relaxed)
        guard sequence & 1 != 0 else { return }
        state.pointee.scale.store(0, ordering: .relaxed)
        state.pointee.sequence.store(sequence + 1, ordering: .releasing)
    }

    /// Leaves the seqlock as a thread stopped in the middle of `reanchor` does (for tests of
    /// `recoverInForkedChild`, in a forked child: readers wait until it is recovered).
    static func abandonAnAnchorForTesting() {
        guard let state else { return }
        state.pointee.sequence.add(1, ordering: .acquiring)
        state.pointee.baseNanoseconds.store(0, ordering: .relaxed)  // half written
    }

    /// Takes a new anchor, if no other thread is doing so (it then simply uses the old one).
    private static func reanchor(_ state: UnsafeMutablePointer<State>, sequence observed: UInt64) {
        guard state.pointee.sequence.compareExchange(expected: observed, desired: observed + 1, ordering: .acquiring).exchanged else { return }
        let (nanoseconds, ticks) = sample()
        let elapsedNanoseconds = nanoseconds - state.pointee.firstNanoseconds
        if elapsedNanoseconds >= calibrationNanoseconds, ticks > state.pointee.firstTicks,
           let perTick = scale(nanoseconds: UInt64(elapsedNanoseconds), ticks: ticks - state.pointee.firstTicks) {
            state.pointee.scale.store(perTick, ordering: .relaxed)
            state.pointee.baseNanoseconds.store(nanoseconds, ordering: .relaxed)
            state.pointee.baseTicks.store(ticks, ordering: .relaxed)
            state.pointee.reanchorTicks.store((UInt64(reanchorNanoseconds) << 32) / max(perTick, 1), ordering: .relaxed)
        }
        state.pointee.sequence.store(observed + 2, ordering: .releasing)
    }

    /// Nanoseconds per tick as a 32.32 fixed-point number: (nanoseconds << 32) / ticks, in 128
    /// bits (the shifted count passes 64 bits after 4.3 s). nil if it does not fit in 64 bits.
    static func scale(nanoseconds: UInt64, ticks: UInt64) -> UInt64? {
        guard ticks > 0, nanoseconds >> 32 < ticks else { return nil }
        return ticks.dividingFullWidth((high: nanoseconds >> 32, low: nanoseconds << 32)).quotient
    }

    /// A (realtime, tsc) pair taken as close together as possible: of a few tries, the one
    /// whose counter reads bracket the clock read most tightly, so a thread preempted in the
    /// middle of one try does not skew the anchor.
    private static func sample() -> (Int64, UInt64) {
        var best: (nanoseconds: Int64, ticks: UInt64, window: UInt64)?
        for _ in 0..<4 {
            let before = rf_sys_rdtsc()
            let nanoseconds = rf_sys_realtime_ns()
            let after = rf_sys_rdtsc()
            let window = after &- before
            if best == nil || window < best!.window { best = (nanoseconds, before &+ window / 2, window) }
        }
        return (best!.nanoseconds, best!.ticks)
    }

    private static func kernelUsesTSC() -> Bool {
        guard let file = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r") else { return false }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, 32, file) != nil else { return false }
        return String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == "tsc"
    }
}

/// The event clock as one object holds it: `WallClock.nowNanoseconds` without the lazy-global
/// check of the TSC state on every read (a run log reads the clock once per emit).
struct EventClock {
    private let tsc = TSCClock.state

    @inline(__always) func nowNanoseconds() -> Int64 { TSCClock.now(tsc) ?? rf_sys_realtime_ns() }
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
