#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// A cursor over one run's events: its own filter, start position, loss policy and wake-up fd.
///
/// Reads are zero-copy for non-lossy subscriptions: views point into the log (kept from being
/// overwritten by this subscription's published position) or into a history chunk (kept alive
/// by `heldChunk`) until the next read. Lossy subscriptions copy records out while marked busy,
/// so producers can move them forward between reads without touching memory they read.
///
/// One thread reads at a time (a second concurrent reader gets `invalidState`); `close` may
/// come from any thread and wakes a blocked reader.
public final class Subscription: EventWaiter, @unchecked Sendable {
    // @unchecked: reader-side state is touched only by the thread inside read (enforced by the
    // `reading` bit); shared state is atomic or behind the log's and history's locks.

    let log: RunLog
    let wakeKinds: KindSet
    private let topics: [[UInt8]]?
    public let lossy: Bool
    private let endAtSuspension: Bool

    private static let readingBit: UInt32 = 1
    private static let closedBit: UInt32 = 2
    private let flags = Atomic<UInt32>(0)
    private let futex = Futex()
    private let eventFD = Atomic<Int32>(-1)

    private enum Source { case disk, history, ring }
    private var source: Source
    private var cursor: LogCursor?
    private var position: Int
    private var expectedSeq: UInt64
    /// Events below this seq are not delivered (the start seq, or where a replay from disk
    /// handed over to a log that still held earlier events).
    private var skipBelowSeq: UInt64
    /// Reads the durable history while the subscription is behind what memory holds.
    private var disk: HistoryReader?
    private var ended: Bool
    private var heldChunk: HistoryChunk?
    private var chunkOffset = 0
    private var chunkUsed = 0
    private var copyBuffer: UnsafeMutableRawPointer
    private var copyCapacity: Int
    /// Names this subscription's pin on the history chunks it still needs (non-lossy only).
    private let pinKey: UInt64
    private static let nextPinKey = Atomic<UInt64>(1)
    private var pendingOffset = 0
    private var pendingUsed = 0
    private let skippedTotal = Atomic<UInt64>(0)

    /// Events a lossy subscription has skipped so far (the sum of its lagged events' counts).
    public var skippedEvents: UInt64 { skippedTotal.load(ordering: .relaxed) }

    public init(log: RunLog, options: SubscriptionOptions) throws(RillflowError) {
        // Where to start is the only step that can fail, so it comes before anything is
        // allocated: a throwing initializer does not run deinit.
        let pinKey = Self.nextPinKey.add(1, ordering: .relaxed).oldValue
        let (start, cursor, position, expectedSeq, ended) = try Self.startPosition(in: log, options: options, pinKey: pinKey)
        if start == .disk, let durable = log.durable {
            do throws(RillflowError) {
                disk = try HistoryReader(store: durable.store, runId: durable.runId, startSeq: options.startSeq, live: !durable.frozen)
            } catch {
                throw error.code == .notFound ? RillflowError(.sequenceUnavailable, "seq \(options.startSeq) is neither in memory nor in the durable history (\(error.message))") : error
            }
        }
        self.ended = ended
        self.pinKey = pinKey
        self.log = log
        // A stream that ends at a suspension always shows the input-required event it ends on.
        let kinds = options.mode.kinds(custom: options.customKinds)
        wakeKinds = options.endAtSuspension ? KindSet(mask: kinds.mask | KindSet([.inputRequired]).mask) : kinds
        topics = options.mode == .custom ? options.topics : nil
        lossy = options.lossy
        endAtSuspension = options.endAtSuspension
        skipBelowSeq = options.startSeq
        self.cursor = cursor
        self.position = position
        self.expectedSeq = expectedSeq
        source = start
        copyCapacity = lossy ? 64 << 10 : 0
        copyBuffer = .allocate(byteCount: max(copyCapacity, 8), alignment: 8)
    }

    /// Where to start for `options`: the source, the log cursor (ring only), log position and
    /// first seq, and whether the stream has already ended. (A live-tail subscription created
    /// after the terminal event has an ended stream at once; every other one ends when it reads
    /// the terminal event, or a reopened run's last recorded one.)
    private static func startPosition(in log: RunLog, options: SubscriptionOptions, pinKey: UInt64) throws(RillflowError)
        -> (Source, LogCursor?, Int, UInt64, Bool) {
        let floor = options.endAtSuspension ? options.startSeq : .max
        if options.startSeq == 0 {
            let (cursor, seq, ended) = log.registerAtTail(lossy: options.lossy, suspensionFloor: floor)
            return (.ring, cursor, Int(cursor.position.load(ordering: .relaxed)), seq, ended)
        }
        return try log.history.state.withLock { state throws(RillflowError) -> (Source, LogCursor?, Int, UInt64, Bool) in
            if let durable = log.durable, durable.frozen {
                // Everything a reopened run has is on disk; past its end there is nothing.
                return options.startSeq >= state.endSeq ? (.ring, nil, 0, options.startSeq, true) : (.disk, nil, 0, options.startSeq, false)
            }
            if options.startSeq >= state.endSeq {
                // Past the terminal event, which may already be archived (then the log holds
                // nothing more to read): the stream has ended.
                let ended = log.closedNextSeq.map { options.startSeq >= $0 } ?? false
                return (.ring, log.registerAtArchive(state, lossy: options.lossy, suspensionFloor: floor), state.archivePosition, state.endSeq, ended)
            }
            if options.startSeq < state.oldestSeq,
               let (cursor, firstSeq) = log.registerAtGate(forSeq: options.startSeq, state, lossy: options.lossy, suspensionFloor: floor) {
                return (.ring, cursor, Int(cursor.position.load(ordering: .relaxed)), firstSeq, false)
            }
            if options.startSeq < state.oldestSeq {
                guard log.durable != nil else {
                    throw RillflowError(.sequenceUnavailable, "seq \(options.startSeq) is no longer retained; the oldest retained seq is \(state.oldestSeq) (raise history_bytes to keep more, or set history_dir)")
                }
                return (.disk, nil, 0, options.startSeq, false)
            }
            // Pinned under the same lock that found the seq, so no trim can drop it first.
            if !options.lossy { state.pins[pinKey] = options.startSeq }
            return (.history, nil, 0, options.startSeq, false)
        }
    }

    deinit {
        copyBuffer.deallocate()
        let fd = eventFD.load(ordering: .relaxed)
        if fd >= 0 { Glibc.close(fd) }
    }

    /// The largest data payload an event read here can have (its engine's max_event_bytes).
    public var maxDataBytes: Int { log.maxDataBytes }

    // MARK: - Reading

    /// Delivers up to `limit` events to `deliver` (which returns false to stop after that
    /// event), waiting up to `timeoutMilliseconds` (0: not at all, negative: no limit) for the
    /// first. Returns how many were delivered, at least 1; the views stay valid until the next
    /// read or close. Throws `.endOfStream` after the terminal event, `.wouldBlock`, `.timeout`,
    /// `.closed`, or `.invalidState` when another thread is reading.
    @inline(__always)
    public func read(limit: Int, timeoutMilliseconds: Int64, _ deliver: (EventView) -> Bool) throws(RillflowError) -> Int {
        try read(limit: limit, timeoutMilliseconds: timeoutMilliseconds, deliver, then: { _ in })
    }

    /// `read`, storing the views instead of handing each to a closure: view `i` goes to
    /// `destination + i * stride` bytes (unaligned is fine), then `finish` gets their count.
    /// `finish` runs while this call still holds the subscription for reading, so the views
    /// stay valid through it: no other read and no close can come in between. Nothing is
    /// stored unless the call returns. For the C API's batch read, which makes its caller's
    /// events from the views in `finish`: a call per event cost more than the event's own
    /// bookkeeping, and a store lets the whole loop compile as one.
    public func read(into destination: UnsafeMutableRawPointer, stride: Int, limit: Int, timeoutMilliseconds: Int64,
                     then finish: (Int) -> Void) throws(RillflowError) -> Int {
        precondition(stride >= MemoryLayout<EventView>.size, "a view does not fit in a slot of \(stride) bytes")
        var next = destination
        return try read(limit: limit, timeoutMilliseconds: timeoutMilliseconds, { view in
            next.storeBytes(of: view, as: EventView.self)
            next += stride
            return true
        }, then: finish)
    }

    /// `read`, calling `finish` with the count before the read ends (see `read(into:)`).
    @inline(__always)
    private func read(limit: Int, timeoutMilliseconds: Int64, _ deliver: (EventView) -> Bool,
                      then finish: (Int) -> Void) throws(RillflowError) -> Int {
        try enterRead()
        defer { exitRead() }
        releaseViews()
        var deadline: Deadline?
        while true {
            if flags.load(ordering: .acquiring) & Self.closedBit != 0 { throw closedError }
            let count = try collect(limit: limit, deliver)
            if count > 0 {
                finish(count)
                return count
            }
            publishPosition()
            if ended {
                refreshReadiness()
                throw RillflowError(.endOfStream, "the run's stream has ended: its terminal event was read")
            }
            if timeoutMilliseconds == 0 {
                refreshReadiness()
                throw RillflowError(.wouldBlock, "no event is ready")
            }
            if deadline == nil { deadline = Deadline(milliseconds: timeoutMilliseconds) }
            if deadline!.hasPassed {
                refreshReadiness()  // the wait disarmed the fd: a caller may go back to polling it
                throw RillflowError(.timeout, "no event arrived within \(timeoutMilliseconds) ms")
            }
            waitForData(until: deadline!)
        }
    }

    private var closedError: RillflowError { RillflowError(.closed, "the subscription was released") }

    private func enterRead() throws(RillflowError) {
        var current = flags.load(ordering: .relaxed)
        while true {
            if current & Self.closedBit != 0 { throw closedError }
            if current & Self.readingBit != 0 {
                throw RillflowError(.invalidState, "another thread is reading this subscription; reads on one subscription must not overlap")
            }
            let (exchanged, actual) = flags.compareExchange(expected: current, desired: current | Self.readingBit, ordering: .acquiring)
            if exchanged { return }
            current = actual
        }
    }

    private func exitRead() {
        let old = flags.bitwiseAnd(~Self.readingBit, ordering: .acquiringAndReleasing).oldValue
        if old & Self.closedBit != 0 { detach() }
    }

    /// The previous batch's views may now be invalidated.
    private func releaseViews() {
        if source == .ring && !lossy { publishPosition() }
        disk?.releaseViews()
    }

    private func publishPosition() {
        guard !lossy, let cursor else { return }
        if cursor.position.load(ordering: .relaxed) != UInt64(position) {
            cursor.position.store(UInt64(position), ordering: .releasing)
            log.readerAdvanced()
        }
    }

    @inline(__always)
    private func collect(limit: Int, _ deliver: (EventView) -> Bool) throws(RillflowError) -> Int {
        switch source {
        case .disk: try collectFromDisk(limit: limit, deliver)
        case .history: try collectFromHistory(limit: limit, deliver)
        case .ring: lossy ? collectLossy(limit: limit, deliver) : collectFromLog(limit: limit, deliver)
        }
    }

    /// Whether a view of `record` should be delivered; updates the seq bookkeeping.
    @inline(__always)
    private func accept(_ record: UnsafeRawPointer) -> Bool {
        let seq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
        let kind = record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self)
        // Never lowered: after a switch from disk, older records in the log are passed over.
        expectedSeq = max(expectedSeq, seq + 1)
        let ownEvent = record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self) == 0
        if ownEvent && (KindSet.terminal.contains(rawKind: kind)
                        || (endAtSuspension && kind == EventKind.inputRequired.rawValue && seq >= skipBelowSeq)) {
            ended = true
        }
        guard seq >= skipBelowSeq, wakeKinds.contains(rawKind: kind) else { return false }
        guard let topics, kind == EventKind.custom.rawValue else { return true }
        let view = EventView(record: record, source: log.identity)
        return topics.contains { $0.elementsEqual(view.topicBytes) }
    }

    @inline(__always)
    private func collectFromLog(limit: Int, _ deliver: (EventView) -> Bool) -> Int {
        var delivered = 0
        while delivered < limit, !ended {
            guard let (record, next) = log.committedRecord(at: position) else { break }
            position = next
            if record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self) == EventRecord.paddingKind { continue }
            if accept(record) {
                delivered += 1
                if !deliver(view(record)) { break }
            }
        }
        return delivered
    }

    @inline(__always)
    private func view(_ record: UnsafeRawPointer) -> EventView {
        let index = record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self)
        // A reopened run's log knows no sub-workflows: their identities come from the disk.
        if source == .disk, let disk { return EventView(record: record, source: disk.identity(index, fallback: log.identity)) }
        return EventView(record: record, source: log.source(at: index))
    }

    /// Lossy: copy matching records out under the busy bit, then deliver the copies. Copies a
    /// stopped delivery left over are delivered by the next read before anything new is copied.
    private func collectLossy(limit: Int, _ deliver: (EventView) -> Bool) -> Int {
        if pendingOffset >= pendingUsed {
            pendingOffset = 0
            pendingUsed = copyOut(limit: limit)
        }
        var delivered = 0
        while pendingOffset < pendingUsed, delivered < limit {
            let record = UnsafeRawPointer(copyBuffer + pendingOffset)
            pendingOffset += Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
            delivered += 1
            if !deliver(view(record)) { break }
        }
        return delivered
    }

    /// Copies up to `limit` deliverable records (a `lagged` record first where producers moved
    /// this subscription forward) into the copy buffer; returns the bytes used.
    private func copyOut(limit: Int) -> Int {
        guard let cursor else { return 0 }
        var current = cursor.position.load(ordering: .acquiring)
        while true {
            let (exchanged, actual) = cursor.position.compareExchange(
                expected: current, desired: current | LogCursor.busyBit, ordering: .acquiring)
            if exchanged { break }
            current = actual
        }
        defer {
            cursor.position.store(UInt64(position), ordering: .releasing)
            log.readerAdvanced()  // a producer may have parked while we were busy
        }
        position = Int(current)  // a producer may have moved us forward: the seq gap shows it
        var used = 0, copied = 0
        while copied < limit, !ended {
            guard let (record, next) = log.committedRecord(at: position) else { break }
            if record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self) == EventRecord.paddingKind {
                position = next
                continue
            }
            let recordLength = Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
            let seq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
            let missedFrom = firstWantedSeq
            let skipped = seq > missedFrom ? seq - missedFrom : 0
            let needed = recordLength + (skipped > 0 ? Self.laggedRecordSize : 0)
            if used + needed > copyCapacity {
                if used > 0 { break }
                growCopyBuffer(to: needed)
            }
            if skipped > 0 {
                // Moved past the INPUT_REQUIRED its stream ends at: the loss counts up to it,
                // and the stream ends there.
                let suspension = cursor.skippedSuspension.load(ordering: .acquiring)
                let endsInGap = endAtSuspension && suspension != 0 && suspension >= missedFrom && suspension < seq
                writeLaggedRecord(at: copyBuffer + used, skipped: endsInGap ? suspension - missedFrom + 1 : skipped, firstSeq: missedFrom)
                used += Self.laggedRecordSize
                copied += 1
                if endsInGap {
                    expectedSeq = suspension + 1
                    ended = true
                    break
                }
                expectedSeq = seq
            }
            position = next
            if accept(record) {
                (copyBuffer + used).copyMemory(from: record, byteCount: recordLength)
                used += recordLength
                copied += 1
            }
        }
        return used
    }

    /// Room for the largest lagged record: three 20-digit numbers in its JSON.
    private static let laggedRecordSize = EventRecord.size(
        stepLength: 0, topicLength: 0, dataLength: "{\"skipped\":,\"first_seq\":,\"last_seq\":}".utf8.count + 3 * 20)

    /// The first seq this subscription still wants: a gap before it (events older than its
    /// start seq, or already read from disk) is no loss and is not reported as one.
    private var firstWantedSeq: UInt64 { max(expectedSeq, skipBelowSeq) }

    /// For a new cursor: from which seq an INPUT_REQUIRED ends this stream (none: .max).
    private var suspensionFloor: UInt64 { endAtSuspension ? firstWantedSeq : .max }

    private func writeLaggedRecord(at record: UnsafeMutableRawPointer, skipped: UInt64, firstSeq: UInt64) {
        skippedTotal.add(skipped, ordering: .relaxed)
        var json = "{\"skipped\":\(skipped),\"first_seq\":\(firstSeq),\"last_seq\":\(firstSeq + skipped - 1)}"
        json.withUTF8 { data in
            let draft = EventDraft(kind: .lagged, data: UnsafeRawBufferPointer(data))
            draft.write(to: record, size: draft.recordSize, seq: 0, timestamp: WallClock.nowNanoseconds())
        }
        record.storeBytes(of: UInt32(Self.laggedRecordSize), toByteOffset: EventRecord.lengthOffset, as: UInt32.self)
    }

    private func growCopyBuffer(to size: Int) {
        copyBuffer.deallocate()
        copyCapacity = size
        copyBuffer = .allocate(byteCount: size, alignment: 8)
    }

    /// Replay from the durable history, until memory holds what comes next (then the rest is
    /// read there) or, for a reopened run, until its last record.
    private func collectFromDisk(limit: Int, _ deliver: (EventView) -> Bool) throws(RillflowError) -> Int {
        guard let disk else { return 0 }
        let frozen = log.durable?.frozen ?? true
        var delivered = 0
        var emptyReads = 0
        while delivered < limit, !ended {
            if delivered == 0, !frozen, switchFromDisk() { return try collect(limit: limit, deliver) }
            guard let record = try disk.next(first: delivered == 0) else {
                if delivered > 0 { break }
                if frozen {
                    ended = true  // a reopened run without a terminal event ends with its last record
                    break
                }
                // Everything memory no longer holds was written before it left, so a second
                // look finds it; a third miss means the history lost it.
                emptyReads += 1
                if emptyReads < 3 { continue }
                let failures = log.durable?.writeFailures.load(ordering: .relaxed) ?? 0
                throw RillflowError(.sequenceUnavailable, "seq \(expectedSeq) is neither in memory nor in the durable history (its writer failed \(failures) times)")
            }
            emptyReads = 0
            if accept(record) {
                delivered += 1
                if !deliver(view(record)) { break }
            }
        }
        return delivered
    }

    /// Hands over from the disk to memory when memory holds `expectedSeq`: the history, or the
    /// log itself (then events before `expectedSeq` there are skipped, as for a start seq). Under the history lock,
    /// like every start, so the splice has no gap and no duplicate.
    private func switchFromDisk() -> Bool {
        let lossy = self.lossy
        let switched = log.history.state.withLock { state -> Bool in
            if expectedSeq >= state.endSeq {
                // The log goes on from the archive position, which may be before expectedSeq.
                cursor = log.registerAtArchive(state, lossy: lossy, suspensionFloor: suspensionFloor)
                position = state.archivePosition
                skipBelowSeq = max(skipBelowSeq, expectedSeq)
                source = .ring
                return true
            }
            if expectedSeq >= state.oldestSeq {
                if !lossy { state.pins[pinKey] = expectedSeq }
                heldChunk = nil
                source = .history
                return true
            }
            guard let (registered, _) = log.registerAtGate(forSeq: expectedSeq, state, lossy: lossy, suspensionFloor: suspensionFloor) else { return false }
            cursor = registered
            position = Int(registered.position.load(ordering: .relaxed))
            skipBelowSeq = max(skipBelowSeq, expectedSeq)
            source = .ring
            return true
        }
        if switched { disk = nil }
        return switched
    }

    /// Replay from the history; one chunk per batch so a batch's views share one held chunk.
    private func collectFromHistory(limit: Int, _ deliver: (EventView) -> Bool) throws(RillflowError) -> Int {
        var delivered = 0
        while delivered < limit, !ended {
            if heldChunk == nil || chunkOffset >= chunkUsed {
                if delivered > 0 { break }
                if try !advanceChunk() {  // caught up: now in the log
                    return lossy ? collectLossy(limit: limit, deliver) : collectFromLog(limit: limit, deliver)
                }
                continue
            }
            let record = UnsafeRawPointer(heldChunk!.buffer + chunkOffset)
            let seq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
            if seq > firstWantedSeq {
                // Events dropped before this reader got to them: a lossy reader hears of it
                // from a lagged event (from the copy buffer, alone in its batch so no other view
                // shares that memory); a pinned one only when memory ran out (an error).
                if delivered > 0 { break }
                let missedFrom = firstWantedSeq
                expectedSeq = seq
                guard lossy else { throw Self.lostToMemory(from: missedFrom, to: seq) }
                writeLaggedRecord(at: copyBuffer, skipped: seq - missedFrom, firstSeq: missedFrom)
                _ = deliver(view(UnsafeRawPointer(copyBuffer)))
                return 1
            }
            chunkOffset += Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
            if seq < expectedSeq { continue }
            if accept(record) {
                delivered += 1
                if !deliver(view(record)) { break }
            }
        }
        return delivered
    }

    /// Moves to the chunk holding `expectedSeq`, or into the log when the history is exhausted
    /// (returns false then). The switch happens under the history lock, where the archive
    /// position cannot move, so the splice has no gap and no duplicate.
    private func advanceChunk() throws(RillflowError) -> Bool {
        let lossy = self.lossy
        return try log.history.state.withLock { state throws(RillflowError) -> Bool in
            // Only a lossy reader can find its next events dropped (pins protect the others,
            // unless memory ran out); the first record it reads after them shows the gap.
            guard expectedSeq < state.endSeq, let chunk = RunHistory.chunk(containing: expectedSeq, in: state) else {
                state.pins[pinKey] = nil
                cursor = log.registerAtArchive(state, lossy: lossy, suspensionFloor: suspensionFloor)
                position = state.archivePosition
                heldChunk = nil
                source = .ring
                let missedFrom = firstWantedSeq
                guard !lossy, missedFrom < state.endSeq else { return false }
                expectedSeq = state.endSeq
                throw Self.lostToMemory(from: missedFrom, to: state.endSeq)
            }
            heldChunk = chunk
            chunkUsed = chunk.used
            chunkOffset = chunk.offset(ofSeq: expectedSeq, used: chunkUsed)
            if !lossy { state.pins[pinKey] = expectedSeq }
            return true
        }
    }

    /// Seqs `from ..< to` left the retained history before this (non-lossy) reader got to
    /// them: only an allocation failure drops what a reader still needs. Reading goes on after them.
    @inline(never)
    private static func lostToMemory(from: UInt64, to: UInt64) -> RillflowError {
        RillflowError(.noMemory, "events \(from) to \(to - 1) were dropped from the run's retained history when memory ran out; reading goes on with event \(to)")
    }

    // MARK: - Waiting

    private var hasPendingData: Bool {
        switch source {
        case .disk, .history: return true
        case .ring:
            if ended || pendingOffset < pendingUsed { return true }
            // A lossy reader moved forward has news (the skip), and its old position may be
            // overwritten already: it is looked at only while the cursor still holds it.
            if lossy, let cursor, Int(cursor.position.load(ordering: .acquiring) & ~LogCursor.busyBit) != position { return true }
            return log.committedRecord(at: position) != nil
        }
    }

    /// How long a reader that found nothing keeps looking before it sleeps, while events arrive
    /// faster than this. A producer in a burst commits its next event well within it, and a
    /// reader still awake takes it with no syscall on either side (asleep, each wake costs the
    /// producer a futex call and the reader a trip through the scheduler).
    static let spinNanoseconds: Int64 = 20_000
    /// Whether the next wait spins first (reading thread only). A spin that finds nothing turns
    /// it off: on a quiet stream spinning only burns CPU, and on the machines measured, a
    /// reader that spun before sleeping wakes slower. A sleep that ends within
    /// `spinNanoseconds` (events come quickly again) turns it back on.
    private var spinsBeforeSleeping = true

    /// Whether data (or the close) arrived within `spinNanoseconds`.
    private func spinForData() -> Bool {
        SpinWait.until(limitNanoseconds: Self.spinNanoseconds) {
            hasPendingData || flags.load(ordering: .acquiring) & Self.closedBit != 0
        }
    }

    private func waitForData(until deadline: Deadline) {
        if source == .ring { log.archiveWhileIdle(readerPosition: position) }
        if spinsBeforeSleeping {
            if spinForData() { return }
            spinsBeforeSleeping = false
        }
        let sleptAt = WallClock.monotonicNanoseconds()
        let observed = futex.value
        log.readers.arm(self)
        if !hasPendingData && flags.load(ordering: .acquiring) & Self.closedBit == 0 {
            futex.wait(expected: observed, deadline: deadline)
        }
        log.readers.disarm(self)
        if WallClock.monotonicNanoseconds() - sleptAt < Self.spinNanoseconds { spinsBeforeSleeping = true }
    }

    /// Makes the fd readable exactly when a read would not block (called when a read found
    /// nothing: the fd is drained, then re-armed, then the log re-checked).
    private func refreshReadiness() {
        let fd = eventFD.load(ordering: .acquiring)
        guard fd >= 0 else { return }
        var counter: UInt64 = 0
        _ = Glibc.read(fd, &counter, 8)
        log.readers.arm(self)
        if ended || hasPendingData || flags.load(ordering: .acquiring) & Self.closedBit != 0 {
            log.readers.disarm(self)
            signalFD()
        }
    }

    func signal() {
        futex.wakeAll()
        signalFD()
    }

    private func signalFD() {
        let fd = eventFD.load(ordering: .acquiring)
        guard fd >= 0 else { return }
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// A file descriptor that is readable while a read would not block; for epoll, poll,
    /// libuv or asyncio. Created on first use; closed when the subscription is freed.
    public func fileDescriptor() throws(RillflowError) -> Int32 {
        let existing = eventFD.load(ordering: .acquiring)
        if existing >= 0 { return existing }
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw RillflowError(.system, "eventfd failed: errno \(rf_sys_errno())") }
        let (exchanged, actual) = eventFD.compareExchange(expected: -1, desired: fd, ordering: .acquiringAndReleasing)
        if !exchanged {
            Glibc.close(fd)
            return actual
        }
        // Start readable: the first read tells whether events are there, and re-arms if not.
        signalFD()
        return fd
    }

    // MARK: - Closing

    /// Ends the subscription: a blocked read returns `.closed`, later reads too. Any thread.
    public func close() {
        let old = flags.bitwiseOr(Self.closedBit, ordering: .acquiringAndReleasing).oldValue
        guard old & Self.closedBit == 0 else { return }
        signal()
        log.readers.disarm(self)
        if old & Self.readingBit == 0 { detach() }
    }

    /// Stops gating the log's producers. Runs once, on the closing thread or the reader's.
    private func detach() {
        if let cursor { log.unregister(cursor) }
        log.history.state.withLock { $0.pins[pinKey] = nil }
    }
}
