#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Step invocations the host runs itself, on its own threads or event loop: a host-run step's
/// function only queues its context here and returns `.pending`; the host takes tasks with
/// `take`, or waits on `fileDescriptor` (readable whenever a task waits), runs them, and ends
/// each with `StepContext.complete(_:)`. This is how a language whose callbacks are costly from
/// foreign threads (Python) runs steps without the engine ever calling into it.
///
/// A busy host pays no system call per task: the fd is emptied only when a take finds nothing
/// (it is then "armed"), and written only by the first push after that; threads blocked in
/// `take` are woken only when there are some. So the fd may stay readable for a while after the
/// last task was taken (a take then finds nothing), but it is never unreadable while a task waits.
public final class HostTaskQueue: @unchecked Sendable {
    // @unchecked: `state` is behind its lock; the fd and futex are used through syscalls.
    private struct State {
        var tasks: [StepContext?] = []
        var head = 0
        var closed = false
        /// The fd is not readable, and the next push must make it so. Always `!readable`.
        var armed = true
        /// Threads blocked in `take`.
        var sleepers = 0
    }

    private let state = Lock(State())
    private let futex = Futex()
    public let fileDescriptor: Int32

    public init() throws(RillflowError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw RillflowError(.system, "eventfd failed: errno \(rf_sys_errno())") }
        fileDescriptor = fd
    }

    deinit { Glibc.close(fileDescriptor) }

    /// The function to give a host-run step.
    public var stepFunction: StepFunction {
        { context in
            context.awaitCompletionElsewhere()  // the host may complete it before this returns
            return self.push(context) ? .pending : .failed("the task queue is closed (its engine was released): no host can run this step")
        }
    }

    private func push(_ context: StepContext) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            state.tasks.append(context)
            if state.armed {
                signalFD()
                state.armed = false
            }
            return (true, state.sleepers > 0)
        }
        if wake { futex.wakeAll() }
        return accepted
    }

    /// The next task, waiting up to `timeoutMilliseconds` (0: not at all, negative: no limit);
    /// nil when none came in time. Throws `.closed` once the queue is closed and empty.
    public func take(timeoutMilliseconds: Int64) throws(RillflowError) -> StepContext? {
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        var sleeping = false
        defer { if sleeping { state.withLock { $0.sleepers -= 1 } } }
        while true {
            let observed = futex.value
            let outcome = state.withLock { state -> (StepContext?, Bool) in
                guard state.head < state.tasks.count else {
                    if !state.closed && !state.armed {
                        drainFD()  // found empty: not readable until the next push
                        state.armed = true
                    }
                    if !sleeping && timeoutMilliseconds != 0 {
                        state.sleepers += 1
                        sleeping = true
                    }
                    return (nil, state.closed)
                }
                let task = state.tasks[state.head]
                state.tasks[state.head] = nil  // nothing a taken task holds stays alive here
                state.head += 1
                if state.head == state.tasks.count {
                    state.tasks.removeAll(keepingCapacity: true)
                    state.head = 0
                }
                return (task, false)
            }
            if let task = outcome.0 { return task }
            if outcome.1 { throw RillflowError(.closed, "the task queue is closed") }
            if timeoutMilliseconds == 0 || deadline.hasPassed { return nil }
            futex.wait(expected: observed, deadline: deadline)
        }
    }

    /// Closes the queue: waiting takers wake, later tasks fail their step. Returns the tasks
    /// nobody took, for the caller to end (each must still be completed).
    @discardableResult
    public func close() -> [StepContext] {
        let left = state.withLock { state -> [StepContext] in
            state.closed = true
            if state.armed {
                signalFD()
                state.armed = false
            }
            defer {
                state.tasks.removeAll()
                state.head = 0
            }
            return state.tasks[state.head...].compactMap { $0 }
        }
        futex.wakeAll()
        return left
    }

    private func signalFD() {
        var one: UInt64 = 1
        _ = Glibc.write(fileDescriptor, &one, 8)
    }

    private func drainFD() {
        var counter: UInt64 = 0
        _ = Glibc.read(fileDescriptor, &counter, 8)
    }
}
