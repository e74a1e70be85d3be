import TestSupport
import Testing
@testable import RillflowCore

/// Variable-size records through a small log: every wrap-around case (explicit padding
/// records, and the implicit skip when less than a minimal record is left at the end) happens
/// many times, and every byte of every event is checked against what its producer wrote.
@Suite struct RunLogRandomizedTests {
    /// A small deterministic generator, so a failure can be replayed.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    static let producers = 3
    static let perProducer = 3_000

    /// What producer `producer` emits as its `index`-th event: sizes and bytes both derived from
    /// (producer, index), so a reader can recompute them.
    static func event(producer: Int, index: Int) -> (step: [UInt8], topic: [UInt8], data: [UInt8]) {
        var generator = Generator(state: UInt64(producer) << 32 | UInt64(index))
        let step = (0..<generator.next(41)).map { _ in UInt8(97 + generator.next(26)) }
        let topic = (0..<generator.next(20)).map { _ in UInt8(65 + generator.next(26)) }
        let size = generator.next(8) == 0 ? generator.next(4001) : generator.next(64)
        var data = Array("\(producer):\(index):".utf8)
        while data.count < size { data.append(UInt8(32 + (data.count * 7 + index) % 90)) }
        return (step, topic, data)
    }

    static func emit(_ run: Run, producer: Int, index: Int) throws {
        let (step, topic, data) = event(producer: producer, index: index)
        _ = try step.withUnsafeBytes { s in
            try topic.withUnsafeBytes { t in
                try data.withUnsafeBytes { d in
                    try run.emit(EventDraft(kind: .custom, step: s, topic: t, data: d))
                }
            }
        }
    }

    /// Checks a delivered event against the expected one; returns (producer, index).
    static func verify(_ view: EventView) -> (Int, Int)? {
        let data = Array(UnsafeRawBufferPointer(start: view.data, count: view.dataLength))
        let fields = data.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, let producer = Int(String(decoding: fields[0], as: UTF8.self)),
              let index = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        let expected = event(producer: producer, index: index)
        guard data == expected.data,
              Array(UnsafeRawBufferPointer(start: view.step, count: view.stepLength)) == expected.step,
              Array(view.topicBytes) == expected.topic,
              view.data[view.dataLength] == 0 else { return nil }
        return (producer, index)
    }

    /// What one reader saw; read by the test after the reader's thread is joined.
    final class Tally: @unchecked Sendable {
        var next = [Int](repeating: 0, count: RunLogRandomizedTests.producers)
        var corrupt = 0, outOfOrder = 0, delivered = 0, skipped: UInt64 = 0, lastSeq: UInt64 = 0
    }

    /// Reads to the end with random batch sizes, checking every event.
    static func consume(_ subscription: Subscription, _ tally: Tally, seed: UInt64, lossy: Bool) {
        var generator = Generator(state: seed)
        var done = false
        while !done {
            do throws(RillflowError) {
                _ = try subscription.read(limit: 1 + generator.next(50), timeoutMilliseconds: 10_000) { view in
                    switch view.kind {
                    case .lagged:
                        tally.skipped += UInt64(String(cString: view.data).split(separator: ",")[0].split(separator: ":")[1])!
                    case .custom:
                        tally.delivered += 1
                        if view.seq <= tally.lastSeq { tally.outOfOrder += 1 }
                        tally.lastSeq = view.seq
                        guard let (producer, index) = verify(view) else { tally.corrupt += 1; return true }
                        if lossy ? index < tally.next[producer] : index != tally.next[producer] { tally.outOfOrder += 1 }
                        tally.next[producer] = index + 1
                    default:
                        tally.delivered += 1
                        tally.lastSeq = view.seq
                    }
                    return true
                }
            } catch {
                #expect(error.code == .endOfStream)
                done = true
            }
        }
    }

    @Test func variableSizedEventsArriveIntactInOrder() throws {
        // The emit timeout turns a reader that stops making progress into a failure, not a hang.
        let engine = LogTest.engine(logCapacity: 64 << 10, history: 256 << 10, emitTimeout: 15_000)
        let run = LogTest.startedRun(engine)
        let readers = (0..<2).map { _ in try! Subscription(log: run.log, options: SubscriptionOptions()) }
        let lossy = try Subscription(log: run.log, options: SubscriptionOptions(lossy: true))

        let tallies = (0..<3).map { _ in Tally() }
        let threads = [
            TestThread { Self.consume(readers[0], tallies[0], seed: 1, lossy: false) },
            TestThread { Self.consume(readers[1], tallies[1], seed: 2, lossy: false) },
            TestThread { Self.consume(lossy, tallies[2], seed: 3, lossy: true) },
        ]
        let producers = (0..<Self.producers).map { producer in
            TestThread { for index in 0..<Self.perProducer { try! Self.emit(run, producer: producer, index: index) } }
        }
        producers.forEach { $0.join() }
        try run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
        threads.forEach { $0.join() }

        for (i, tally) in tallies.enumerated() {
            #expect(tally.corrupt == 0, "reader \(i): every byte as written")
            #expect(tally.outOfOrder == 0, "reader \(i): seq and per-producer order kept")
        }
        for tally in tallies.prefix(2) {
            #expect(tally.next == [Int](repeating: Self.perProducer, count: Self.producers), "nothing lost")
            #expect(tally.delivered == Self.producers * Self.perProducer + 1)
        }
        // The lossy reader's delivered and skipped events add up to all it could have seen
        // (everything after run_started, which came before it subscribed).
        #expect(UInt64(tallies[2].delivered) + tallies[2].skipped == run.log.nextSeq - 2)
    }
}
