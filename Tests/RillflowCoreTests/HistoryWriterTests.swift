#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import RillflowCore

/// How the history writer turns batches of log records into segment files: spans of records
/// copied at once, and writeback started as a segment grows.
@Suite struct HistoryWriterTests {
    typealias DrivenHistory = HistoryDamageTests.DrivenHistory

    /// The data of event `index`: a length and bytes that differ from one event to the next.
    static func data(_ index: Int) -> [UInt8] {
        (0..<(index * 37) % 700).map { UInt8(truncatingIfNeeded: $0 &+ index) }
    }

    /// The source of event `index`: mostly the run itself, sometimes one of two sub-runs; the
    /// second first appears in the middle of a batch.
    static func source(_ index: Int, _ children: [UInt32]) -> UInt32 {
        index % 7 == 3 ? children[0] : index >= 1000 && index % 11 == 5 ? children[1] : 0
    }

    /// Batches in which the records' run of contiguous memory breaks where the log wraps, where
    /// a source appears that the segment has not declared, where a segment is full and where
    /// the writer's buffer is: every record is read back intact, in order, with its own data
    /// and the identity of the run that emitted it.
    @Test func everyRecordOfEveryBatchIsWrittenIntact() throws {
        let history = try DrivenHistory(segmentBytes: 1 << 20)  // segments larger than the buffer
        let children = [history.log.registerSource(RunIdentity(runId: 70, parentRunId: DrivenHistory.runId, workflowName: "first")),
                        history.log.registerSource(RunIdentity(runId: 71, parentRunId: DrivenHistory.runId, workflowName: "second"))]
        let count = 12000  // about 5 MB of records: the 1 MiB log wraps four times
        var emitted = 0
        var batchSize = 1
        while emitted < count {
            let batch = min(batchSize, count - emitted)
            for index in emitted..<emitted + batch {
                let kind: EventKind = index == count - 1 ? .runCompleted : .custom
                try Self.data(index).withUnsafeBytes { bytes in
                    _ = try history.log.emit(EventDraft(kind: kind, data: bytes, tokenIndex: UInt64(index), source: Self.source(index, children)))
                }
            }
            var views: [EventView] = []
            _ = try history.subscription.read(limit: batch, timeoutMilliseconds: 0) { view in
                views.append(view)
                return true
            }
            #expect(views.count == batch)
            #expect(history.writer.deliver(views, from: history.log) == nil)
            emitted += batch
            // 1, 138, 275, ... 1097, 34, ...: batches of many sizes, the larger ones (over 600
            // records of about 410 bytes) more than the writer's 256 KiB buffer holds.
            batchSize = batchSize % 1200 + 137
        }
        history.writer.runEnded(runId: DrivenHistory.runId)
        #expect(history.segmentPaths.count >= 4)

        let reader = try HistoryReader(store: history.store, runId: DrivenHistory.runId, startSeq: 1, live: false)
        var index = 0
        var mismatches: [String] = []
        while mismatches.count < 5, let record = try reader.next(first: true) {
            let view = EventView(record: record, source: reader.identity(record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self),
                                                                           fallback: history.log.identity))
            let expectedSource = Self.source(index, children)
            let expectedRun: UInt64 = expectedSource == 0 ? DrivenHistory.runId : expectedSource == children[0] ? 70 : 71
            let data = Array(UnsafeRawBufferPointer(start: view.data, count: view.dataLength))
            if view.seq != UInt64(index + 1) || view.tokenIndex != UInt64(index) || data != Self.data(index) || view.source.runId != expectedRun {
                mismatches.append("event \(index): seq \(view.seq), token \(view.tokenIndex), \(data.count) data bytes, run \(view.source.runId)")
            }
            reader.releaseViews()
            index += 1
        }
        #expect(mismatches.isEmpty)
        #expect(index == count)
        let recovered = try RecoveredRun(store: history.store, runId: DrivenHistory.runId)
        #expect(recovered.info.records == UInt64(count) && recovered.info.corruptRecords == 0 && recovered.terminal?.kind == .runCompleted)
    }

    /// Under the run-end policy a growing segment has its writeback started a block at a time,
    /// each block once, from the segment's start; the other policies leave that to the kernel
    /// (never) or sync every batch themselves (batch).
    @Test(arguments: [FsyncPolicy.runEnd, .never, .batch])
    func writebackStartsABlockAtATimeUnderTheRunEndPolicy(_ fsync: FsyncPolicy) throws {
        let history = try DrivenHistory(fsync: fsync, segmentBytes: 3 << 20)
        var ranges: [(path: String, offset: Int, length: Int)] = []
        history.writer.writebackObserver = { ranges.append(($0, $1, $2)) }
        try history.emitAndWrite(7000, ending: true)  // about 7 MB: three segments, the last partly filled
        let segments = history.segmentPaths
        #expect(segments.count == 3)
        guard fsync == .runEnd else {
            #expect(ranges.isEmpty)
            return
        }
        for path in segments {
            let mine = ranges.filter { $0.path == path }
            let started = mine.reduce(0) { $0 + $1.length }
            var status = stat()
            #expect(stat(path, &status) == 0)
            // From the start, each byte once, at least a block at a time (at most a block and a
            // batch: a batch of 40 records is about 42 KB); and what is left is less than a block.
            let contiguous = zip(mine, mine.dropFirst()).allSatisfy { $0.offset + $0.length == $1.offset }
            #expect((mine.first?.offset ?? 0) == 0 && contiguous, "\(path)")
            #expect(mine.allSatisfy { $0.length >= HistoryWriter.writebackBlock && $0.length < HistoryWriter.writebackBlock + 64 << 10 })
            #expect(Int(status.st_size) - started >= 0 && Int(status.st_size) - started < HistoryWriter.writebackBlock, "\(path)")
        }
        #expect(ranges.count >= 4)  // two per full 3 MiB segment at least
        let recovered = try RecoveredRun(store: history.store, runId: DrivenHistory.runId)
        #expect(recovered.info.records == 7000 && recovered.info.corruptRecords == 0)
    }
}
