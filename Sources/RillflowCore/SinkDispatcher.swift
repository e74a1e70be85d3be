#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// Where a sink's events go: the embedding layer's callback. Called only on the dispatcher's
/// thread, one run's events in seq order, never concurrently with itself.
public protocol SinkTarget: AnyObject, Sendable {
    /// Delivers one batch of `log`'s events (views valid during the call); nil on success,
    /// else why it failed (the same batch is offered again after the sink's backoff).
    func deliver(_ events: [EventView], from log: RunLog) -> String?
    /// A run's stream has ended and every event of it was delivered.
    func runEnded(runId: UInt64)
    /// The sink was removed and will never be called again. Called once, on the removing
    /// thread, before `Engine.removeSink` returns; not called when the engine stopped first.
    func removed()
}

extension SinkTarget {
    public func removed() {}
}

/// How a removal went.
public struct SinkRemoval: Sendable {
    /// Every event emitted before the removal reached the sink (or failed for good) in time.
    public var drained: Bool
    /// The sink thread confirmed it will never call the sink again (false only when the
    /// engine stopped first: then the sink is let go when the sink thread ends).
    public var detached: Bool
}

/// How a sink takes events.
public struct SinkOptions: Sendable {
    /// Skip ahead (counting what was skipped) instead of making producers wait for the sink.
    public var lossy: Bool
    /// The kinds it wants; terminal events always reach it.
    public var kinds: KindSet
    /// Consecutive failed deliveries after which it is disabled; 0 = never.
    public var maxFailures: Int
    public var retryBackoffNanoseconds: Int64

    public init(lossy: Bool = false, kinds: KindSet = .all, maxFailures: Int = 0, retryBackoffNanoseconds: Int64 = 100_000_000) {
        self.lossy = lossy
        self.kinds = kinds
        self.maxFailures = maxFailures
        self.retryBackoffNanoseconds = retryBackoffNanoseconds
    }
}

/// What a sink has done so far.
public struct SinkStats: Sendable {
    public var delivered: UInt64 = 0
    public var dropped: UInt64 = 0
    public var failures: UInt64 = 0
    /// Failed deliveries since its last success, whatever the run (for `maxFailures`).
    var failuresInARow = 0
    public var runs: UInt64 = 0
    public var disabled = false
    public var lastError = ""
}

/// One registered sink.
public final class Sink: Sendable {
    public let target: any SinkTarget
    public let options: SinkOptions
    let stats = Lock(SinkStats())
    let detached = Lock(false)

    init(target: any SinkTarget, options: SinkOptions) {
        self.target = target
        self.options = options
    }

    public var currentStats: SinkStats { stats.withLock { $0 } }
}

/// Delivers every run's events to the engine's sinks on a thread of its own: each (sink, root
/// run) pair is a subscription, waited on together with epoll. A slow non-lossy sink holds its
/// runs' producers at the log's bound like any subscriber; a failing one is retried after its
/// backoff and disabled after `maxFailures`; nothing a sink does reaches a step's thread.
final class SinkDispatcher: @unchecked Sendable {
    // @unchecked: `attachments`, `epoll` bookkeeping and `nextToken` belong to the dispatcher's
    // thread; everything shared with callers is behind `shared` (a Monitor).
    private struct Attachment {
        let sink: Sink
        let subscription: Subscription
        let runId: UInt64
        let fd: Int32
        var pending: [EventView]?
        var retryAt: Int64 = 0
        /// Out of the epoll set while a failed batch waits for its retry: its fd stays
        /// readable meanwhile, and would wake the dispatcher again and again.
        var muted = false
        var endedAt = false
    }

    private let epoll: Int32
    private let wakeFD: Int32
    private var attachments: [UInt64: Attachment] = [:]
    private var nextToken: UInt64 = 1
    private var thread = pthread_t()

    private let monitor = Monitor()
    private var sinks: [Sink] = []
    private var inbox: [(Sink, Subscription, UInt64)] = []
    private var removals: [Sink] = []
    private var stopping = false
    /// Drains asked for and still awaited. Each is done after one full pass in which no
    /// attachment of its sink (or of any sink, when nil) had anything left to deliver.
    private var pendingDrains: [(id: Int, sink: Sink?)] = []
    private var nextDrainId = 0
    private var completedDrains: Set<Int> = []
    private var removalRequests = 0
    private var removalsDone = 0
    /// Events delivered in the current pass (the dispatcher's thread only).
    private var deliveredInPass = 0
    /// An attachment had more to deliver than its share of the last pass (dispatcher's thread).
    private var lastPassBusy = false
    /// The drains the last pass was made for (dispatcher's thread): a new one needs a pass now.
    private var drainsPassed = Set<Int>()
    /// Passes made so far, for tests (a drain must not spin while a failed batch waits).
    let passes = Atomic<Int>(0)

    /// What an attachment has left after its visit.
    private enum Activity {
        case quiet
        /// More is ready than one visit delivers.
        case busy
        /// A failed batch waits for its retry.
        case retrying
    }
    /// While events stream in, the dispatcher waits this long between passes: batches grow and
    /// producers wake it far less often (each wake is a syscall on their side and a context
    /// switch). The first event after a quiet spell is still delivered at once, and a pass that
    /// left a backlog (more than an attachment's share) is followed by the next at once.
    static let streamingPauseNanoseconds = 250_000
    /// Events per delivery at most (each batch is one call, and one write for the history).
    static let batchLimit = 1024

    init() throws(RillflowError) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard epoll >= 0, wakeFD >= 0 else { throw RillflowError(.system, "epoll/eventfd failed: errno \(rf_sys_errno())") }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: 0))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &event)
        thread = try LibraryThread.start(named: "rf-sinks") { self.loop() }
    }

    deinit {
        Glibc.close(epoll)
        Glibc.close(wakeFD)
    }

    func add(_ sink: Sink) {
        monitor.lock()
        sinks.append(sink)
        monitor.unlock()
    }

    /// Subscribes every sink to a new root run (from its first event).
    func attach(_ run: Run) {
        monitor.lock()
        let current = sinks
        monitor.unlock()
        guard !current.isEmpty else { return }
        for sink in current {
            let options = SubscriptionOptions(mode: .custom, customKinds: sink.options.kinds, lossy: sink.options.lossy, startSeq: 1)
            guard let subscription = try? Subscription(log: run.log, options: options) else {
                sink.stats.withLock { $0.lastError = "could not subscribe to run \(run.id)" }
                continue
            }
            monitor.lock()
            if stopping || sink.detached.withLock({ $0 }) {
                monitor.unlock()
                subscription.close()
                continue
            }
            inbox.append((sink, subscription, run.id))
            monitor.unlock()
            sink.stats.withLock { $0.runs += 1 }
        }
        poke()
    }

    /// Whether the caller is the dispatcher's thread, i.e. inside a sink's callback (or a
    /// destroy it caused). Removing, draining or stopping from there would wait for itself.
    var isDispatcherThread: Bool { pthread_equal(thread, pthread_self()) != 0 }

    /// Delivers what is ready for `sink`, then detaches it from every run (its later runs get
    /// nothing). Not on the dispatcher's thread.
    func remove(_ sink: Sink, timeoutMilliseconds: Int64) -> SinkRemoval {
        let drained = drain(sink, timeoutMilliseconds: timeoutMilliseconds)
        sink.detached.withLock { $0 = true }
        monitor.lock()
        sinks.removeAll { $0 === sink }
        removals.append(sink)
        let request = removalRequests + 1
        removalRequests = request
        monitor.unlock()
        poke()
        // The dispatcher thread detaches it at its next turn: after that it is never called again.
        monitor.lock()
        while removalsDone < request && !stopping { monitor.wait() }
        let detached = removalsDone >= request
        monitor.unlock()
        if detached { sink.target.removed() }
        return SinkRemoval(drained: drained, detached: detached)
    }

    /// Waits until every event emitted before the call reached `sink` (every sink when nil),
    /// or failed for good, at most `timeoutMilliseconds`. False on timeout: the request is then
    /// withdrawn, so the dispatcher stops looking for it.
    @discardableResult
    func drain(_ sink: Sink? = nil, timeoutMilliseconds: Int64) -> Bool {
        monitor.lock()
        let id = nextDrainId
        nextDrainId += 1
        pendingDrains.append((id, sink))
        monitor.unlock()
        poke()
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        monitor.lock()
        defer { monitor.unlock() }
        while !completedDrains.contains(id) && !stopping {
            if deadline.hasPassed {
                pendingDrains.removeAll { $0.id == id }
                return false
            }
            monitor.wait(until: deadline.nanoseconds)
        }
        completedDrains.remove(id)
        return true
    }

    /// Whether `shutdown` has begun (for tests).
    var isStopping: Bool {
        monitor.lock()
        defer { monitor.unlock() }
        return stopping
    }

    /// Stops the thread; what was not delivered is dropped. Not from a sink's callback.
    func shutdown() {
        monitor.lock()
        stopping = true
        monitor.broadcast()
        monitor.unlock()
        poke()
        if pthread_equal(thread, pthread_self()) != 0 { pthread_detach(thread) } else { pthread_join(thread, nil) }
    }

    private func poke() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    // MARK: - The dispatcher's thread

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            monitor.lock()
            if stopping {
                monitor.unlock()
                break
            }
            var arrivals = inbox
            inbox.removeAll()
            var leaving = removals
            removals.removeAll()
            let removalRequest = removalRequests
            let drains = pendingDrains
            monitor.unlock()

            for (sink, subscription, runId) in arrivals { register(sink, subscription, runId) }
            // This pass's references to sinks go before a removal is confirmed: a removed sink
            // must not be freed later on this thread.
            arrivals.removeAll()
            for sink in leaving { detachAll(sink) }
            if !leaving.isEmpty {
                leaving.removeAll()
                monitor.lock()
                removalsDone = max(removalsDone, removalRequest)
                monitor.broadcast()
                monitor.unlock()
            }

            let drainPending = !drains.isEmpty
            let now = WallClock.monotonicNanoseconds()
            let nextRetry = attachments.values.compactMap { $0.pending == nil ? nil : $0.retryAt }.min()
            // A drain gets a pass at once when new, and again while there is more to deliver;
            // a batch waiting for its retry is waited for like any other time (no spinning).
            var timeout: Int32 = -1
            if drainPending && (lastPassBusy || drains.contains { !drainsPassed.contains($0.id) }) {
                timeout = 0
            } else if let nextRetry {
                timeout = Int32(clamping: max(0, (nextRetry - now + 999_999) / 1_000_000))
            }
            let count = epoll_wait(epoll, &events, Int32(events.count), timeout)
            var ready = Set<UInt64>()
            if count > 0 {
                for index in 0..<Int(count) {
                    let token = events[index].data.u64
                    if token == 0 { var counter: UInt64 = 0; _ = Glibc.read(wakeFD, &counter, 8) } else { ready.insert(token) }
                }
            }
            let due = WallClock.monotonicNanoseconds()
            // A drain visits everyone; otherwise the ready ones and the retries now due.
            let visit = drainPending ? Set(attachments.keys)
                : ready.union(attachments.filter { $0.value.pending != nil && $0.value.retryAt <= due }.keys)
            passes.add(1, ordering: .relaxed)
            var unsettled = Set<ObjectIdentifier>()  // sinks with something left to deliver
            lastPassBusy = false
            deliveredInPass = 0
            for token in visit {
                let sink = attachments[token]?.sink
                switch service(token) {
                case .quiet: break
                case .busy:
                    lastPassBusy = true
                    if let sink { unsettled.insert(ObjectIdentifier(sink)) }
                case .retrying:
                    if let sink { unsettled.insert(ObjectIdentifier(sink)) }
                }
            }
            if drainPending { complete(drains, unsettled: unsettled) }
            drainsPassed = Set(drains.map(\.id))
            // Not after a pass that left more ready than its share: batches are full already.
            if deliveredInPass > 0 && !drainPending && !lastPassBusy {
                var pause = timespec(tv_sec: 0, tv_nsec: Self.streamingPauseNanoseconds)
                nanosleep(&pause, nil)
            }
        }
        // Runs attached since the last pass were never registered: their subscriptions are
        // closed too, or their cursors would hold those runs' producers at the log's bound.
        monitor.lock()
        let unregistered = inbox
        inbox.removeAll()
        monitor.unlock()
        for (_, subscription, _) in unregistered { subscription.close() }
        for token in Array(attachments.keys) { close(token) }
    }

    private func watch(_ fd: Int32, token: UInt64, events: UInt32) {
        var event = epoll_event(events: events, data: epoll_data_t(u64: token))
        epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
    }

    /// After a full pass: the drains whose sinks had nothing left are done.
    private func complete(_ drains: [(id: Int, sink: Sink?)], unsettled: Set<ObjectIdentifier>) {
        let done = drains.filter { drain in drain.sink.map { !unsettled.contains(ObjectIdentifier($0)) } ?? unsettled.isEmpty }
        guard !done.isEmpty else { return }
        monitor.lock()
        for drain in done where pendingDrains.contains(where: { $0.id == drain.id }) {  // not given up
            pendingDrains.removeAll { $0.id == drain.id }
            completedDrains.insert(drain.id)
        }
        monitor.broadcast()
        monitor.unlock()
    }

    private func register(_ sink: Sink, _ subscription: Subscription, _ runId: UInt64) {
        // Disabled (on this thread) after `attach` queued the run: it gets nothing more.
        guard !sink.detached.withLock({ $0 }), let fd = try? subscription.fileDescriptor() else {
            subscription.close()
            return
        }
        let token = nextToken
        nextToken += 1
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: token))
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
        attachments[token] = Attachment(sink: sink, subscription: subscription, runId: runId, fd: fd)
    }

    private func close(_ token: UInt64) {
        guard let attachment = attachments.removeValue(forKey: token) else { return }
        epoll_ctl(epoll, EPOLL_CTL_DEL, attachment.fd, nil)
        attachment.sink.stats.withLock { $0.dropped += attachment.subscription.skippedEvents }
        attachment.subscription.close()
    }

    private func detachAll(_ sink: Sink) {
        for (token, attachment) in attachments where attachment.sink === sink { close(token) }
    }

    /// Reads up to `batchLimit` ready events, without waiting. The read stores the views
    /// straight into the array's storage, without a closure call and an append per event.
    private static func readBatch(_ subscription: Subscription) throws(RillflowError) -> [EventView] {
        var failure: RillflowError?
        let batch = [EventView](unsafeUninitializedCapacity: batchLimit) { storage, initialized in
            do throws(RillflowError) {
                initialized = try subscription.read(into: UnsafeMutableRawPointer(storage.baseAddress!), stride: MemoryLayout<EventView>.stride,
                                                    limit: batchLimit, timeoutMilliseconds: 0) { _ in }
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return batch
    }

    /// Delivers what one attachment has ready, at most its share of a pass, and says what it
    /// has left.
    private func service(_ token: UInt64) -> Activity {
        guard var attachment = attachments[token] else { return .quiet }
        if attachment.pending != nil && attachment.retryAt > WallClock.monotonicNanoseconds() { return .retrying }
        defer { if attachments[token] != nil { attachments[token] = attachment } }
        if attachment.muted {
            watch(attachment.fd, token: token, events: EPOLLIN.rawValue)
            attachment.muted = false
        }
        let sink = attachment.sink
        for _ in 0..<16 {  // a bounded share per visit, so one busy run cannot starve the others
            if attachment.pending == nil {
                let batch: [EventView]
                do throws(RillflowError) {
                    batch = try Self.readBatch(attachment.subscription)
                } catch {
                    if error.code == .endOfStream {
                        sink.target.runEnded(runId: attachment.runId)
                        attachments[token] = attachment
                        close(token)
                    }
                    return .quiet  // wouldBlock: quiet (the read re-armed the fd)
                }
                attachment.pending = batch
            }
            guard let batch = attachment.pending else { return .quiet }
            if let failure = sink.target.deliver(batch, from: attachment.subscription.log) {
                // In a row across all its runs: a sink failing on every run is disabled as soon
                // as one failing on a single run would be.
                let disable = sink.stats.withLock { stats -> Bool in
                    stats.failures += 1
                    stats.failuresInARow += 1
                    stats.lastError = failure
                    if sink.options.maxFailures > 0 && stats.failuresInARow >= sink.options.maxFailures { stats.disabled = true }
                    return stats.disabled
                }
                if disable {
                    sink.detached.withLock { $0 = true }
                    monitor.lock()
                    sinks.removeAll { $0 === sink }
                    monitor.unlock()
                    attachments[token] = attachment
                    detachAll(sink)
                    return .quiet
                }
                attachment.retryAt = WallClock.monotonicNanoseconds() + sink.options.retryBackoffNanoseconds
                watch(attachment.fd, token: token, events: 0)
                attachment.muted = true
                return .retrying
            }
            sink.stats.withLock {
                $0.delivered += UInt64(batch.count)
                $0.failuresInARow = 0
            }
            deliveredInPass += batch.count
            attachment.pending = nil
        }
        return .busy  // more than its share: visit again
    }
}
