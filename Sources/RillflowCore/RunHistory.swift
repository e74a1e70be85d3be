#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A block of records moved out of a run's log before the log reused their space.
///
/// Records are appended under the history's mutex and never change afterwards, so a reader
/// that took a snapshot of `used` under the mutex reads the bytes below it without a lock.
/// Readers hold the chunk (ARC) while they look at its records, so dropping it from the
/// history never frees memory under them.
final class HistoryChunk: @unchecked Sendable {
    // @unchecked: mutable fields change only under RunHistory's mutex; bytes below a
    // published `used` are immutable.
    let buffer: UnsafeMutableRawPointer
    let capacity: Int
    var used = 0
    var firstSeq: UInt64 = 0
    /// One past the last record's seq.
    var endSeq: UInt64 = 0

    /// Chunks are mapped, not malloc'd: a dropped chunk's memory goes back to the system at
    /// once, so the history's memory stays within its limit.
    init?(capacity: Int) {
        self.capacity = capacity
        guard let mapped = AnonymousMemory.map(capacity) else { return nil }
        buffer = mapped
    }

    deinit { AnonymousMemory.unmap(buffer, capacity) }

    /// The offset of the first record whose seq is at least `seq`, within the first `used` bytes.
    func offset(ofSeq seq: UInt64, used: Int) -> Int {
        var offset = 0
        while offset < used {
            let record = buffer + offset
            if record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self) >= seq { break }
            offset += Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
        }
        return offset
    }
}

/// The events a run retains beyond its in-memory log, oldest first, bounded in bytes.
///
/// The log's producers append to it when they need to reuse log space (a block at a time, so
/// the cost is amortized over many emits), and readers about to wait append what they have
/// read, so the producers seldom have to; subscriptions that start at an early seq read it.
final class RunHistory: @unchecked Sendable {
    struct State {
        var chunks: [HistoryChunk] = []
        var totalBytes = 0
        /// One past the seq of the last archived record: the seq at the log's archive position.
        var endSeq: UInt64 = 1
        /// The oldest seq still retained (== endSeq when nothing is).
        var oldestSeq: UInt64 = 1
        /// Log position up to which records have been archived.
        var archivePosition = 0
        /// The last chunk dropped, kept for reuse once no reader holds it.
        var spare: HistoryChunk?
        /// Chunks this history has created (reuse keeps it small; a test checks that).
        var chunksCreated = 0
        /// Lowest seq each non-lossy history reader still needs; chunks it needs are kept.
        var pins: [UInt64: UInt64] = [:]
    }

    let state = Lock(State())
    let limitBytes: UInt64
    let chunkSize: Int

    init(limitBytes: UInt64, chunkSize: Int) {
        self.limitBytes = limitBytes
        self.chunkSize = chunkSize
    }

    /// Appends `length` bytes of whole records, seqs `firstSeq ..< endSeq`, that fit in the
    /// current chunk or a new one (`roomNeeded` is what `nextChunk` must at least hold);
    /// the caller holds the state lock.
    static func append(_ records: UnsafeRawPointer, length: Int, firstSeq: UInt64, endSeq: UInt64,
                       to state: inout State, chunkSize: Int) {
        if state.chunks.last.map({ $0.capacity - $0.used < length }) ?? true {
            guard let chunk = reusableChunk(&state, capacity: max(chunkSize, length)) else {
                // Out of memory: these records are not retained. Live readers are unaffected;
                // a replay from their seqs gets a clear "no longer retained" error.
                state.totalBytes = 0
                state.chunks.removeAll()
                state.endSeq = endSeq
                state.oldestSeq = endSeq
                return
            }
            chunk.firstSeq = firstSeq
            chunk.endSeq = firstSeq
            state.chunks.append(chunk)
        }
        let chunk = state.chunks[state.chunks.count - 1]
        (chunk.buffer + chunk.used).copyMemory(from: records, byteCount: length)
        chunk.used += length
        chunk.endSeq = endSeq
        state.totalBytes += length
        state.endSeq = endSeq
    }

    /// Room left in the chunk records are appended to (0 when a new one is needed).
    static func roomInCurrentChunk(_ state: State) -> Int {
        state.chunks.last.map { $0.capacity - $0.used } ?? 0
    }

    /// A dropped chunk nobody reads any more, or a new one: steady streaming allocates nothing.
    private static func reusableChunk(_ state: inout State, capacity: Int) -> HistoryChunk? {
        // Moved out of the state first, so the check sees the only reference.
        if var spare = state.spare.take(), spare.capacity >= capacity, isKnownUniquelyReferenced(&spare) {
            spare.used = 0
            return spare
        }
        state.chunksCreated += 1
        return HistoryChunk(capacity: capacity)
    }

    /// Drops the oldest chunks beyond the byte limit, except those a pinned reader needs.
    static func trim(_ state: inout State, limitBytes: UInt64) {
        let lowestPin = state.pins.values.min() ?? UInt64.max
        var dropped = 0
        while dropped < state.chunks.count - 1, UInt64(state.totalBytes) > limitBytes,
              state.chunks[dropped].endSeq <= lowestPin {
            state.totalBytes -= state.chunks[dropped].used
            dropped += 1
        }
        if dropped > 0 {
            state.spare = state.chunks[dropped - 1]
            state.chunks.removeFirst(dropped)
        }
        // A single chunk over the limit on its own is dropped too when nobody needs it, and
        // kept for reuse like the others: a history smaller than a chunk drops its chunk at
        // every archiving pass, and mapping a new one each time cost page faults and an unmap.
        if state.chunks.count == 1, UInt64(state.totalBytes) > limitBytes, state.chunks[0].endSeq <= lowestPin,
           limitBytes < UInt64(state.chunks[0].used) {
            state.totalBytes = 0
            state.spare = state.chunks.removeLast()
        }
        state.oldestSeq = state.chunks.first?.firstSeq ?? state.endSeq
    }

    /// The chunk holding `seq`, or the first later one; nil when `seq` is not archived yet.
    static func chunk(containing seq: UInt64, in state: State) -> HistoryChunk? {
        var low = 0, high = state.chunks.count
        while low < high {
            let mid = (low + high) / 2
            if state.chunks[mid].endSeq <= seq { low = mid + 1 } else { high = mid }
        }
        return low < state.chunks.count ? state.chunks[low] : nil
    }
}
