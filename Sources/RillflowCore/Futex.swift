import CSystem
import Synchronization

/// A 32-bit word threads can sleep on until another thread changes it (Linux futex).
/// Heap-allocated so its address is stable for the kernel.
final class Futex: @unchecked Sendable {
    // @unchecked: the word is only accessed through atomic operations and futex syscalls.
    private let word: UnsafeMutablePointer<Atomic<UInt32>>

    init() {
        word = .allocate(capacity: 1)
        word.initialize(to: Atomic(0))
    }

    deinit { word.deallocate() }

    /// The current value; pass it to `wait` after re-checking the condition you wait for.
    var value: UInt32 { word.pointee.load(ordering: .acquiring) }

    /// Sleeps while the word still equals `expected`, until `deadline`. Spurious returns happen:
    /// callers re-check their condition.
    func wait(expected: UInt32, deadline: Deadline) {
        let raw = UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self)
        _ = rf_sys_futex_wait(raw, expected, deadline.remainingForFutex)
    }

    /// Changes the word and wakes every sleeper.
    func wakeAll() {
        word.pointee.add(1, ordering: .releasing)
        rf_sys_futex_wake_all(UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self))
    }
}
