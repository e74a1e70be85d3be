#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import RillflowCore

/// The durable history when things go wrong: failed writes, retention under a reader, damage
/// a crash or a person leaves in the files.
@Suite struct HistoryDamageTests {
    /// A run's log written into a history by a writer the test drives, as the sink thread
    /// would: batches read from a subscription, each delivered until it is written.
    final class DrivenHistory {
        let directory = DurableHistoryTests.scratchDirectory()
        let store: HistoryStore
        let writer: HistoryWriter
        let log: RunLog
        let subscription: Subscription
        static let runId: UInt64 = 7
        static let dataBytes = 1000  // records of about 1 KiB: a 64 KiB segment holds ~60
        private(set) var emitted: UInt64 = 0
        private(set) var failures = 0

        init(maxBytes: UInt64 = 0, fsync: FsyncPolicy = .never, segmentBytes: Int = HistoryOptions.minimumSegmentBytes) throws {
            store = try HistoryStore(options: HistoryOptions(directory: directory, fsync: fsync, segmentBytes: segmentBytes, maxBytes: maxBytes))
            writer = HistoryWriter(store: store)
            let configuration = try EngineConfiguration(workerThreads: 1, logCapacity: 1 << 20, maxEventBytes: 4096)
            log = RunLog(identity: RunIdentity(runId: Self.runId, workflowName: "driven"), configuration: configuration,
                         durable: DurableRun(store: store, runId: Self.runId))
            subscription = try Subscription(log: log, options: SubscriptionOptions(mode: .custom, startSeq: 1))
        }

        deinit { DurableHistoryTests.removeTree(directory) }

        /// Emits `count` events (the terminal one last when `ending`), writing them in batches
        /// of `batch` as they come, each batch offered again after a failure, as the dispatcher
        /// does.
        func emitAndWrite(_ count: Int, batch: Int = 40, ending: Bool = false) throws {
            let data = [UInt8](repeating: 0x61, count: Self.dataBytes)
            var index = 0
            while index < count {
                let chunk = min(batch, count - index)
                for _ in 0..<chunk {
                    let kind: EventKind = ending && index == count - 1 ? .runCompleted : .custom
                    try data.withUnsafeBytes { bytes in _ = try log.emit(EventDraft(kind: kind, data: bytes)) }
                    emitted += 1
                    index += 1
                }
                var views: [EventView] = []
                _ = try subscription.read(limit: chunk, timeoutMilliseconds: 0) { view in
                    views.append(view)
                    return true
                }
                #expect(views.count == chunk)
                var attempts = 0
                while writer.deliver(views, from: log) != nil {
                    failures += 1
                    attempts += 1
                    #expect(attempts < 50, "a batch keeps failing")
                    if attempts >= 50 { return }
                }
            }
            if ending { writer.runEnded(runId: Self.runId) }
        }

        var segmentPaths: [String] { store.segments(ofRun: Self.runId)?.map(\.path) ?? [] }
    }

    /// Reads a history from `startSeq` to its end: the seqs read and the error codes met.
    static func readAll(_ reader: HistoryReader) -> (seqs: [UInt64], errors: [RillflowErrorCode]) {
        var seqs: [UInt64] = [], errors: [RillflowErrorCode] = []
        while errors.count < 100 {
            do throws(RillflowError) {
                guard let record = try reader.next(first: true) else { break }
                seqs.append(record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self))
                reader.releaseViews()
            } catch {
                errors.append(error.code)
            }
        }
        return (seqs, errors)
    }

    /// Writes that fail part-way, some in a segment the failing batch itself started: every
    /// event is still found exactly once, in order, from whichever seq a reader starts at.
    @Test func failedWritesLoseNothingForReadersStartingAnywhere() throws {
        let history = try DrivenHistory()
        var writes = 0
        history.writer.writeFault = { _, length in
            writes += 1
            return writes % 3 == 0 ? length / 2 : nil  // every third write stops half-way
        }
        try history.emitAndWrite(1500, ending: true)
        #expect(history.failures > 20)
        let last = history.emitted
        for start in stride(from: UInt64(1), through: last, by: 7) {
            let reader = try HistoryReader(store: history.store, runId: DrivenHistory.runId, startSeq: start, live: false)
            let (seqs, errors) = Self.readAll(reader)
            let dense = seqs.first == start && seqs.last == last && zip(seqs, seqs.dropFirst()).allSatisfy { $1 == $0 + 1 }
            let brokenAfter = zip(seqs, seqs.dropFirst()).first { $1 != $0 + 1 }?.0
            #expect(errors.isEmpty, "from seq \(start)")
            #expect(dense, "from seq \(start): \(seqs.count) read, \(seqs.first ?? 0) to \(seqs.last ?? 0), broken after \(brokenAfter ?? 0)")
            if !dense { break }
        }
        let recovered = try RecoveredRun(store: history.store, runId: DrivenHistory.runId)
        #expect(recovered.info.records == last && recovered.info.corruptRecords == 0 && recovered.terminal?.kind == .runCompleted)
    }

    /// Retention deletes the segment a live reader is reading (it keeps its mapping): the
    /// reader finishes that segment, reports the deleted ones after it once, and reads on.
    @Test func aLiveReaderGoesOnWhenRetentionDeletesItsSegment() throws {
        let history = try DrivenHistory(maxBytes: 3 * UInt64(HistoryOptions.minimumSegmentBytes))
        try history.emitAndWrite(100)
        let firstSegment = try #require(history.segmentPaths.first)
        let reader = try HistoryReader(store: history.store, runId: DrivenHistory.runId, startSeq: 1, live: true)
        let first = try #require(try reader.next(first: true))
        #expect(first.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self) == 1)
        reader.releaseViews()
        try history.emitAndWrite(1000, ending: true)
        #expect(!history.segmentPaths.contains(firstSegment))
        let (seqs, errors) = Self.readAll(reader)
        #expect(errors == [.sequenceUnavailable])
        #expect(seqs.last == history.emitted)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
    }

    /// Retention keeps as much as the limit allows: the segment just closed is counted once.
    @Test func retentionDeletesNoMoreThanTheLimitRequires() throws {
        let limit = 4 * UInt64(HistoryOptions.minimumSegmentBytes)
        let history = try DrivenHistory(maxBytes: limit)
        try history.emitAndWrite(800)  // about 13 segments
        let paths = history.segmentPaths
        let closed = paths.dropLast().map { UInt64(Files.status($0)!.size) }
        let total = closed.reduce(0, +)
        #expect(total <= limit)
        #expect(total + closed.max()! > limit, "closed segments \(closed) leave room for one more under \(limit)")
    }

    // MARK: Damage in files an engine wrote

    /// The offsets of the records in a segment file, after its header.
    static func recordOffsets(_ path: String) -> [Int] {
        let bytes = contents(path)
        var offsets: [Int] = [], offset = HistoryFormat.segmentHeaderSize
        while offset + 12 <= bytes.count {
            offsets.append(offset)
            offset += Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + EventRecord.lengthOffset, as: UInt32.self) })
        }
        return offsets
    }

    static func contents(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Files.status(path)!.size)
        _ = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return bytes
    }

    static func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) {
        let fd = open(path, O_WRONLY)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        close(fd)
    }

    /// A finished run of `events` custom events written by an engine; its id and segment paths.
    static func writtenRun(_ directory: String, events: Int) throws -> (UInt64, [String]) {
        let runId = try DurableHistoryTests.writeRun(in: directory, workflowName: "damaged", events: events, ending: .runCompleted)
        let store = try HistoryStore(options: HistoryOptions(directory: directory, readOnly: true))
        return (runId, (store.segments(ofRun: runId) ?? []).map(\.path))
    }

    static func reopenAndRead(_ directory: String, _ runId: UInt64) throws -> (HistoryInfo, [UInt64], [RillflowErrorCode]) {
        let engine = try DurableHistoryTests.engine(directory)
        defer { engine.close() }
        let run = try engine.openRun(id: runId)
        let (seqs, errors) = readAll(try HistoryReader(store: engine.history!, runId: runId, startSeq: 1, live: false))
        return (run.log.durable!.info, seqs, errors)
    }

    /// A record whose length field was damaged to point past the end of its segment, with
    /// intact records after it, is one damaged record, not a torn tail losing the rest.
    @Test func aLengthRunningPastTheEndBeforeIntactRecordsIsDamage() throws {
        let directory = DurableHistoryTests.scratchDirectory()
        defer { DurableHistoryTests.removeTree(directory) }
        let (runId, paths) = try Self.writtenRun(directory, events: 100)
        let path = try #require(paths.first)
        let damaged = Self.recordOffsets(path)[10]
        let pastTheEnd = UInt32((Files.status(path)!.size + 4096) & ~7)
        Self.overwrite(path, at: damaged + EventRecord.lengthOffset, with: withUnsafeBytes(of: pastTheEnd) { Array($0) })
        let (info, seqs, errors) = try Self.reopenAndRead(directory, runId)
        #expect(info.corruptRecords == 1 && info.tornBytes == 0 && info.records == 101)
        #expect(errors == [.corrupt])
        #expect(seqs.count == 101 && seqs.last == 102)
    }

    /// Zeros at the end of the last segment (space a crash left unwritten) are a torn tail.
    @Test func zerosAtTheEndAreATornTail() throws {
        let directory = DurableHistoryTests.scratchDirectory()
        defer { DurableHistoryTests.removeTree(directory) }
        let (runId, paths) = try Self.writtenRun(directory, events: 100)
        let path = try #require(paths.last)
        Self.overwrite(path, at: Files.status(path)!.size, with: [UInt8](repeating: 0, count: 4096))
        let (info, seqs, errors) = try Self.reopenAndRead(directory, runId)
        #expect(info.corruptRecords == 0 && info.tornBytes == 4096 && info.records == 102)
        #expect(errors.isEmpty && seqs == Array(1...102))
    }

    /// Damage at the end of a segment, and a next segment that starts with events already read
    /// (as one written again after a failed write does): they are passed over, never read
    /// twice, and seqs only go up.
    @Test func seqsNeverGoBackAfterDamage() throws {
        let directory = DurableHistoryTests.scratchDirectory()
        defer { DurableHistoryTests.removeTree(directory) }
        let (runId, paths) = try Self.writtenRun(directory, events: 2000)
        try #require(paths.count >= 2)
        let first = Self.contents(paths[0]), offsets = Self.recordOffsets(paths[0])
        let second = Self.contents(paths[1])
        // The first segment's last record damaged; the second starting with a copy of its
        // records 5 to the one before.
        Self.overwrite(paths[0], at: offsets.last!, with: [0xde, 0xad, 0xbe, 0xef])
        let copied = Array(first[offsets[5]..<offsets.last!])
        let rewritten = Array(second[..<HistoryFormat.segmentHeaderSize]) + copied + Array(second[HistoryFormat.segmentHeaderSize...])
        unlink(paths[1])
        let fd = open(paths[1], O_WRONLY | O_CREAT, 0o644)
        _ = rewritten.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let (info, seqs, errors) = try Self.reopenAndRead(directory, runId)
        #expect(errors == [.corrupt])
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "seqs go back: \(zip(seqs, seqs.dropFirst()).first { $0 >= $1 }.map { "\($0) then \($1)" } ?? "")")
        #expect(info.corruptRecords == 1 && info.lastSeq == 2002 && info.records == 2001)
        #expect(seqs.count == 2001)
    }

    /// A segment deleted from the middle: reopening counts what is left, and reading reports
    /// the missing seqs once, as unavailable, and goes on.
    @Test func aMissingMiddleSegmentIsReportedOnceAsUnavailable() throws {
        let directory = DurableHistoryTests.scratchDirectory()
        defer { DurableHistoryTests.removeTree(directory) }
        let (runId, paths) = try Self.writtenRun(directory, events: 2000)
        try #require(paths.count >= 3)
        let missing = UInt64(Self.recordOffsets(paths[1]).count - 1)  // less its identity record
        unlink(paths[1])
        let (info, seqs, errors) = try Self.reopenAndRead(directory, runId)
        #expect(info.records == 2002 - missing && info.corruptRecords == 0 && info.lastSeq == 2002)
        #expect(errors == [.sequenceUnavailable])
        #expect(seqs.count == Int(2002 - missing) && seqs.last == 2002)
    }
}
