import Synchronization

/// A reader's position in a run's log, registered so producers know what they may overwrite.
///
/// Non-lossy readers publish the start of the oldest record they may still be looking at;
/// producers wait rather than pass it. Lossy readers copy records out, and set `busyBit`
/// while they copy; a producer that needs their space moves their position forward (when not
/// busy) and the reader reports the gap as a `lagged` event.
final class LogCursor: Sendable {
    static let busyBit: UInt64 = 1 << 63

    let position: Atomic<UInt64>
    let lossy: Bool
    /// A lossy reader whose stream ends at the first INPUT_REQUIRED (of its own run) with a seq
    /// at least this (UInt64.max: none ends so) must learn of one it was moved past, or it
    /// would read on past its end: producers that move it record the first in
    /// `skippedSuspension` (0: none yet), before the move itself, so a reader that sees the
    /// move sees the seq too.
    let suspensionFloor: UInt64
    let skippedSuspension = Atomic<UInt64>(0)

    init(position: Int, lossy: Bool, suspensionFloor: UInt64 = .max) {
        self.position = Atomic(UInt64(position))
        self.lossy = lossy
        self.suspensionFloor = lossy ? suspensionFloor : .max
    }
}
