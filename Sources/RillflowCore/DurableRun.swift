import Synchronization

/// What a run's durable history holds, for `rf_run_get_history_info`.
public struct HistoryInfo: Sendable, Equatable {
    /// The oldest and newest event seqs on disk (0 when there are none).
    public var firstSeq: UInt64 = 0
    public var lastSeq: UInt64 = 0
    /// The newest seq the fsync policy has made durable (0: none yet).
    public var syncedSeq: UInt64 = 0
    /// Event records: written so far (a live run) or found intact (a reopened one).
    public var records: UInt64 = 0
    public var bytes: UInt64 = 0
    public var segments: UInt64 = 0
    /// Damaged records found when the run was reopened; each was skipped.
    public var corruptRecords: UInt64 = 0
    /// Bytes cut from torn tails (writes a crash interrupted) when the run was reopened.
    public var tornBytes: UInt64 = 0
    /// Batches the writer failed to write (each was retried).
    public var writeFailures: UInt64 = 0
    public var lastError = ""
}

/// A run's link to its durable history: where it is, and how far the writer has got.
///
/// A live run's writer (on the sink thread) updates the counters; a run reopened from disk
/// is *frozen*: nothing more will be written, and its stream ends with its last record.
public final class DurableRun: Sendable {
    public let store: HistoryStore
    public let runId: UInt64
    public let frozen: Bool
    let writtenSeq = Atomic<UInt64>(0)
    let syncedSeq = Atomic<UInt64>(0)
    let records = Atomic<UInt64>(0)
    let bytes = Atomic<UInt64>(0)
    let segments = Atomic<UInt64>(0)
    let writeFailures = Atomic<UInt64>(0)
    let lastError = Lock("")
    /// A sync failed: the kernel may have dropped what it held, so no later sync may claim
    /// the seqs before it (synced_seq stays where it was for good).
    let syncLost = Atomic<Bool>(false)
    /// What reopening found (frozen runs only).
    let recovered: HistoryInfo?

    init(store: HistoryStore, runId: UInt64) {
        self.store = store
        self.runId = runId
        frozen = false
        recovered = nil
    }

    init(store: HistoryStore, runId: UInt64, recovered: HistoryInfo) {
        self.store = store
        self.runId = runId
        frozen = true
        self.recovered = recovered
    }

    /// Counts a failure (a write, a sync, or recording the run's id) and keeps its message.
    func noteFailure(_ message: String) {
        writeFailures.add(1, ordering: .relaxed)
        lastError.withLock { $0 = message }
    }

    public var info: HistoryInfo {
        if let recovered { return recovered }
        var info = HistoryInfo()
        info.lastSeq = writtenSeq.load(ordering: .acquiring)
        info.syncedSeq = syncedSeq.load(ordering: .acquiring)
        info.records = records.load(ordering: .relaxed)
        info.bytes = bytes.load(ordering: .relaxed)
        info.segments = segments.load(ordering: .relaxed)
        info.writeFailures = writeFailures.load(ordering: .relaxed)
        info.lastError = lastError.withLock { $0 }
        // Retention may have deleted the oldest segments: the first seq is the first file's.
        if info.lastSeq > 0, let first = store.segments(ofRun: runId)?.first { info.firstSeq = first.firstSeq }
        return info
    }
}
