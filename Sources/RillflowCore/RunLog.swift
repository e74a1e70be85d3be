#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// One run's event log: a bounded, lock-free, many-producer byte ring.
///
/// Producers claim space and a seq together with one 16-byte CAS on `tail` (position, seq), so
/// log order and seq order are the same; they write the record, then commit it by a release
/// store of its stamp (position + 1). Readers follow records in position order and stop at the
/// first uncommitted one. No lock and no allocation on this path.
///
/// A record never wraps: one that does not fit before the end of the buffer is placed at the
/// start, behind a padding record (or, when less than `EventRecord.minimumSize` is left, behind
/// implicit padding that readers skip by the same rule).
///
/// Space is reused only past the *gate*: the lowest position any non-lossy reader may still
/// look at, and the archive position up to which records were copied into the history.
/// `gateCache` holds a recent gate so producers check a single load; when a claim would pass
/// it, the producer recomputes it, archiving records (unless a reader about to wait has done
/// so already) and moving lossy readers forward as needed, and waits for non-lossy readers
/// (spin, yield, then sleep).
public final class RunLog: @unchecked Sendable {
    // @unchecked: the buffer is shared by design; ownership of each byte range passes between
    // threads through the tail CAS, the stamps, the cursors and the gate, all atomics.

    public let capacity: Int
    public let maxDataBytes: Int
    private let mask: Int
    private let buffer: UnsafeMutableRawPointer
    private let emitTimeoutMilliseconds: Int64
    private let clock = EventClock()
    /// Whether emits fetch the lines ahead of the tail for writing (see `prepareLinesAhead`).
    private let prefetchesForWrite = RunLog.processorPrefetchesForWrite
    private static let processorPrefetchesForWrite = rf_sys_can_prefetch_for_write() != 0

    private static let closedBit: UInt = 1 << (UInt.bitWidth - 1)
    /// Room kept for the terminal event: one with up to `terminalDataReserve` bytes of data and
    /// the longest names, plus the padding it may need at the end of the buffer.
    public static let terminalDataReserve = 1024
    static let terminalReserve = 2 * EventRecord.size(
        stepLength: EventRecord.maximumNameLength, topicLength: EventRecord.maximumNameLength, dataLength: terminalDataReserve)
    /// first: next free position; second: next seq, with `closedBit` once the terminal is claimed.
    /// Every emit writes it, and readers read this object's other fields on every record, so
    /// it lives on cache lines of its own (128 bytes: the adjacent-line prefetcher pairs lines).
    private let tail: UnsafeMutablePointer<Atomic<WordPair>>
    /// The value the last successful claim left in `tail`, as two plain words on the same line.
    /// A 16-byte atomic load is itself a locked cmpxchg16b; a producer starts from the hint
    /// instead, and a stale hint only costs one failed CAS, which returns the true value.
    private let tailHint: UnsafeMutablePointer<Atomic<UInt>>
    private let gateCache = Atomic<Int>(0)
    /// The history's archive position as last set, for readers to check without its lock.
    private let archivedPosition = Atomic<Int>(0)
    private let cursors = Lock<[LogCursor]>([])
    let history: RunHistory
    let readers = WaitList()
    private let producersWaiting = Atomic<Int>(0)
    private let spaceFutex = Futex()
    public let identity: RunIdentity
    /// Runs started by this run's steps (and theirs), whose events this log also holds.
    private let descendants = Lock<[RunIdentity]>([])
    /// The run's durable history, where subscriptions find events older than the history keeps.
    public let durable: DurableRun?

    public init(identity: RunIdentity, configuration: EngineConfiguration, durable: DurableRun? = nil) {
        self.identity = identity
        self.durable = durable
        capacity = configuration.logCapacity
        mask = capacity - 1
        maxDataBytes = configuration.maxEventBytes
        emitTimeoutMilliseconds = configuration.emitTimeoutMilliseconds.map { Int64($0) } ?? -1
        // Zeroed memory holds no valid stamp (stamps are position + 1 >= 1). Pages are touched
        // only as the log fills, so a short run costs little of its capacity.
        guard let mapped = AnonymousMemory.map(capacity) else {
            fatalError("cannot map a run log of \(capacity) bytes: errno \(errno)")
        }
        buffer = mapped
        tail = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
            .bindMemory(to: Atomic<WordPair>.self, capacity: 1)
        tail.initialize(to: Atomic(WordPair(first: 0, second: 1)))
        tailHint = (UnsafeMutableRawPointer(tail) + 16).bindMemory(to: Atomic<UInt>.self, capacity: 2)
        tailHint.initialize(to: Atomic(0))
        (tailHint + 1).initialize(to: Atomic(1))
        history = RunHistory(limitBytes: configuration.historyBytes, chunkSize: max(capacity / 4, 64 << 10))
    }

    deinit {
        AnonymousMemory.unmap(buffer, capacity)
        tail.deinitialize(count: 1)
        UnsafeMutableRawPointer(tail).deallocate()
    }

    // MARK: - Producing

    /// Appends one event and returns its seq. Terminal kinds close the log: later emits fail.
    ///
    /// Inlined into `Run`'s emits: the common case (room in the log, no wrap, not the terminal)
    /// is one pass of straight-line code, and everything else goes to `claimSlowly`.
    @discardableResult @inline(__always)
    public func emit(_ draft: EventDraft) throws(RillflowError) -> UInt64 {
        try emitStamped(draft, at: nil).seq
    }

    /// `emit`, returning the event's timestamp too. `given` stamps it instead of the clock: a
    /// child run's event copied into its ancestors' logs keeps the time it entered the child's.
    @inline(__always)
    func emitStamped(_ draft: EventDraft, at given: Int64?) throws(RillflowError) -> (seq: UInt64, timestamp: Int64) {
        let stepLength = draft.stepCount, topicLength = draft.topicCount, dataLength = draft.dataCount
        guard dataLength <= maxDataBytes, stepLength <= EventRecord.maximumNameLength, topicLength <= EventRecord.maximumNameLength else {
            throw Self.refused(draft, limit: maxDataBytes)
        }
        let size = EventRecord.size(stepLength: stepLength, topicLength: topicLength, dataLength: dataLength)
        // Only the run's own terminal event ends its log; a child run's is just another event.
        let closes = draft.kind.isTerminal && draft.source == 0
        let position = Int(bitPattern: tailHint[0].load(ordering: .relaxed))
        let seq = tailHint[1].load(ordering: .relaxed)
        prepareLinesAhead(of: position, size: size)
        let recordPosition: Int
        let claimedSeq: UInt
        // Other events leave `terminalReserve` bytes free, so a run can always end at once,
        // even while a subscriber is not reading.
        if !closes, seq & Self.closedBit == 0, (position & mask) &+ size <= capacity,
           position &+ size &+ Self.terminalReserve &- gateCache.load(ordering: .acquiring) <= capacity,
           tail.pointee.compareExchange(
               expected: WordPair(first: UInt(bitPattern: position), second: seq),
               desired: WordPair(first: UInt(bitPattern: position &+ size), second: seq &+ 1),
               ordering: .acquiringAndReleasing).exchanged {
            tailHint[0].store(UInt(bitPattern: position &+ size), ordering: .relaxed)
            tailHint[1].store(seq &+ 1, ordering: .relaxed)
            recordPosition = position
            claimedSeq = seq
        } else {
            (recordPosition, claimedSeq) = try claimSlowly(size: size, closes: closes)
        }
        // Read after the claim: a locked instruction waits for every instruction before it, and
        // the clock read is slow; here it overlaps the record's writing. It also makes the time
        // that of the event's entry into the log, after any wait for room.
        let timestamp = given ?? clock.nowNanoseconds()
        let record = buffer + (recordPosition & mask)
        draft.write(to: record, size: size, seq: UInt64(claimedSeq), timestamp: timestamp)
        stamp(record).pointee.store(UInt64(truncatingIfNeeded: recordPosition &+ 1), ordering: .releasing)
        if closes {
            // Unconditionally: a producer about to wait for room may not have counted itself
            // in `producersWaiting` yet; it checks for the close after reading the futex word.
            readers.wakeAll()
            spaceFutex.wakeAll()
        } else {
            readers.notify(kind: draft.kind)
            if producersWaiting.load(ordering: .relaxed) > 0 { spaceFutex.wakeAll() }
        }
        return (UInt64(claimedSeq), timestamp)
    }

    /// Appends `drafts` in order, storing each one's seq in `seqs` (if given) and counting the
    /// appended ones in `written`, which tells the caller how far a failed call got. Nothing
    /// is appended if a draft is refused. The records go in pieces: each piece (as many
    /// records as fit before the end of the buffer, at most `batchPieceBytes`) is claimed with
    /// one CAS, so its events have consecutive seqs and share one timestamp, and its commits
    /// are announced to waiting readers once. Another producer's events may come between pieces.
    public func emit(batch drafts: UnsafeBufferPointer<EventDraft>, seqs: UnsafeMutablePointer<UInt64>?,
                     written: inout Int) throws(RillflowError) {
        for draft in drafts {
            guard draft.dataCount <= maxDataBytes, draft.stepCount <= EventRecord.maximumNameLength,
                  draft.topicCount <= EventRecord.maximumNameLength else {
                throw Self.refused(draft, limit: maxDataBytes)
            }
            // Only a single emit may end the log: its terminal claim is the slow path's.
            guard !(draft.kind.isTerminal && draft.source == 0) else {
                throw RillflowError(.invalidArgument, "a terminal event cannot be emitted in a batch")
            }
        }
        var first = 0
        while first < drafts.count {
            let (start, firstSeq, count) = try claimPiece(drafts, from: first)
            let timestamp = clock.nowNanoseconds()
            var position = start
            var kinds = KindSet(mask: 0)
            for offset in 0..<count {
                let draft = drafts[first + offset]
                let size = draft.recordSize
                let seq = UInt64(firstSeq) + UInt64(offset)
                let record = buffer + (position & mask)
                prepareLinesAhead(of: position, size: size)
                draft.write(to: record, size: size, seq: seq, timestamp: timestamp)
                stamp(record).pointee.store(UInt64(truncatingIfNeeded: position &+ 1), ordering: .releasing)
                seqs?[first + offset] = seq
                kinds.mask |= draft.kind.bit
                position += size
            }
            first += count
            written += count
            readers.notify(kinds: kinds)
            if producersWaiting.load(ordering: .relaxed) > 0 { spaceFutex.wakeAll() }
        }
    }

    /// How far past the end of its record an emit fetches lines for writing: a few records of
    /// the usual size, so the fetch is done by the time the producer gets there.
    static let prefetchDistance = 256

    /// Fetches, for writing, the lines of the `size` bytes that start `prefetchDistance` bytes
    /// past the end of a record at `position` of `size` bytes: consecutive emits of like-sized
    /// records thus cover every line, each some records early (of records over 512 bytes, only
    /// the first 512 bytes' lines). A reader that read a line on the previous lap still holds a
    /// copy, and taking the line back from it costs a round trip between cores: without this
    /// the producer's stores wait for that in the store buffer, and so do its next locked
    /// instruction and fence.
    @inline(__always)
    private func prepareLinesAhead(of position: Int, size: Int) {
        guard prefetchesForWrite else { return }
        let start = position &+ size &+ Self.prefetchDistance
        let end = start &+ min(size, 512)
        var line = start & ~63
        repeat {
            rf_sys_prefetch_for_write(buffer + (line & mask))
            line &+= 64
        } while line < end
    }

    /// The most bytes one piece of a batch claims: a quarter of the log, so a piece never
    /// waits for more room than a reader frees by reading part of the log.
    var batchPieceBytes: Int { capacity / 4 }

    /// Claims the next piece of a batch: the records from `first` on that fit, contiguously,
    /// before the end of the buffer and within `batchPieceBytes` (at least one record).
    /// Returns the piece's position, its first seq and its number of records.
    private func claimPiece(_ drafts: UnsafeBufferPointer<EventDraft>, from first: Int) throws(RillflowError)
        -> (position: Int, seq: UInt, count: Int) {
        var deadline: Deadline?
        // Start from the hint: a stale one costs one failed CAS, which returns the true value.
        var current = WordPair(first: tailHint[0].load(ordering: .relaxed), second: tailHint[1].load(ordering: .relaxed))
        while true {
            guard current.second & Self.closedBit == 0 else { throw Self.ended() }
            let position = Int(bitPattern: current.first)
            let room = capacity - (position & mask)
            let firstSize = drafts[first].recordSize
            // The next record must go to the start of the buffer, behind padding: the single
            // emit's claim does that, for this record alone.
            if firstSize > room {
                let (recordPosition, seq) = try claimSlowly(size: firstSize, closes: false)
                return (recordPosition, seq, 1)
            }
            let limit = min(room, batchPieceBytes)
            var end = position + firstSize
            var count = 1
            while first + count < drafts.count {
                let size = drafts[first + count].recordSize
                guard end - position + size <= limit else { break }
                end += size
                count += 1
            }
            let needed = end + Self.terminalReserve
            if needed - gateCache.load(ordering: .acquiring) > capacity {
                deadline = try makeRoom(upTo: needed, deadline: deadline)
                current = tail.pointee.load(ordering: .relaxed)
                continue
            }
            let next = WordPair(first: UInt(bitPattern: end), second: current.second + UInt(count))
            if let actual = claim(from: current, to: next) {
                current = actual
                continue
            }
            return (position, current.second, count)
        }
    }

    /// Claims `size` bytes and a seq, returning the record's position, where the fast path
    /// could not: the hint was stale, the record must go to the start of the buffer (behind
    /// padding), the event is the terminal one, or the log is full and producers must make
    /// room or wait.
    @inline(never)
    private func claimSlowly(size: Int, closes: Bool) throws(RillflowError) -> (position: Int, seq: UInt) {
        var deadline: Deadline?
        var current = tail.pointee.load(ordering: .relaxed)
        while true {
            guard current.second & Self.closedBit == 0 else { throw Self.ended() }
            let position = Int(bitPattern: current.first)
            let room = capacity - (position & mask)
            let recordPosition = room < size ? position + room : position
            let end = recordPosition + size
            let needed = closes ? end : end + Self.terminalReserve
            if needed - gateCache.load(ordering: .acquiring) > capacity {
                deadline = try makeRoom(upTo: needed, deadline: deadline)
                current = tail.pointee.load(ordering: .relaxed)
                continue
            }
            let seq = current.second
            let next = WordPair(first: UInt(bitPattern: end), second: (seq + 1) | (closes ? Self.closedBit : 0))
            if let actual = claim(from: current, to: next) {
                current = actual
                continue
            }
            if recordPosition != position && room >= EventRecord.minimumSize {
                let padding = buffer + (position & mask)
                padding.storeBytes(of: UInt32(room), toByteOffset: EventRecord.lengthOffset, as: UInt32.self)
                padding.storeBytes(of: EventRecord.paddingKind, toByteOffset: EventRecord.kindOffset, as: UInt16.self)
                stamp(padding).pointee.store(UInt64(position + 1), ordering: .releasing)
            }
            return (recordPosition, seq)
        }
    }

    /// Moves the tail from `current` to `next` and updates the hint; on failure returns the
    /// tail's actual value, to try again from. (The single emit's fast path inlines its own.)
    @inline(__always)
    private func claim(from current: WordPair, to next: WordPair) -> WordPair? {
        let (claimed, actual) = tail.pointee.compareExchange(expected: current, desired: next, ordering: .acquiringAndReleasing)
        guard claimed else { return actual }
        tailHint[0].store(next.first, ordering: .relaxed)
        tailHint[1].store(next.second, ordering: .relaxed)
        return nil
    }

    // The emit path's errors are built out of line: inlined, their string building would
    // crowd the registers of the path every event takes.
    @inline(never)
    private static func refused(_ draft: EventDraft, limit: Int) -> RillflowError {
        guard draft.dataCount <= limit else {
            return RillflowError(.tooLarge, "the event's data is \(draft.dataCount) bytes; the limit (max_event_bytes) is \(limit)")
        }
        return RillflowError(.invalidArgument, "step names and topics are at most \(EventRecord.maximumNameLength) bytes")
    }

    @inline(never)
    private static func ended() -> RillflowError {
        RillflowError(.invalidState, "the run has ended: no event may follow its terminal event")
    }

    /// Makes an empty log look like that of a run whose events `1 ..< nextSeq` were all
    /// emitted and archived long ago (a run reopened from its durable history): closed, with
    /// nothing in memory.
    func freeze(nextSeq: UInt64) {
        tail.pointee.store(WordPair(first: 0, second: UInt(nextSeq) | Self.closedBit), ordering: .releasing)
        tailHint[1].store(UInt(nextSeq) | Self.closedBit, ordering: .relaxed)
        history.state.withLock { state in
            state.endSeq = nextSeq
            state.oldestSeq = nextSeq
        }
    }

    /// The seq the next event will get.
    public var nextSeq: UInt64 { UInt64(tail.pointee.load(ordering: .acquiring).second & ~Self.closedBit) }

    /// The seq after the terminal event once it is claimed; nil while the run goes on.
    var closedNextSeq: UInt64? {
        let seq = tail.pointee.load(ordering: .acquiring).second
        return seq & Self.closedBit == 0 ? nil : UInt64(seq & ~Self.closedBit)
    }

    var tailPosition: Int { Int(bitPattern: tail.pointee.load(ordering: .acquiring).first) }

    @inline(__always)
    private func stamp(_ record: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt64>> {
        record.assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// Makes every position below `end - capacity` free to overwrite, or throws on timeout.
    /// Takes and returns the emit's deadline, set at its first wait (by value: an inout would
    /// give the emit path a stack address to protect).
    @inline(never)
    private func makeRoom(upTo end: Int, deadline: Deadline?) throws(RillflowError) -> Deadline? {
        var deadline = deadline
        let required = end - capacity
        var attempts = 0
        while true {
            // The run ended while this emit waited: nothing may follow its terminal event (and a
            // child run's end, which waits for this emit's copy, must not wait for a reader).
            if tail.pointee.load(ordering: .relaxed).second & Self.closedBit != 0 { throw Self.ended() }
            let gate = refreshGate(required: required)
            if gate >= required { return deadline }
            // A non-lossy reader, or a record another producer has not committed yet, is in the way.
            if deadline == nil { deadline = Deadline(milliseconds: emitTimeoutMilliseconds) }
            if deadline!.hasPassed {
                throw RillflowError(.timeout, "the run's log is full and a subscriber has not read for \(emitTimeoutMilliseconds) ms (emit_timeout_ms)")
            }
            attempts += 1
            // A reader asleep because nothing passed its filter is in the way too: it must wake
            // to skip what it filters out, or a filtered subscription would hold producers forever.
            if attempts == 1 { readers.wakeAll() }
            if attempts < 64 { continue }
            if attempts < 128 { sched_yield(); continue }
            readers.wakeAll()
            producersWaiting.add(1, ordering: .sequentiallyConsistent)
            let observed = spaceFutex.value
            // The close is checked after reading the futex word: an end that comes later
            // changes the word, so the wait returns at once (see the end of `emit`).
            if tail.pointee.load(ordering: .relaxed).second & Self.closedBit == 0, refreshGate(required: required) < required {
                spaceFutex.wait(expected: observed, deadline: deadline!)
            }
            producersWaiting.subtract(1, ordering: .relaxed)
        }
    }

    /// Called by readers after they move forward, so waiting producers re-check the gate.
    func readerAdvanced() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if producersWaiting.load(ordering: .relaxed) > 0 { spaceFutex.wakeAll() }
    }

    /// Recomputes the gate: archives records below `required`, moves lossy readers that are
    /// behind `required` forward, and returns the lowest position still needed. The new gate is
    /// published while the cursor lock is held, so a reader registering under that lock at the
    /// published gate can never be overwritten.
    private func refreshGate(required: Int) -> Int {
        var gate = archive(upTo: required)
        return cursors.withLock { list in
            for cursor in list {
                var position = cursor.position.load(ordering: .acquiring)
                if cursor.lossy {
                    while position & LogCursor.busyBit == 0, Int(position) < required {
                        let (end, suspension) = skipCommitted(from: Int(position), upTo: required, suspensionFloor: cursor.suspensionFloor)
                        let moved = UInt64(end)
                        // Stopped at a record another producer has not committed: wait outside
                        // the lock (makeRoom tries again), not here, holding it.
                        if moved == position { break }
                        // Only producers write it, under the cursor lock. Recorded even if the
                        // move below fails: the reader then reads that event itself and ends.
                        if let suspension, cursor.skippedSuspension.load(ordering: .relaxed) == 0 {
                            cursor.skippedSuspension.store(suspension, ordering: .releasing)
                        }
                        let (exchanged, actual) = cursor.position.compareExchange(
                            expected: position, desired: moved, ordering: .acquiringAndReleasing)
                        position = exchanged ? moved : actual
                    }
                }
                gate = min(gate, Int(position & ~LogCursor.busyBit))
            }
            if gate > gateCache.load(ordering: .relaxed) { gateCache.store(gate, ordering: .releasing) }
            return gate
        }
    }

    /// The position after the committed records from `position`, stopping at the first one
    /// that ends at or beyond `limit` or is not committed yet; and the seq of the first of this
    /// run's INPUT_REQUIRED events among them at or after `suspensionFloor`, if any.
    private func skipCommitted(from start: Int, upTo limit: Int, suspensionFloor: UInt64) -> (Int, UInt64?) {
        var position = start
        var suspension: UInt64?
        while position < limit, let (record, next) = committedRecord(at: position) {
            position = next
            if suspensionFloor != .max, suspension == nil,
               record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self) == EventKind.inputRequired.rawValue,
               record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self) == 0 {
                let seq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
                if seq >= suspensionFloor { suspension = seq }
            }
        }
        return (position, suspension)
    }

    /// Copies records below `required` (and a block beyond, to amortize) into the history.
    /// Returns the archive position.
    private func archive(upTo required: Int) -> Int {
        history.state.withLock { state in
            guard state.archivePosition < required else { return state.archivePosition }
            archive(&state, upTo: min(max(required, state.archivePosition + capacity / 4), tailPosition))
            return state.archivePosition
        }
    }

    /// Bytes an idle reader archives at a time: a few microseconds of copying, so an event that
    /// arrives meanwhile waits no longer than that.
    static let idleArchiveBlock = 64 << 10

    /// Called by a reader that found nothing to read, with its position: if a block or more of
    /// the records it has passed are not archived yet, copies one block into the history. The
    /// producer, which otherwise archives when it needs their space, then finds them done; a
    /// waiting reader's time is free, the producer's is not. Skips the block when another
    /// thread holds the history.
    func archiveWhileIdle(readerPosition: Int) {
        guard readerPosition - archivedPosition.load(ordering: .relaxed) >= Self.idleArchiveBlock else { return }
        history.state.withLockIfAvailable { state in
            archive(&state, upTo: min(readerPosition, state.archivePosition + Self.idleArchiveBlock))
        }
    }

    /// Copies the committed records from the archive position up to `target` into the history,
    /// a contiguous span of records per copy; the caller holds the history lock.
    private func archive(_ state: inout RunHistory.State, upTo target: Int) {
        var position = state.archivePosition
        var copier = SpanCopier(chunkSize: history.chunkSize)
        while position < target, let (record, next) = committedRecord(at: position) {
            position = next
            if record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self) == EventRecord.paddingKind {
                copier.flush(into: &state)
            } else {
                copier.add(record, into: &state)
            }
        }
        copier.flush(into: &state)
        state.archivePosition = position
        archivedPosition.store(position, ordering: .relaxed)
        RunHistory.trim(&state, limitBytes: history.limitBytes)
    }

    // MARK: - Reading

    /// The committed record at `position` (padding included) and the position after it, or nil
    /// if the record there is not committed yet. Implicit end padding is skipped.
    @inline(__always)
    func committedRecord(at start: Int) -> (UnsafeRawPointer, Int)? {
        var position = start
        if capacity - (position & mask) < EventRecord.minimumSize { position += capacity - (position & mask) }
        let record = buffer + (position & mask)
        guard stamp(record).pointee.load(ordering: .acquiring) == UInt64(position + 1) else { return nil }
        let length = Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
        return (UnsafeRawPointer(record), position + length)
    }

    /// Registers a reader at the live tail. Returns its cursor, the seq it starts at, and
    /// whether the terminal event is already behind it (then its stream has ended).
    func registerAtTail(lossy: Bool, suspensionFloor: UInt64 = .max) -> (LogCursor, UInt64, Bool) {
        cursors.withLock { list in
            let current = tail.pointee.load(ordering: .acquiring)
            let cursor = LogCursor(position: Int(bitPattern: current.first), lossy: lossy, suspensionFloor: suspensionFloor)
            list.append(cursor)
            return (cursor, UInt64(current.second & ~Self.closedBit), current.second & Self.closedBit != 0)
        }
    }

    /// Registers a reader at the archive position: where the history ends and the log goes
    /// on. The caller holds the history lock (so the archive position cannot move) and passes it.
    func registerAtArchive(_ state: RunHistory.State, lossy: Bool, suspensionFloor: UInt64 = .max) -> LogCursor {
        cursors.withLock { list in
            let cursor = LogCursor(position: state.archivePosition, lossy: lossy, suspensionFloor: suspensionFloor)
            list.append(cursor)
            return cursor
        }
    }

    /// Registers a reader at the oldest record still intact in the log, if that record's seq is
    /// at most `seq`: events already copied out (or dropped from a small history) but not yet
    /// overwritten are replayed from the log itself. Returns the cursor and the first seq there,
    /// or nil when the log no longer holds `seq`. The caller holds the history lock.
    func registerAtGate(forSeq seq: UInt64, _ state: RunHistory.State, lossy: Bool,
                        suspensionFloor: UInt64 = .max) -> (LogCursor, UInt64)? {
        cursors.withLock { list in
            // Under the cursor lock the published gate is exact: nothing at or after it is
            // overwritten until a later gate includes this cursor.
            var position = gateCache.load(ordering: .acquiring)
            var firstSeq = state.endSeq
            while position < state.archivePosition, let (record, next) = committedRecord(at: position) {
                if record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self) != EventRecord.paddingKind {
                    firstSeq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
                    break
                }
                position = next
            }
            guard firstSeq <= seq else { return nil }
            let cursor = LogCursor(position: position, lossy: lossy, suspensionFloor: suspensionFloor)
            list.append(cursor)
            return (cursor, firstSeq)
        }
    }

    func unregister(_ cursor: LogCursor) {
        cursors.withLock { list in list.removeAll { $0 === cursor } }
        readerAdvanced()
    }

    /// The identity behind a record's source index: 0 is this run, others are descendant runs
    /// whose events are also written here.
    func source(at index: UInt32) -> RunIdentity {
        index == 0 ? identity : descendants.withLock { $0[Int(index) - 1] }
    }

    /// Makes a descendant run a source of this log; returns the index its events carry here.
    func registerSource(_ descendant: RunIdentity) -> UInt32 {
        descendants.withLock { list in
            list.append(descendant)
            return UInt32(list.count)
        }
    }
}

/// Gathers contiguous records into spans and appends each to the history with one copy, as
/// long as it fits where `RunHistory.append` will put it. Per record it reads only the
/// length; seqs only at a span's two ends.
private struct SpanCopier {
    let chunkSize: Int
    private var start: UnsafeRawPointer?
    private var length = 0
    private var room = 0
    private var last: UnsafeRawPointer?

    init(chunkSize: Int) { self.chunkSize = chunkSize }

    @inline(__always)
    mutating func add(_ record: UnsafeRawPointer, into state: inout RunHistory.State) {
        let recordLength = Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
        if let start, start + length == record, length + recordLength <= room {
            length += recordLength
            last = record
            return
        }
        flush(into: &state)
        let available = RunHistory.roomInCurrentChunk(state)
        room = available >= recordLength ? available : max(chunkSize, recordLength)
        start = record
        length = recordLength
        last = record
    }

    mutating func flush(into state: inout RunHistory.State) {
        guard let start, let last else { return }
        RunHistory.append(start, length: length,
                          firstSeq: start.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self),
                          endSeq: last.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self) + 1,
                          to: &state, chunkSize: chunkSize)
        self.start = nil
    }
}
