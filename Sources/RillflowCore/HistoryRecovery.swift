/// What reopening a run's durable history found: who the run was, how it ended, and what
/// was intact.
struct RecoveredRun {
    let identity: RunIdentity
    let info: HistoryInfo
    /// The run's terminal event, if its history has one.
    let terminal: (kind: EventKind, data: [UInt8])?
    /// The most data bytes any of its events has (the engine that wrote it may have allowed
    /// more than the one reading it).
    let largestData: Int

    /// Reads every segment of `runId` once, checking each record: intact records are counted,
    /// damaged ones counted and skipped, missing seqs passed over (records then falls short of
    /// the seq range), and a torn tail (a write cut short by a crash) ends the history at the
    /// last intact record. Throws `notFound` when the run has no history.
    init(store: HistoryStore, runId: UInt64) throws(RillflowError) {
        let reader = try Self.openReader(store: store, runId: runId)
        var info = HistoryInfo()
        var terminal: (kind: EventKind, data: [UInt8])?
        var largestData = 0
        while true {
            do throws(RillflowError) {
                guard let record = try reader.next(first: true) else { break }
                let view = EventView(record: record, source: .unknown)
                if info.records == 0 { info.firstSeq = view.seq }
                info.records += 1
                info.lastSeq = view.seq
                largestData = max(largestData, view.dataLength)
                if record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self) == 0, view.kind.isTerminal {
                    terminal = (view.kind, Array(UnsafeRawBufferPointer(start: view.data, count: view.dataLength)))
                }
                reader.releaseViews()
            } catch {
                // Damage and gaps are reported once by the reader (damage is counted), and the
                // records after them are read on.
                guard error.code == .corrupt || error.code == .sequenceUnavailable else { throw error }
            }
        }
        info.syncedSeq = info.lastSeq
        info.bytes = reader.bytesRead
        info.segments = reader.segmentsRead
        info.corruptRecords = reader.corruptRecords
        info.tornBytes = reader.tornBytes
        self.info = info
        self.terminal = terminal
        self.largestData = largestData
        identity = reader.sources[0] ?? RunIdentity(runId: runId, workflowName: "")
    }

    /// A reader from the run's first segment. Retention may delete that segment between the
    /// listing and the open: then the listing is taken again (a run with no segment left has
    /// no history: `notFound`).
    private static func openReader(store: HistoryStore, runId: UInt64) throws(RillflowError) -> HistoryReader {
        var attempts = 0
        while true {
            do throws(RillflowError) {
                return try HistoryReader(store: store, runId: runId, startSeq: 0, live: false)
            } catch {
                attempts += 1
                guard error.code == .sequenceUnavailable, attempts < 8 else {
                    throw error.code == .sequenceUnavailable ? RillflowError(.notFound, error.message) : error
                }
            }
        }
    }
}
