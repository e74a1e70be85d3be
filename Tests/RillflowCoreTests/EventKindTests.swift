import Testing
@testable import RillflowCore

@Suite struct EventKindTests {
    @Test func literalMasksMatchTheKinds() {
        #expect(KindSet.terminal == KindSet([.runCompleted, .runFailed, .runTimedOut, .runCancelled]))
        #expect(KindSet.all == KindSet(EventKind.allCases))
        #expect(KindSet.engineOnly == KindSet([.runStarted, .runCompleted, .runFailed, .runTimedOut, .runCancelled, .lagged]))
        #expect(EventKind.allCases.filter(\.isTerminal) == [.runCompleted, .runFailed, .runTimedOut, .runCancelled])
    }

    @Test func rawValuesMapToTheirKindsAndNothingElse() {
        for kind in EventKind.allCases { #expect(EventKind(raw: UInt32(kind.rawValue)) == kind) }
        #expect(EventKind.allCases.count == 16)
        for raw: UInt32 in [0, 17, 255, 256, 0x1_0003, UInt32.max] { #expect(EventKind(raw: raw) == nil) }
    }

    @Test func modesFilterAsDocumented() {
        let none = KindSet(mask: 0)
        #expect(StreamMode.tokens.kinds(custom: none) == KindSet.all)
        #expect(!StreamMode.messages.kinds(custom: none).contains(.token))
        #expect(StreamMode.messages.kinds(custom: none).contains(.custom))
        #expect(StreamMode.updates.kinds(custom: none) == KindSet([.stepCompleted, .stateChanged, .inputRequired, .runCompleted, .runFailed, .runTimedOut, .runCancelled, .lagged]))
        #expect(StreamMode.values.kinds(custom: none) == KindSet([.stateChanged, .runCompleted, .runFailed, .runTimedOut, .runCancelled, .lagged]))
        #expect(StreamMode.custom.kinds(custom: KindSet([.progress])) == KindSet([.progress, .runCompleted, .runFailed, .runTimedOut, .runCancelled, .lagged]))
    }
}
