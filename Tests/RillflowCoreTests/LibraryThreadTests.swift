#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import RillflowCore

/// The library's threads: named by their creator, started with the host's asynchronous signals
/// blocked and the faults, SIGABRT and SIGPROF open, and the creating thread's own mask left as
/// it was.
@Suite struct LibraryThreadTests {
    /// Which of `signals` `mask` blocks.
    private static func blocked(_ signals: [Int32], in mask: sigset_t) -> [Int32] {
        var mask = mask
        return signals.filter { sigismember(&mask, $0) == 1 }
    }

    private static func currentMask() -> sigset_t {
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        return mask
    }

    private static let hostSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE, SIGALRM, SIGWINCH]
    private static let openSignals = [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGPROF]

    @Test func aThreadStartsNamedWithTheHostsSignalsBlockedAndItsCreatorsMaskUnchanged() throws {
        // The creator leaves SIGUSR2 open and blocks SIGWINCH and SIGPROF: its mask must be as it
        // was after, and the thread's must not follow it (SIGPROF stays open there).
        var change = sigset_t()
        sigemptyset(&change)
        sigaddset(&change, SIGUSR2)
        var previous = sigset_t()
        pthread_sigmask(SIG_UNBLOCK, &change, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        sigemptyset(&change)
        sigaddset(&change, SIGWINCH)
        sigaddset(&change, SIGPROF)
        pthread_sigmask(SIG_BLOCK, &change, nil)
        let before = Self.currentMask()

        let named = Flag()
        let seen = Shared<(mask: sigset_t, name: String)?>(nil)
        let thread = try LibraryThread.start(named: "rf-test") {
            // The creator names the thread once the creation returns: read the name after that.
            _ = named.wait(milliseconds: 10_000)
            var name = [CChar](repeating: 0, count: 32)
            if let file = fopen("/proc/thread-self/comm", "r") {
                _ = fgets(&name, 32, file)
                fclose(file)
            }
            seen.value = (Self.currentMask(), String(cString: name).split(separator: "\n").first.map(String.init) ?? "")
        }
        let after = Self.currentMask()
        named.raise()
        pthread_join(thread, nil)

        for signal in Int32(1)..<Int32(32) {
            #expect(Self.blocked([signal], in: after) == Self.blocked([signal], in: before), "signal \(signal)")
        }
        let observed = try #require(seen.value)
        #expect(observed.name == "rf-test")
        #expect(Self.blocked(Self.hostSignals, in: observed.mask) == Self.hostSignals)
        #expect(Self.blocked(Self.openSignals, in: observed.mask) == [])
    }

    @Test func theBlockedSetLeavesOnlyTheFaultsAbortAndProfilingOpen() {
        let set = LibraryThread.blockedSignals
        // 32 and 33 are glibc's own (thread cancellation, set*id): it keeps them out of every set.
        for signal in Array(Int32(1)..<Int32(32)) + Array(Int32(34)...Int32(64)) where signal != SIGKILL && signal != SIGSTOP {
            let open = Self.openSignals.contains(signal)
            #expect(Self.blocked([signal], in: set) == (open ? [] : [signal]), "signal \(signal)")
        }
    }
}
