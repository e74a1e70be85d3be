#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import RillflowCore

@Suite struct RunLogBasicTests {
    @Test func eventsArriveInOrderWithDenseSeqs() throws {
        let run = LogTest.startedRun(LogTest.engine())
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
        for i in 0..<10 { try LogTest.emit(run, producer: 0, index: i) }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let seen = LogTest.drain(subscription)
        #expect(seen.map(\.seq) == Array(1...12))
        #expect(seen.first?.kind == .runStarted)
        #expect(seen.last?.kind == .runCompleted)
        #expect(seen.dropFirst().prefix(10).map(\.data) == (0..<10).map { "0:\($0)" })
    }

    @Test func aReadIntoSlotsFinishesWhileItStillHoldsTheSubscription() throws {
        let run = LogTest.startedRun(LogTest.engine())
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
        for index in 0..<3 { try LogTest.emit(run, producer: 0, index: index) }
        let stride = 20  // not a multiple of 8: the views are stored unaligned
        let slots = UnsafeMutableRawPointer.allocate(byteCount: stride * 8, alignment: 8)
        defer { slots.deallocate() }
        var otherRead: RillflowError?
        var seqs: [UInt64] = []
        let count = try subscription.read(into: slots, stride: stride, limit: 8, timeoutMilliseconds: 0) { count in
            // Inside `finish` the read still holds the subscription: another read is refused,
            // and a close takes effect only once the read ends, so the views stay readable.
            do throws(RillflowError) { _ = try subscription.read(limit: 1, timeoutMilliseconds: 0) { _ in true } } catch { otherRead = error }
            subscription.close()
            for index in 0..<count { seqs.append((slots + index * stride).loadUnaligned(as: EventView.self).seq) }
        }
        #expect(count == 4 && seqs == [1, 2, 3, 4])
        #expect(otherRead?.code == .invalidState)
        #expect(throws: RillflowError(.closed, "the subscription was released")) {
            try subscription.read(limit: 1, timeoutMilliseconds: 0) { _ in true }
        }
    }

    @Test func aStartSeqPastAnArchivedTerminalEventEndsAtOnce() throws {
        // The state a run's log is in once everything, its terminal event included, has been
        // archived (a reader idling behind it, or a producer that was waiting for room).
        let log = RunLog(identity: RunIdentity(runId: 1, workflowName: "archived"),
                         configuration: try EngineConfiguration(logCapacity: 64 << 10, maxEventBytes: 4096))
        log.freeze(nextSeq: 10)
        for start: UInt64 in [10, 12] {
            let subscription = try Subscription(log: log, options: SubscriptionOptions(startSeq: start))
            #expect(throws: RillflowError(.endOfStream, "the run's stream has ended: its terminal event was read")) {
                try subscription.read(limit: 1, timeoutMilliseconds: 0) { _ in true }
            }
        }
    }

    @Test func aWaitThatTimesOutLeavesTheFdWatchingForEvents() throws {
        let run = LogTest.startedRun(LogTest.engine())
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        let fd = try subscription.fileDescriptor()
        func readable() -> Bool {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&entry, 1, 0) == 1
        }
        #expect(throws: RillflowError.self) { try subscription.read(limit: 1, timeoutMilliseconds: 0) { _ in true } }
        #expect(!readable())
        #expect(throws: RillflowError.self) { try subscription.read(limit: 1, timeoutMilliseconds: 5) { _ in true } }
        #expect(!readable())
        try LogTest.emit(run, producer: 0, index: 0)
        #expect(readable())
    }

    /// A 64 KiB log spills 64 KiB chunks. A 128 KiB history keeps two and drops the rest; a
    /// 16 KiB one can keep none whole, so it drops its chunk at every archiving pass. Either
    /// way, 1.6 MB goes through the history, yet only a handful of chunks are ever created.
    @Test(arguments: [(history: 128 << 10, mostCreated: 4), (history: 16 << 10, mostCreated: 2)])
    func droppedHistoryChunksAreReused(history: Int, mostCreated: Int) throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: UInt64(history)))
        for index in 0..<20_000 { try LogTest.emit(run, producer: 0, index: index) }
        let created = run.log.history.state.withLock { $0.chunksCreated }
        #expect(created <= mostCreated, "\(created) chunks were created")
        #expect(run.log.history.state.withLock { $0.totalBytes } <= max(history, 64 << 10))
    }

    @Test func aWaitingReaderArchivesWhatItHasReadAndReplaysStaySeamless() throws {
        // A 256 KiB log holds these 1,500 events (about 120 KiB) without its producer archiving.
        // (The emit timeout turns a producer held by a reader into a failure, not a hang.)
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 256 << 10, emitTimeout: 2_000))
        let reader = try Subscription(log: run.log, options: SubscriptionOptions())
        for index in 0..<1_500 { try LogTest.emit(run, producer: 0, index: index) }
        var archived: Int { run.log.history.state.withLock { $0.archivePosition } }
        #expect(archived == 0)
        var read = 0
        while read < 1_500 { read += try reader.read(limit: 256, timeoutMilliseconds: 0) { _ in true } }
        // A read that finds nothing and may not wait does no archiving either.
        #expect(throws: RillflowError.self) { try reader.read(limit: 1, timeoutMilliseconds: 0) { _ in true } }
        #expect(archived == 0)
        // One that waits copies one block of what it has passed into the history meanwhile.
        #expect(throws: RillflowError.self) { try reader.read(limit: 1, timeoutMilliseconds: 1) { _ in true } }
        #expect(archived >= RunLog.idleArchiveBlock && archived < RunLog.idleArchiveBlock + 256)
        #expect(run.log.history.state.withLock { $0.endSeq } > 1)
        // A replay from seq 1 crosses from that history into the log with no gap or duplicate,
        // and the producer's own archiving later carries on where the reader's stopped.
        let replay = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
        reader.close()  // it would hold the producer once the log is full
        for index in 1_500..<6_000 { try LogTest.emit(run, producer: 0, index: index) }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let seen = LogTest.drain(replay)
        #expect(seen.map(\.seq) == Array(1...6_002))
        #expect(seen.dropFirst().prefix(6_000).map(\.data) == (0..<6_000).map { "0:\($0)" })
    }
}

@Suite struct RunWaitTests {
    @Test func waitReturnsWhenTheRunEndsAndTheOutcomeIsThere() throws {
        let run = Run(engine: LogTest.engine(), workflowName: "waited")
        try run.start(inputBytes: 0)
        #expect(run.wait(milliseconds: 0) { $0.isFinished } == .running)
        #expect(run.outcome == nil)
        let ender = TestThread {
            try? Array(#"{"r":1}"#.utf8).withUnsafeBytes { try run.end(.runCompleted, data: $0, detail: Array("result".utf8)) }
        }
        #expect(run.wait(milliseconds: -1) { $0.isFinished } == .completed)
        #expect(run.outcome.map { String(decoding: $0.detail, as: UTF8.self) } == "result")
        #expect(run.outcome?.nulTerminated.last == 0)
        ender.join()
    }

    @Test func anEndedStatusIsSeenOnlyWithTheTerminalEventInTheLog() throws {
        // A watcher spinning on the status while another thread ends the run: the moment it
        // sees the run ended, a read that does not wait finds the terminal event.
        for _ in 0..<300 {
            let run = Run(engine: LogTest.engine(), workflowName: "watched")
            try run.start(inputBytes: 0)
            let subscription = try Subscription(log: run.log, options: SubscriptionOptions())  // at the live tail
            let ender = TestThread {
                try? Array("{}".utf8).withUnsafeBytes { try run.end(.runCompleted, data: $0) }
            }
            let giveUp = Deadline(milliseconds: 10_000)
            while !run.status.isFinished && !giveUp.hasPassed {}
            var kinds: [EventKind] = []
            do {
                _ = try subscription.read(limit: 8, timeoutMilliseconds: 0) { view in kinds.append(view.kind); return true }
            } catch {
                Issue.record("the run said it ended, but its terminal event was not there: \(error)")
            }
            ender.join()
            #expect(kinds == [.runCompleted])
            if kinds != [.runCompleted] { break }
        }
    }

    @Test func askingTheStatusNeverWaitsForATerminalEventStillBeingWritten() throws {
        // A result larger than the room the log keeps for the terminal event, a full log, and
        // a reader that has not read: the terminal write waits for the reader. A thread that
        // both reads and asks the status must get an answer, not wait for itself.
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10))
        let reader = try Subscription(log: run.log, options: SubscriptionOptions(mode: .custom, startSeq: 1))
        var index = 0
        while run.log.tailPosition + 200 + RunLog.terminalReserve <= 64 << 10 {  // as full as events may make it
            try LogTest.emit(run, producer: 0, index: index)
            index += 1
        }
        let result = [UInt8](repeating: 0x31, count: 4000)  // within max_event_bytes (4096), past the reserve
        let ender = TestThread { try? result.withUnsafeBytes { try run.end(.runCompleted, data: $0) } }
        let giveUp = Deadline(milliseconds: 10_000)
        while !run.isEndClaimed && !giveUp.hasPassed {}
        #expect(run.isEndClaimed)
        #expect(run.status == .running)  // not waiting for the write: the status it had
        #expect(run.outcome == nil)
        let events = LogTest.drain(reader)  // the reader reads: the write goes through
        ender.join()
        #expect(events.last?.kind == .runCompleted && events.count == index + 2)
        #expect(run.status == .completed && run.outcome?.status == .completed)
    }

    @Test func waitGivesUpAtItsTimeout() throws {
        let run = Run(engine: LogTest.engine(), workflowName: "waited")
        try run.start(inputBytes: 0)
        let before = WallClock.monotonicNanoseconds()
        #expect(run.wait(milliseconds: 20) { $0.isFinished } == .running)
        #expect(WallClock.monotonicNanoseconds() - before >= 20_000_000)
    }
}
