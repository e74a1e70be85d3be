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
}
