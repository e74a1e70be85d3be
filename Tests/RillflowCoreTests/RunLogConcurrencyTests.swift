import TestSupport
import Testing
@testable import RillflowCore

/// Several producers, several kinds of subscribers, a log much smaller than what is written.
@Suite struct RunLogConcurrencyTests {
    static let producers = 4
    static let perProducer = 5_000

    /// Checks one non-lossy subscriber's view of the whole run.
    private func checkComplete(_ seen: [LogTest.Seen], firstSeq: UInt64, label: String) {
        let total = Self.producers * Self.perProducer
        #expect(seen.map(\.seq) == Array(firstSeq..<firstSeq + UInt64(seen.count)), "\(label): seqs dense and increasing")
        let custom = seen.filter { $0.kind == .custom }
        #expect(custom.count == total, "\(label): every event once")
        var next = [Int](repeating: 0, count: Self.producers)
        for event in custom {
            let parts = event.data.split(separator: ":").map { Int($0)! }
            #expect(parts[1] == next[parts[0]], "\(label): producer \(parts[0]) order kept")
            next[parts[0]] = parts[1] + 1
        }
        #expect(seen.last?.kind == .runCompleted, "\(label): terminal event last")
    }

    /// Producer `producer`'s events: one emit each, or batches of 1 to 100 events (sizes
    /// varying per producer and batch), so pieces of batches interleave with each other.
    private static func produce(_ run: Run, producer: Int, batches: Bool) {
        guard batches else {
            for index in 0..<perProducer { try! LogTest.emit(run, producer: producer, index: index) }
            return
        }
        var index = 0, round = 0
        while index < perProducer {
            let end = min(perProducer, index + 1 + (round * 37 + producer * 11) % 100)
            let seqs = try! LogTest.emitBatch(run, producer: producer, indices: index..<end)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "a batch's seqs increase")
            index = end
            round += 1
        }
    }

    @Test(arguments: [false, true]) func everySubscriberSeesWhatItShould(batches: Bool) throws {
        let engine = LogTest.engine(logCapacity: 64 << 10, history: UInt64.max)
        let run = LogTest.startedRun(engine)
        let full = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
        let filtered = try Subscription(log: run.log, options: SubscriptionOptions(
            mode: .custom, customKinds: KindSet([.custom]), topics: [Array("p1".utf8)]))
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true))
        let lossyStartSeq = run.log.nextSeq

        let fullSeen = Shared<[LogTest.Seen]>([]), filteredSeen = Shared<[LogTest.Seen]>([])
        let lateSeen = Shared<[LogTest.Seen]>([])
        var readers = [
            TestThread { fullSeen.value = LogTest.drain(full) },
            TestThread { filteredSeen.value = LogTest.drain(filtered, batch: 7) },
        ]
        let producers = (0..<Self.producers).map { producer in
            TestThread {
                Self.produce(run, producer: producer, batches: batches)
            }
        }
        // Joins while the producers run, from seq 1: replayed from the history, then live.
        readers.append(TestThread {
            let late = try! Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
            lateSeen.value = LogTest.drain(late, batch: 100)
        })
        producers.forEach { $0.join() }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        readers.forEach { $0.join() }

        checkComplete(fullSeen.value, firstSeq: 1, label: "full")
        checkComplete(lateSeen.value, firstSeq: 1, label: "late")
        let onlyP1 = filteredSeen.value.filter { $0.kind == .custom }
        #expect(onlyP1.count == Self.perProducer)
        #expect(onlyP1.allSatisfy { $0.data.hasPrefix("1:") })
        #expect(onlyP1.map(\.data) == (0..<Self.perProducer).map { "1:\($0)" })
        #expect(filteredSeen.value.last?.kind == .runCompleted)
        #expect(filteredSeen.value.count == Self.perProducer + 1)

        // The lossy subscriber never read while 20,000 events passed through a 64 KiB log: it
        // was moved forward, and what it got plus what it was told it missed is everything.
        let lossySeen = LogTest.drain(lossy)
        let skipped = lossySeen.filter { $0.kind == .lagged }.map { lagged -> UInt64 in
            UInt64(lagged.data.split(separator: ",")[0].split(separator: ":")[1])!
        }.reduce(0, +)
        let delivered = lossySeen.filter { $0.kind != .lagged }
        #expect(skipped > 0)
        #expect(UInt64(delivered.count) + skipped == run.log.nextSeq - lossyStartSeq)
        #expect(delivered.map(\.seq) == delivered.map(\.seq).sorted())
        #expect(delivered.last?.kind == .runCompleted)
    }

    @Test func stalledSubscriberHoldsProducersUntilItReads() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 1))
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        let total = 20_000  // about 25 times the log
        let producer = TestThread {
            for index in 0..<total { try! LogTest.emit(run, producer: 0, index: index) }
            try! run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let seen = LogTest.drain(subscription, batch: 1000)
        producer.join()
        #expect(seen.filter { $0.kind == .custom }.map(\.data) == (0..<total).map { "0:\($0)" })
    }

    /// A reader asleep in a blocking read whose filter passes nothing the producer writes must
    /// not hold the producer once the log is full: it is woken to skip what it filters out.
    @Test func aSleepingFilteredReaderDoesNotHoldProducers() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 1, emitTimeout: 10_000))
        let valuesOnly = try Subscription(log: run.log, options: SubscriptionOptions(mode: .values))
        let total = 20_000  // about 25 times the log, none of it a state change
        let producer = TestThread {
            for index in 0..<total { try! LogTest.emit(run, producer: 0, index: index, kind: .token) }
            try! run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let seen = LogTest.drain(valuesOnly)  // blocks in read until the terminal event
        producer.join()
        #expect(seen.map(\.kind) == [.runCompleted])
    }

    @Test func emitTimesOutWhenASubscriberNeverReads() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 1, emitTimeout: 20))
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        var failure: RillflowError?
        for index in 0..<10_000 {
            do { try LogTest.emit(run, producer: 0, index: index) } catch let error as RillflowError {
                failure = error
                break
            }
        }
        #expect(failure?.code == .timeout)
        #expect(failure?.message.contains("emit_timeout_ms") == true)
        // The subscriber still gets everything that was accepted, in order.
        subscription.close()
    }

    @Test func replayFromHistorySplicesIntoLiveWithoutGapOrDuplicate() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: UInt64.max))
        for index in 0..<3_000 { try LogTest.emit(run, producer: 0, index: index) }
        let producer = TestThread {
            for index in 3_000..<6_000 { try! LogTest.emit(run, producer: 0, index: index) }
            try! run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
        let seen = LogTest.drain(subscription, batch: 33)
        producer.join()
        #expect(seen.map(\.seq) == Array(1...6_002))
        #expect(seen.filter { $0.kind == .custom }.map(\.data) == (0..<6_000).map { "0:\($0)" })
    }

    @Test func startFromAnySeqStillInTheLog() throws {
        let run = LogTest.startedRun(LogTest.engine())
        for index in 0..<50 { try LogTest.emit(run, producer: 0, index: index) }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 40))
        #expect(LogTest.drain(subscription).map(\.seq) == Array(40...52))
    }

    @Test func seqNoLongerRetainedIsAClearError() throws {
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 1))
        for index in 0..<5_000 { try LogTest.emit(run, producer: 0, index: index) }
        #expect {
            try Subscription(log: run.log, options: SubscriptionOptions(startSeq: 1))
        } throws: { error in
            (error as? RillflowError)?.code == .sequenceUnavailable
                && (error as? RillflowError)?.message.contains("oldest retained seq") == true
        }
        // A seq still in the log works.
        let recent = run.log.nextSeq - 10
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions(startSeq: recent))
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(LogTest.drain(subscription).map(\.seq) == Array(recent...run.log.nextSeq - 1))
    }

    @Test func lossyHistoryReaderIsToldWhatTheHistoryDropped() throws {
        // History of ~256 KiB, log of 64 KiB: a lossy reader replaying from the oldest retained
        // seq stops after one event while much more is emitted, so its next chunks are dropped.
        let run = LogTest.startedRun(LogTest.engine(logCapacity: 64 << 10, history: 256 << 10))
        for index in 0..<5_000 { try LogTest.emit(run, producer: 0, index: index) }
        let oldest = run.log.history.state.withLock { $0.oldestSeq }
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true, startSeq: oldest))
        let first = LogTest.drain(lossy, batch: 1, until: { _ in true })
        #expect(first.map(\.seq) == [oldest])
        for index in 5_000..<20_000 { try LogTest.emit(run, producer: 0, index: index) }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        let rest = LogTest.drain(lossy)
        let skipped = rest.filter { $0.kind == .lagged }.map { UInt64($0.data.split(separator: ",")[0].split(separator: ":")[1])! }
        let delivered = rest.filter { $0.kind != .lagged }
        #expect(!skipped.isEmpty)
        #expect(UInt64(delivered.count) + skipped.reduce(0, +) == run.log.nextSeq - oldest - 1)
        #expect(delivered.map(\.seq) == delivered.map(\.seq).sorted())
        #expect(delivered.last?.kind == .runCompleted)
    }
}
