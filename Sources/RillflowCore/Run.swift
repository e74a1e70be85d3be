#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One execution and its event log. A run is created pending (so subscribers can attach
/// before anything happens), started once, and ended by exactly one terminal event.
///
/// A *manual* run has no workflow: the host emits its events and ends it itself, which is how
/// code that runs its own steps streams through Rillflow.
public final class Run: Sendable {
    public let identity: RunIdentity
    public let log: RunLog
    private let state = Atomic<UInt32>(RunStatus.pending.rawValue)
    private let traceId: String?
    private let parentSpanId: String?
    private let metadata: [UInt8]?
    /// Woken at every status change, for `wait`.
    private let changes = Futex()
    /// How the run ended, set with its terminal event; serializes ending.
    private let ending = Lock<RunEnding?>(nil)
    /// The terminal event is in the log. Until then an ended `state` (claimed by `end`, whose
    /// write may wait for a slow reader) is reported as `statusBeforeEnd`, without waiting.
    private let terminalWritten = Atomic<Bool>(false)
    private let statusBeforeEnd = Atomic<UInt32>(RunStatus.pending.rawValue)

    private static let nextRunId = Atomic<UInt64>(1)

    /// Where this run's events are also written: each ancestor's log, with this run's source
    /// index there (a child's events appear in its parent's and root's streams).
    private let ancestors: [(log: RunLog, source: UInt32)]
    /// A child run holds it while it writes an event into its own log and then its ancestors',
    /// so they get its events in its own order: none after its terminal event. Root runs have
    /// no ancestors and no lock: their emits take none.
    private let lineageOrder: Lock<Bool>?
    /// The engine's limits, which child runs share.
    let configuration: EngineConfiguration
    /// For a run reopened from its durable history: the token usage its RUN_COMPLETED event
    /// recorded (nil for live runs, and for reopened ones that ended otherwise).
    public let recordedUsage: TokenUsage?

    public init(engine: Engine, workflowName: String, traceId: String? = nil, parentSpanId: String? = nil,
                metadata: [UInt8]? = nil) {
        let runId = Self.nextRunId.add(1, ordering: .relaxed).oldValue
        identity = RunIdentity(runId: runId, workflowName: workflowName)
        configuration = engine.configuration
        let durable = engine.historyWriterStore.map { store in
            let durable = DurableRun(store: store, runId: runId)
            if let failure = store.runStarted(runId) { durable.noteFailure(failure) }
            return durable
        }
        log = RunLog(identity: identity, configuration: engine.configuration, durable: durable)
        self.traceId = traceId
        self.parentSpanId = parentSpanId
        self.metadata = metadata
        ancestors = []
        lineageOrder = nil
        recordedUsage = nil
        engine.runCreated(self)
    }

    /// A child run of `parent` (a sub-workflow), whose events also appear in every ancestor's
    /// stream with its own run id and its parent's and root's.
    public init(workflowName: String, parent: Run) {
        let runId = Self.nextRunId.add(1, ordering: .relaxed).oldValue
        let identity = RunIdentity(runId: runId, parentRunId: parent.id, rootRunId: parent.identity.rootRunId, workflowName: workflowName)
        self.identity = identity
        configuration = parent.configuration
        log = RunLog(identity: identity, configuration: parent.configuration)
        traceId = nil
        parentSpanId = nil
        metadata = nil
        let lineage = [parent.log] + parent.ancestors.map(\.log)
        ancestors = lineage.map { ($0, $0.registerSource(identity)) }
        lineageOrder = Lock(false)
        recordedUsage = nil
        // Its events are in its root's durable history: its id must stay unique across processes too.
        if let durable = lineage.last?.durable, let failure = durable.store.reserve(runId) { durable.noteFailure(failure) }
    }

    /// A run reopened from its durable history: finished (or interrupted, when its history has
    /// no terminal event), its stream the records on disk.
    init(reopened recovered: RecoveredRun, store: HistoryStore, configuration: EngineConfiguration) {
        identity = recovered.identity
        // Its readers size buffers by the log's limit: it must cover every event on disk.
        var configuration = configuration
        configuration.maxEventBytes = max(configuration.maxEventBytes, recovered.largestData)
        self.configuration = configuration
        let durable = DurableRun(store: store, runId: recovered.identity.runId, recovered: recovered.info)
        log = RunLog(identity: identity, configuration: configuration, durable: durable)
        log.freeze(nextSeq: recovered.info.lastSeq + 1)
        traceId = nil
        parentSpanId = nil
        metadata = nil
        ancestors = []
        lineageOrder = nil
        recordedUsage = recovered.terminal.flatMap { $0.kind == .runCompleted ? TokenUsage(completedRunData: $0.data) : nil }
        let status = recovered.terminal.flatMap { RunStatus(terminal: $0.kind) } ?? .interrupted
        state.store(status.rawValue, ordering: .relaxed)
        terminalWritten.store(true, ordering: .relaxed)
        let detail = recovered.terminal?.data
            ?? Array("run \(identity.runId)'s durable history has no terminal event: the process writing it stopped before the run ended".utf8)
        ending.withLock { $0 = RunEnding(status: status, detail: detail) }
    }

    /// Makes every later run id at least `floor` (ids in a durable history stay unique across
    /// processes).
    static func reserveRunIds(below floor: UInt64) {
        var current = nextRunId.load(ordering: .relaxed)
        while current < floor {
            let (exchanged, actual) = nextRunId.compareExchange(expected: current, desired: floor, ordering: .relaxed)
            if exchanged { return }
            current = actual
        }
    }

    /// Writes an event into this run's log and then its ancestors' (best effort there: an
    /// ancestor that has ended takes no more events).
    @discardableResult @inline(__always)
    private func write(_ draft: EventDraft) throws(RillflowError) -> UInt64 {
        guard let lineageOrder else { return try log.emit(draft) }
        return try writeInLineageOrder(draft, lineageOrder)
    }

    /// A child run's write. Out of line: the log's emit is inlined once, on the root runs' path
    /// (rf_run_emit's), where inlining it twice made the compiler inline it nowhere.
    @inline(never)
    private func writeInLineageOrder(_ draft: EventDraft, _ lineageOrder: Lock<Bool>) throws(RillflowError) -> UInt64 {
        try lineageOrder.withLock { _ throws(RillflowError) in
            let (seq, timestamp) = try log.emitStamped(draft, at: nil)
            copyToAncestors(draft, stampedAt: timestamp)
            return seq
        }
    }

    /// Copies an event of this run into its ancestors' logs with the timestamp it got here, so
    /// it reads the same in every stream (a copy may wait for room in a full ancestor log).
    @inline(__always)
    private func copyToAncestors(_ draft: EventDraft, stampedAt timestamp: Int64) {
        for ancestor in ancestors {
            var copy = draft
            copy.source = ancestor.source
            _ = try? ancestor.log.emitStamped(copy, at: timestamp)
        }
    }

    public var id: UInt64 { identity.runId }
    /// The run's status. An ended status is reported only once the terminal event is in the
    /// log, so whoever sees it, rf_run_wait's caller for one, finds the event there too. While
    /// `end` writes it (which may wait for a slow reader: the result of a completed run can be
    /// larger than the room the log keeps for the terminal event) the status it had is
    /// reported: asking never waits, so a thread that both reads the stream and asks the status
    /// cannot hold itself up.
    public var status: RunStatus {
        let current = RunStatus(rawValue: state.load(ordering: .acquiring))!
        guard current.isFinished, !isTerminalInLog else { return current }
        return RunStatus(rawValue: statusBeforeEnd.load(ordering: .relaxed))!
    }

    /// Whether the terminal event is in the log. Once its place there is claimed (the log is
    /// closed) nothing is left to wait for but a copy: then this waits those moments, so a
    /// reader that has read the event and then asks finds the run ended.
    private var isTerminalInLog: Bool {
        if terminalWritten.load(ordering: .acquiring) { return true }
        guard log.closedNextSeq != nil else { return false }
        while !terminalWritten.load(ordering: .acquiring) { sched_yield() }
        return true
    }

    /// `end` has claimed the ending (its terminal event may not be in the log yet); for tests.
    var isEndClaimed: Bool { RunStatus(rawValue: state.load(ordering: .acquiring))!.isFinished }

    /// Pending → running, with the run-started event (its data: trace context and input size).
    public func start(inputBytes: Int) throws(RillflowError) {
        let (exchanged, actual) = state.compareExchange(
            expected: RunStatus.pending.rawValue, desired: RunStatus.running.rawValue, ordering: .acquiringAndReleasing)
        guard exchanged else {
            throw RillflowError(.invalidState, "the run is \(RunStatus(rawValue: actual)!), not pending: a run starts once")
        }
        var json = JSONText()
        json.object { object in
            object.field("trace_id", string: traceId)
            object.field("parent_span_id", string: parentSpanId)
            object.field("input_bytes", number: inputBytes)
            if let metadata { object.field("metadata", json: metadata) }
        }
        defer { changes.wakeAll() }
        try json.withBytes { data throws(RillflowError) in
            _ = try write(EventDraft(kind: .runStarted, data: data))
        }
    }

    /// Running -> suspended (waiting for human input), or back. False if the run was not in `from`.
    func transition(from: RunStatus, to: RunStatus) -> Bool {
        defer { changes.wakeAll() }
        return state.compareExchange(expected: from.rawValue, desired: to.rawValue, ordering: .acquiringAndReleasing).exchanged
    }

    /// How the run ended; nil until its terminal event is in the log (then its status is the
    /// ended one), without waiting for that write.
    public var outcome: RunEnding? {
        guard isTerminalInLog else { return nil }
        return ending.withLock { $0 }
    }

    /// Waits until `isDone(status)` holds or the deadline passes; returns the last status seen.
    public func wait(milliseconds: Int64, until isDone: (RunStatus) -> Bool) -> RunStatus {
        let deadline = Deadline(milliseconds: milliseconds)
        while true {
            let observed = changes.value
            let current = status
            if isDone(current) || milliseconds == 0 || deadline.hasPassed { return current }
            changes.wait(expected: observed, deadline: deadline)
        }
    }

    /// Emits a non-terminal event of a running run.
    @discardableResult
    public func emit(_ draft: EventDraft) throws(RillflowError) -> UInt64 {
        guard !KindSet.engineOnly.contains(draft.kind) else { throw Self.engineOnly(draft.kind) }
        // The raw status, not `status`: an ended run is refused either way, without waiting
        // for its terminal event to be written.
        let current = state.load(ordering: .acquiring)
        guard current == RunStatus.running.rawValue || current == RunStatus.suspended.rawValue else {
            throw Self.notRunning(status)
        }
        return try write(draft)
    }

    /// Emits non-terminal events of a running run, in order (see `RunLog.emit(batch:)`):
    /// `written` counts those appended, so a call that fails partway tells how far it got.
    public func emit(batch drafts: UnsafeBufferPointer<EventDraft>, seqs: UnsafeMutablePointer<UInt64>?,
                     written: inout Int) throws(RillflowError) {
        var kinds: UInt32 = 0
        for draft in drafts { kinds |= draft.kind.bit }
        if kinds & KindSet.engineOnly.mask != 0, let draft = drafts.first(where: { KindSet.engineOnly.contains($0.kind) }) {
            throw Self.engineOnly(draft.kind)
        }
        let current = state.load(ordering: .acquiring)
        guard current == RunStatus.running.rawValue || current == RunStatus.suspended.rawValue else {
            throw Self.notRunning(status)
        }
        guard let lineageOrder else {
            try log.emit(batch: drafts, seqs: seqs, written: &written)
            return
        }
        // A child run's events are copied to its ancestors' logs one by one, in lineage order.
        for (index, draft) in drafts.enumerated() {
            let seq = try writeInLineageOrder(draft, lineageOrder)
            seqs?[index] = seq
            written += 1
        }
    }

    // Built out of line: every rf_run_emit takes the path above.
    @inline(never)
    private static func engineOnly(_ kind: EventKind) -> RillflowError {
        RillflowError(.invalidArgument, "\(kind.name) events are emitted by the engine, not by rf_run_emit")
    }

    @inline(never)
    private static func notRunning(_ current: RunStatus) -> RillflowError {
        RillflowError(.invalidState, current == .pending ? "the run has not started: call rf_run_start first" : "the run has ended (\(current)): no event may follow its terminal event")
    }

    /// Ends the run with its terminal event. A pending run may only be cancelled. `detail` is
    /// what `outcome` will report: the result of a completed run, why it did not complete
    /// otherwise; nil reports the event's data. The event is copied into the ancestors' logs
    /// after the status has changed.
    public func end(_ kind: EventKind, data: UnsafeRawBufferPointer, detail: [UInt8]? = nil) throws(RillflowError) {
        guard let final = RunStatus(terminal: kind) else {
            throw RillflowError(.invalidArgument, "\(kind.name) is not a terminal event kind")
        }
        let endAndCopy = { () throws(RillflowError) in
            let timestamp = try self.ending.withLock { ending throws(RillflowError) -> Int64 in
                try self.end(kind, final: final, data: data, detail: detail, recording: &ending)
            }
            self.changes.wakeAll()
            // Outside `ending`: an ancestor's log may be full, and waiting for its reader must
            // not hold up whoever asks this run's status.
            self.copyToAncestors(EventDraft(kind: kind, data: data), stampedAt: timestamp)
        }
        if let lineageOrder { try lineageOrder.withLock { _ throws(RillflowError) in try endAndCopy() } } else { try endAndCopy() }
    }

    /// Returns the terminal event's timestamp.
    private func end(_ kind: EventKind, final: RunStatus, data: UnsafeRawBufferPointer, detail: [UInt8]?,
                     recording ending: inout RunEnding?) throws(RillflowError) -> Int64 {
        var current = state.load(ordering: .acquiring)
        while true {
            let status = RunStatus(rawValue: current)!
            guard !status.isFinished else { throw RillflowError(.invalidState, "the run has already ended (\(status))") }
            guard status != .pending || kind == .runCancelled else {
                throw RillflowError(.invalidState, "the run has not started: a pending run can only be cancelled")
            }
            ending = RunEnding(status: final, detail: detail ?? Array(data))
            statusBeforeEnd.store(current, ordering: .relaxed)  // (enders are serialized by `ending`)
            let (exchanged, actual) = state.compareExchange(expected: current, desired: final.rawValue, ordering: .acquiringAndReleasing)
            if exchanged { break }
            ending = nil
            current = actual
        }
        do {
            let (_, timestamp) = try log.emitStamped(EventDraft(kind: kind, data: data), at: nil)
            terminalWritten.store(true, ordering: .releasing)
            return timestamp
        } catch {
            // No state change without its event: the run is as it was, and the caller may retry.
            state.store(current, ordering: .releasing)
            ending = nil
            throw error
        }
    }

    /// Cancels the run unless it has already ended (used when its handle is released).
    public func cancelIfUnfinished(reason: StaticString) {
        try? endByEngine(.runCancelled, detail: Array("\(reason)".utf8)) { $0.field("reason", string: "\(reason)") }
    }

    /// Ends the run with a terminal event the engine writes, its strings cut to fit the room
    /// every log keeps for the terminal event (and max_event_bytes), so that it never fails for
    /// want of room or size; `detail`, what `outcome` reports, stays whole.
    public func endByEngine(_ kind: EventKind, detail: [UInt8], _ fields: (inout JSONText.ObjectWriter) -> Void) throws(RillflowError) {
        let json = JSONText.fitted(limit: min(log.maxDataBytes, RunLog.terminalDataReserve)) { $0.object(fields) }
        try json.withBytes { data throws(RillflowError) in try end(kind, data: data, detail: detail) }
    }
}

/// How a run ended: its final status and its result (completed) or what went wrong.
/// Immutable, so the bytes of `detail` stay where they are while it lives.
public final class RunEnding: Sendable {
    public let status: RunStatus
    /// `detail` followed by a NUL byte, for C callers.
    public let nulTerminated: [UInt8]
    public var detail: ArraySlice<UInt8> { nulTerminated.dropLast() }

    init(status: RunStatus, detail: [UInt8]) {
        self.status = status
        nulTerminated = detail + [0]
    }
}
