#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Starts the library's own threads (workers, the timer, the sink thread).
///
/// Each is named, for debuggers, `top -H` and /proc, and starts with the host's asynchronous
/// signals blocked, so a signal sent to the process (SIGINT, SIGTERM, SIGCHLD, SIGUSR1, ...) is
/// delivered to one of the host's threads, never to the library's: a host that blocks a signal
/// everywhere and takes it with `sigwait` or a signalfd gets it, and a handler runs where the
/// host expects. Left open: the faults the kernel sends to the thread that caused them (blocking
/// those would kill the process anyway), SIGABRT, and SIGPROF, so a profiler's timer samples
/// whatever thread runs.
enum LibraryThread {
    /// The signals the library's threads block.
    static var blockedSignals: sigset_t {
        var set = sigset_t()
        sigfillset(&set)
        for open in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGPROF] { sigdelset(&set, open) }
        return set
    }

    /// Starts a thread named `name` (at most 15 bytes) that runs `body`, then ends.
    /// A new thread inherits its creator's signal mask: the calling thread takes the library's
    /// mask for the length of the call and then gets its own back, so the new thread starts with
    /// exactly that mask, whatever the caller blocks, and no signal reaches it before. A signal
    /// sent meanwhile waits, pending, for the caller's restored mask.
    static func start(named name: String, _ body: @escaping () -> Void) throws(RillflowError) -> pthread_t {
        let context = Unmanaged.passRetained(Start(body)).toOpaque()
        var blocked = blockedSignals
        var callers = sigset_t()
        pthread_sigmask(SIG_SETMASK, &blocked, &callers)
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context)
        pthread_sigmask(SIG_SETMASK, &callers, nil)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw RillflowError(.system, "cannot start a thread (\(name)): pthread_create failed with \(status)")
        }
        rf_sys_name_thread(thread, name)
        return thread
    }

    /// The body, boxed to pass through pthread_create's one pointer.
    private final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
