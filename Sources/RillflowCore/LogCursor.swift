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

    init(position: Int, lossy: Bool) {
        self.position = Atomic(UInt64(position))
        self.lossy = lossy
    }
}
