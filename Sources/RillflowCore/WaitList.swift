import Synchronization

/// Something that sleeps until events of certain kinds arrive (a subscription).
protocol EventWaiter: AnyObject, Sendable {
    /// Kinds whose arrival should wake it.
    var wakeKinds: KindSet { get }
    /// Called by a producer (under the wait list's lock) when a wanted kind was committed.
    func signal()
}

/// The readers of one log that are waiting, and the union of the kinds they wait for.
///
/// A producer checks `armedKinds` with one load after each commit (the eventcount pattern):
/// when no reader waits for that kind it makes no syscall and takes no lock.
final class WaitList: Sendable {
    private let waiters = Lock<[any EventWaiter]>([])
    private let armedKinds = Atomic<UInt32>(0)

    /// Registers `waiter`; the caller then re-checks for data before sleeping.
    func arm(_ waiter: any EventWaiter) {
        waiters.withLock { list in
            if !list.contains(where: { $0 === waiter }) { list.append(waiter) }
            armedKinds.bitwiseOr(waiter.wakeKinds.mask, ordering: .sequentiallyConsistent)
        }
    }

    func disarm(_ waiter: any EventWaiter) {
        waiters.withLock { list in
            guard let index = list.firstIndex(where: { $0 === waiter }) else { return }
            list.remove(at: index)
            armedKinds.store(list.reduce(0) { $0 | $1.wakeKinds.mask }, ordering: .sequentiallyConsistent)
        }
    }

    /// After a commit of `kind`: wakes the waiters that want it.
    @inline(__always)
    func notify(kind: EventKind) { notify(kinds: KindSet(mask: kind.bit)) }

    /// After a commit of one or more events: wakes the waiters that want any of `kinds`. The
    /// fence orders the commits before the check, pairing with the waiter's RMW in `arm`
    /// before its re-check.
    @inline(__always)
    func notify(kinds: KindSet) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if armedKinds.load(ordering: .relaxed) & kinds.mask != 0 { wake(kinds: kinds) }
    }

    /// Wakes every waiter (the run ended, or a subscription is closing).
    func wakeAll() {
        let woken = waiters.withLock { list -> [any EventWaiter] in
            defer { list.removeAll(); armedKinds.store(0, ordering: .sequentiallyConsistent) }
            return list
        }
        for waiter in woken { waiter.signal() }
    }

    /// Signals outside the lock: a woken reader's first step is `disarm`, which takes the lock,
    /// and waking it while holding the lock would send it straight back to sleep on the mutex.
    private func wake(kinds: KindSet) {
        var woken: [any EventWaiter] = []
        waiters.withLock { list in
            var remaining = 0 as UInt32
            list.removeAll { waiter in
                if waiter.wakeKinds.mask & kinds.mask != 0 {
                    woken.append(waiter)
                    return true
                }
                remaining |= waiter.wakeKinds.mask
                return false
            }
            armedKinds.store(remaining, ordering: .sequentiallyConsistent)
        }
        for waiter in woken { waiter.signal() }
    }
}
