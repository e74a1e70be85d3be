#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Testing
import TestSupport
@testable import RillflowCore

/// The durable history in the core: the record format and its checks, and replays from disk
/// racing the writer and several producers (run under ThreadSanitizer by scripts/test).
@Suite struct DurableHistoryTests {
    static func scratchDirectory() -> String {
        var template = Array("/tmp/rillflow-swift-history-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    static func removeTree(_ path: String) {
        for name in Files.list(path) ?? [] {
            let child = path + "/" + name
            if Files.isDirectory(child) { removeTree(child) } else { unlink(child) }
        }
        rmdir(path)
    }

    static func engine(_ directory: String, segmentBytes: Int = 64 << 10) throws -> Engine {
        let configuration = try EngineConfiguration(workerThreads: 1, logCapacity: 64 << 10, maxEventBytes: 4096,
                                                    historyBytes: 64 << 10)
        return try Engine(configuration: configuration,
                          history: HistoryOptions(directory: directory, fsync: .never, segmentBytes: segmentBytes))
    }

    /// Writes a run of `events` custom events and `ending` with an engine of its own, which it
    /// closes; returns the run's id.
    static func writeRun(in directory: String, workflowName: String, events: Int, ending: EventKind) throws -> UInt64 {
        let engine = try Self.engine(directory)
        defer { engine.close() }
        let run = Run(engine: engine, workflowName: workflowName)
        try run.start(inputBytes: 0)
        for index in 0..<events { try LogTest.emit(run, producer: 0, index: index) }
        try run.end(ending, data: UnsafeRawBufferPointer(start: nil, count: 0))
        return run.id
    }

    @Test func crc32cIsTheCastagnoliChecksum() {
        let check = Array("123456789".utf8)
        #expect(check.withUnsafeBytes { rf_sys_crc32c($0.baseAddress, $0.count) } == 0xE306_9283)
        #expect(rf_sys_crc32c_table_update(0xFFFF_FFFF, check, check.count) ^ 0xFFFF_FFFF == 0xE306_9283)
        let zeros = [UInt8](repeating: 0, count: 32)
        #expect(zeros.withUnsafeBytes { rf_sys_crc32c($0.baseAddress, $0.count) } == 0x8A91_36AA)
        // Extending a checksum gives that of the bytes joined, at every split (and lengths that
        // take each of its steps: 32, 8, 4 and 1 bytes at a time).
        let text = Array("The quick brown fox jumps over the lazy dog, twice over: the quick brown fox.".utf8)
        let whole = text.withUnsafeBytes { rf_sys_crc32c($0.baseAddress, $0.count) }
        for split in 0...text.count {
            let extended = text.withUnsafeBytes { bytes in
                rf_sys_crc32c_extend(rf_sys_crc32c(bytes.baseAddress, split), bytes.baseAddress! + split, text.count - split)
            }
            #expect(extended == whole, "split at \(split)")
        }
        #expect(text.withUnsafeBytes { rf_sys_crc32c_table_update(0xFFFF_FFFF, $0.baseAddress, $0.count) } ^ 0xFFFF_FFFF == whole)
    }

    @Test func recordChecksRejectEveryKindOfDamage() {
        let record = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { record.deallocate() }
        let draft = EventDraft(kind: .custom)
        let length = draft.recordSize
        draft.write(to: record, size: length, seq: 9, timestamp: 1)
        HistoryFormat.seal(record, length: length)
        #expect(HistoryFormat.check(record, available: length) == .valid(length))
        #expect(HistoryFormat.check(record, available: length - 8) == .incomplete)
        #expect(HistoryFormat.check(record, available: 8) == .incomplete)
        for offset in [0, 4, 12, 16, 40, length - 1] {
            (record + offset).storeBytes(of: (record + offset).load(as: UInt8.self) ^ 0x10, as: UInt8.self)
            if case .valid = HistoryFormat.check(record, available: length) { Issue.record("a flip at \(offset) went unnoticed") }
            (record + offset).storeBytes(of: (record + offset).load(as: UInt8.self) ^ 0x10, as: UInt8.self)
        }
        // Sealed, so its checksum is good, yet no run reaches such a seq (a crafted file).
        for seq: UInt64 in [0, UInt64.max] {
            draft.write(to: record, size: length, seq: seq, timestamp: 1)
            HistoryFormat.seal(record, length: length)
            #expect(HistoryFormat.check(record, available: length) == .corrupt("impossible seq \(seq)"))
        }
        record.storeBytes(of: UInt32(12), toByteOffset: EventRecord.lengthOffset, as: UInt32.self)
        #expect(HistoryFormat.check(record, available: length) == .corrupt("impossible record length 12"))
    }

    /// Sub-workflow runs' ids appear in their root's history, so later processes must not
    /// reuse them: the directory's reserved bound covers them as it covers root runs.
    @Test func subWorkflowRunIdsAreReservedLikeRootRunIds() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        let engine = try Self.engine(directory)
        let root = Run(engine: engine, workflowName: "root")
        var last = root
        for _ in 0...HistoryStore.runIdBlock { last = Run(workflowName: "child", parent: root) }
        let fd = open(directory + "/run-ids", O_RDONLY)
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 31) }
        close(fd)
        let reserved = String(decoding: bytes[0..<max(count, 0)], as: UTF8.self)
        #expect(UInt64(reserved.split(separator: "\n").first ?? "")! > last.id)
        engine.close()
    }

    static func reservedBound(_ directory: String) -> UInt64? {
        let fd = open(directory + "/run-ids", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 31) }
        return UInt64(String(decoding: bytes[0..<max(count, 0)], as: UTF8.self).split(separator: "\n").first ?? "")
    }

    /// A run that outlives its engine's release no longer writes `run-ids`: the directory may
    /// be another engine's by then, and a lower bound written there would let ids be reused.
    @Test func aClosedStoreNoLongerRecordsRunIds() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        let engine = try Self.engine(directory)
        let root = Run(engine: engine, workflowName: "root")
        let before = try #require(Self.reservedBound(directory))
        engine.close()
        let next = try HistoryStore(options: HistoryOptions(directory: directory))  // another engine takes it
        _ = Run(workflowName: "child", parent: root)
        for _ in 0...HistoryStore.runIdBlock { _ = Run(workflowName: "child", parent: root) }
        #expect(Self.reservedBound(directory) == before)
        next.close()
    }

    /// Recording a run id as used can fail: the run's history counts it, with the reason.
    @Test func aRunIdThatCannotBeRecordedIsAWriteFailure() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        try Files.makeDirectory(directory)
        try Files.makeDirectory(directory + "/run-ids.tmp")  // the temporary file cannot be created
        let engine = try Self.engine(directory)
        defer { engine.close() }
        let run = Run(engine: engine, workflowName: "unrecorded")
        let info = run.log.durable!.info
        #expect(info.writeFailures == 1)
        #expect(info.lastError.contains("run-ids.tmp"))
    }

    /// A segment that exists but cannot be opened or mapped is a system error, not a gap.
    @Test func aSegmentThatCannotBeReadIsASystemError() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        let runId = try Self.writeRun(in: directory, workflowName: "unreadable", events: 0, ending: .runCompleted)
        let engine = try Self.engine(directory)
        defer { engine.close() }
        let runDirectory = try #require(Files.list(directory)?.first { HistoryStore.runId(directoryName: $0) == runId })
        let segment = try #require(Files.list(directory + "/" + runDirectory)?.first)
        let path = directory + "/" + runDirectory + "/" + segment
        for damage in ["a link to itself (open fails)", "a directory (mmap fails)", "a FIFO (opening it for reading would wait for a writer)"] {
            unlink(path)
            _ = rmdir(path)
            if damage.hasPrefix("a link") {
                symlink(path, path)
            } else if damage.hasPrefix("a FIFO") {
                try #require(mkfifo(path, 0o644) == 0)
            } else {
                try Files.makeDirectory(path)
            }
            #expect(throws: RillflowError.self, "\(damage)") { try engine.openRun(id: runId) }
            do throws(RillflowError) { _ = try engine.openRun(id: runId) } catch { #expect(error.code == .system, "\(damage): \(error)") }
        }
    }

    @Test func absurdRunIdsInADirectoryAreIgnored() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        try Files.makeDirectory(directory + "/run-18446744073709551615")
        let fd = open(directory + "/run-ids", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = write(fd, "18446744073709551000\n", 21)
        close(fd)
        let engine = try Self.engine(directory)  // no overflow opening it, nor creating a run
        let run = Run(engine: engine, workflowName: "after")
        #expect(run.id < HistoryFormat.maximumSeqOrRunId)
        engine.close()
    }

    /// Four producers emit while readers start from seq 1 at different moments; each reads
    /// the early events from disk and hands over to memory without a gap or a duplicate, and
    /// keeps every producer's order.
    @Test func replaysFromDiskRaceProducersAndTheWriter() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        let engine = try Self.engine(directory)
        let run = LogTest.startedRun(engine)
        let producers = 4, perProducer = 4000
        let results = Lock<[[LogTest.Seen]]>(Array(repeating: [], count: 3))
        let thousands = Lock(0)  // producer 0's progress, in thousands of events
        var readers: [TestThread] = []
        let producing = (0..<producers).map { producer in
            TestThread {
                for index in 0..<perProducer {
                    _ = try? LogTest.emit(run, producer: producer, index: index)
                    if producer == 0 && index % 1000 == 999 && index < 3000 {
                        thousands.withLock { $0 += 1 }
                    }
                }
            }
        }
        // Readers join while the run is live, once early events have certainly left memory.
        for reader in 0..<3 {
            while thousands.withLock({ $0 }) < reader + 1 { sched_yield() }
            let subscription = try Subscription(log: run.log, options: SubscriptionOptions(mode: .custom, startSeq: 1))
            readers.append(TestThread {
                let seen = LogTest.drain(subscription, batch: reader == 1 ? 1 : 200)
                results.withLock { $0[reader] = seen }
            })
        }
        for thread in producing { thread.join() }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        for thread in readers { thread.join() }
        let total = producers * perProducer + 2
        for seen in results.withLock({ $0 }) {
            #expect(seen.count == total)
            #expect(seen.map(\.seq) == Array(1...UInt64(total)))
            for producer in 0..<producers {
                let mine = seen.filter { $0.kind == .custom && $0.data.hasPrefix("\(producer):") }.map(\.data)
                #expect(mine == (0..<perProducer).map { "\(producer):\($0)" })
            }
        }
        engine.close()
        let info = run.log.durable!.info
        #expect(info.records == UInt64(total) && info.lastSeq == UInt64(total) && info.segments > 4)
    }

    /// What a writer leaves is what a later engine reads back, identity records included.
    @Test func aReopenedRunReadsBackItsIdentityAndEvents() throws {
        let directory = Self.scratchDirectory()
        defer { Self.removeTree(directory) }
        let runId = try Self.writeRun(in: directory, workflowName: "named", events: 100, ending: .runFailed)
        let engine = try Self.engine(directory)
        let reopened = try engine.openRun(id: runId)
        #expect(reopened.status == .failed && reopened.identity.workflowName == "named")
        let seen = LogTest.drain(try Subscription(log: reopened.log, options: SubscriptionOptions(startSeq: 50)))
        #expect(seen.map(\.seq) == Array(50...102))
        #expect(seen.allSatisfy { $0.runId == runId && $0.workflow == "named" })
        #expect(throws: RillflowError.self) { try engine.openRun(id: runId + 1) }
        engine.close()
    }
}
