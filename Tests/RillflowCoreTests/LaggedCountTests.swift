import Testing
@testable import RillflowCore

/// What a lossy subscription is told when it was moved forward: exactly the events it wanted
/// and missed, whichever source it was reading (the log, or the history behind it).
@Suite struct LaggedCountTests {
    private func skippedCounts(_ events: [LogTest.Seen]) -> [UInt64] {
        events.filter { $0.kind == .lagged }.map { UInt64($0.data.split(separator: ",")[0].split(separator: ":")[1])! }
    }

    @Test func eventsBeforeTheStartSeqAreNotReportedAsMissed() throws {
        // No history: a start seq older than the archive is served from the oldest intact
        // record in the log, so the reader starts before its start seq. Producers then move it
        // forward, but not past that seq: it has missed nothing it asked for.
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 1))
        for index in 0..<5_000 { try LogTest.emit(run, producer: 0, index: index) }
        let start = run.log.nextSeq - 100
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true, startSeq: start))
        let (probe, gateSeq) = try #require(run.log.history.state.withLock { run.log.registerAtGate(forSeq: start, $0, lossy: true) })
        run.log.unregister(probe)
        #expect(gateSeq + 500 < start)  // the log holds far more than the 100 events from the start seq
        // Half a log: producers move the reader forward, still short of its start seq.
        for index in 5_000..<5_400 { try LogTest.emit(run, producer: 0, index: index) }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let events = LogTest.drain(lossy)
        #expect(skippedCounts(events).isEmpty)
        #expect(events.map(\.seq) == Array(start..<run.log.nextSeq))
    }

    @Test func aMissedRangeStartsNoEarlierThanTheStartSeq() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 1))
        for index in 0..<5_000 { try LogTest.emit(run, producer: 0, index: index) }
        let start = run.log.nextSeq - 300
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true, startSeq: start))
        for index in 5_000..<10_000 { try LogTest.emit(run, producer: 0, index: index) }  // laps the reader
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let events = LogTest.drain(lossy)
        let lagged = try #require(events.first)
        #expect(lagged.kind == .lagged)
        #expect(lagged.data.contains("\"first_seq\":\(start),"))
        let delivered = events.filter { $0.kind != .lagged }
        #expect(UInt64(delivered.count) + skippedCounts(events).reduce(0, +) == run.log.nextSeq - start)
    }

    @Test func aLossyStreamEndingAtSuspensionEndsWhenMovedPastTheSuspension() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10))
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true, endAtSuspension: true))
        let first = try LogTest.emit(run, producer: 0, index: 0)
        for index in 1..<100 { try LogTest.emit(run, producer: 0, index: index) }
        let question = try run.log.emit(EventDraft(kind: .inputRequired, data: UnsafeRawBufferPointer(start: nil, count: 0)))
        // The run goes on (a parallel step) and laps the reader, which never read.
        for index in 100..<5_000 { try LogTest.emit(run, producer: 0, index: index) }
        let events = LogTest.drain(lossy)  // ends, or times out after 10 s and records an issue
        #expect(events.map(\.kind) == [.lagged])
        #expect(events.first?.data == "{\"skipped\":\(question - first + 1),\"first_seq\":\(first),\"last_seq\":\(question)}")
        #expect(lossy.skippedEvents == question - first + 1)
    }

    @Test func aLossyReaderWhoseHistoryChunkWasDroppedGoesOnInTheLog() throws {
        // A history smaller than one chunk: the chunk a lossy reader is replaying is dropped
        // as soon as it outgrows the limit (lossy readers pin nothing). The reader finishes the
        // chunk it holds, then finds nothing after it in the history.
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 32 << 10))
        var index = 0
        while run.log.history.state.withLock({ $0.oldestSeq == $0.endSeq }) {
            try LogTest.emit(run, producer: 0, index: index)
            index += 1
        }
        let oldest = run.log.history.state.withLock { $0.oldestSeq }
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true, startSeq: oldest))
        #expect(LogTest.drain(lossy, batch: 1, until: { _ in true }).map(\.seq) == [oldest])
        for more in index..<index + 5_000 { try LogTest.emit(run, producer: 0, index: more) }
        var more = index + 5_000
        while run.log.history.state.withLock({ !$0.chunks.isEmpty }) && more < index + 100_000 {
            try LogTest.emit(run, producer: 0, index: more)
            more += 1
        }
        #expect(run.log.history.state.withLock { $0.chunks.isEmpty && $0.endSeq > oldest + 1 })  // all dropped
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let rest = LogTest.drain(lossy)
        let delivered = rest.filter { $0.kind != .lagged }
        #expect(!skippedCounts(rest).isEmpty)
        #expect(UInt64(delivered.count) + skippedCounts(rest).reduce(0, +) == run.log.nextSeq - oldest - 1)
        #expect(delivered.map(\.seq) == delivered.map(\.seq).sorted())
        #expect(delivered.last?.kind == .runCompleted)
    }
}
