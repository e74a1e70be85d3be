import CSystem
import Synchronization

/// A 32-bit word threads can sleep on until another thread changes it (Linux futex).
/// Heap-allocated so its address is stable for the kernel.
///
/// `wakeAll` makes the wake system call only when a thread may be asleep: a subscription read
/// through its fd (epoll, asyncio) is woken by the fd, and its producer should not pay for a
/// futex call nobody waits on. Both sides use sequentially consistent read-modify-writes: a
/// waiter counts itself in before the kernel compares the word, a waker changes the word before
/// it looks at the count, so either the waker sees the waiter or the kernel sees the new word.
final class Futex: @unchecked Sendable {
    // @unchecked: the word is only accessed through atomic operations and futex syscalls.
    private let word: UnsafeMutablePointer<Atomic<UInt32>>
    private let sleepers = Atomic<Int>(0)

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
        sleepers.add(1, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // the kernel's read of the word stays after the count
        _ = rf_sys_futex_wait(raw, expected, deadline.remainingForFutex)
        sleepers.subtract(1, ordering: .relaxed)
    }

    /// Changes the word and wakes every sleeper.
    func wakeAll() {
        word.pointee.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            rf_sys_futex_wake_all(UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self))
        }
    }
}
