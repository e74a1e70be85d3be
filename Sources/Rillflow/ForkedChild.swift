#if canImport(Glibc)
import Glibc
#endif
import RillflowCore
import Synchronization

/// What the library does in a child process made by fork(): the child has only the thread
/// that forked, so no engine made before the fork has its worker, timer or sink threads any
/// more; a workflow run there would wait forever. Its handles are therefore refused in the
/// child with a message that says why, and their objects are never released (releasing an
/// engine waits for threads that are not there). The library's process-wide state is
/// recovered so the child can make new engines: the handle table's lock and the clock's
/// seqlock, either of which another thread may have held at the fork.
enum ForkedChild {
    /// Whether this process is a child forked after the library was first used.
    static let isForked = Atomic<Bool>(false)

    /// Registers the fork handler; `HandleRegistry.shared` does it as it is made, before the
    /// first handle exists.
    static func install() {
        let status = pthread_atfork(nil, nil, { ForkedChild.recover() })
        precondition(status == 0, "pthread_atfork failed: \(status)")
    }

    /// Runs in the child, on the forking thread, before fork() returns there.
    private static func recover() {
        isForked.store(true, ordering: .relaxed)
        WallClock.recoverInForkedChild()
        HandleRegistry.sharedIfMade?.forgetAfterFork()
    }
}
