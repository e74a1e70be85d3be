import Synchronization
@testable import RillflowCore

/// A flag one thread raises and another waits for, with a deadline.
final class Flag: Sendable {
    private let raised = Atomic<Bool>(false)
    private let futex = Futex()

    func raise() {
        raised.store(true, ordering: .releasing)
        futex.wakeAll()
    }

    func wait(milliseconds: Int64) -> Bool {
        let deadline = Deadline(milliseconds: milliseconds)
        while !raised.load(ordering: .acquiring) && !deadline.hasPassed {
            let observed = futex.value
            if !raised.load(ordering: .acquiring) { futex.wait(expected: observed, deadline: deadline) }
        }
        return raised.load(ordering: .acquiring)
    }
}
