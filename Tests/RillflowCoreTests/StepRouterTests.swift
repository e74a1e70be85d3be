import Testing
@testable import RillflowCore

@Suite struct StepRouterTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func router(_ steps: [StepDefinition], budget: Int = 100) throws -> StepRouter {
        StepRouter(definition: try WorkflowDefinition(name: "w", steps: steps), budget: budget)
    }

    @Test func chainRunsStepAfterStep() throws {
        var router = try router([
            StepDefinition(name: "one", accepts: ["start"], sends: ["first"]),
            StepDefinition(name: "two", accepts: ["first"], sends: ["stop"]),
        ])
        #expect(try router.deliver("start", payload: bytes("in")) == [Invocation(step: 0, eventType: "start", inputs: [bytes("in")])])
        #expect(!router.isIdle)
        #expect(try router.finished(step: 0).isEmpty)
        #expect(router.isIdle)
        #expect(try router.deliver("first", payload: bytes("x")).map(\.step) == [1])
        #expect(router.started == 2)
    }

    @Test func branchesGetTheSameEvent() throws {
        var router = try router([
            StepDefinition(name: "split", accepts: ["start"], sends: ["work"]),
            StepDefinition(name: "a", accepts: ["work"], sends: ["stop"]),
            StepDefinition(name: "b", accepts: ["work"], sends: ["stop"]),
        ])
        _ = try router.deliver("start", payload: [])
        #expect(try router.deliver("work", payload: bytes("w")).map(\.step) == [1, 2])
    }

    @Test func fanOutRespectsTheConcurrencyLimitInArrivalOrder() throws {
        var router = try router([
            StepDefinition(name: "split", accepts: ["start"], sends: ["item"]),
            StepDefinition(name: "work", accepts: ["item"], sends: ["stop"], concurrency: 2),
        ])
        _ = try router.deliver("start", payload: [])
        var started: [[UInt8]] = []
        for i in 0..<5 { started += try router.deliver("item", payload: bytes("\(i)")).flatMap(\.inputs) }
        #expect(started == [bytes("0"), bytes("1")])
        started += try router.finished(step: 1).flatMap(\.inputs)
        started += try router.finished(step: 1).flatMap(\.inputs)
        #expect(started == [bytes("0"), bytes("1"), bytes("2"), bytes("3")])
        started += try router.finished(step: 1).flatMap(\.inputs)
        #expect(started.last == bytes("4"))
        // Items 3 and 4 are running; when both end, only the split step is left.
        for _ in 0..<2 { #expect(try router.finished(step: 1).isEmpty) }
        #expect(!router.isIdle)
        _ = try router.finished(step: 0)
        #expect(router.isIdle)
    }

    @Test func unlimitedConcurrencyStartsEverything() throws {
        var router = try router([
            StepDefinition(name: "split", accepts: ["start"], sends: ["item"]),
            StepDefinition(name: "work", accepts: ["item"], sends: ["stop"], concurrency: 0),
        ])
        _ = try router.deliver("start", payload: [])
        let started = try (0..<50).flatMap { i in try router.deliver("item", payload: bytes("\(i)")) }
        #expect(started.count == 50)
    }

    @Test func fanInGathersItsCountIntoOneInvocation() throws {
        var router = try router([
            StepDefinition(name: "split", accepts: ["start"], sends: ["part"]),
            StepDefinition(name: "join", accepts: ["part"], sends: ["stop"], collect: 3),
        ])
        _ = try router.deliver("start", payload: [])
        _ = try router.finished(step: 0)
        #expect(try router.deliver("part", payload: bytes("a")).isEmpty)
        #expect(try router.deliver("part", payload: bytes("b")).isEmpty)
        #expect(router.isIdle && router.incompleteFanIns.map(\.have) == [2])
        let joined = try router.deliver("part", payload: bytes("c"))
        #expect(joined == [Invocation(step: 1, eventType: "part", inputs: [bytes("a"), bytes("b"), bytes("c")])])
        #expect(router.incompleteFanIns.isEmpty)
    }

    @Test func aListIntoAFanInMakesInvocationsOfExactlyItsCount() throws {
        var router = try router([
            StepDefinition(name: "split", accepts: ["start"], sends: ["part"]),
            StepDefinition(name: "join", accepts: ["part"], sends: ["stop"], concurrency: 0, collect: 2),
        ])
        _ = try router.deliver("start", payload: [])
        _ = try router.finished(step: 0)
        // Five items at once (a list): two invocations of two, and one item left waiting.
        let joined = try router.deliver("part", payloads: ["a", "b", "c", "d", "e"].map(bytes))
        #expect(joined.map(\.inputs) == [[bytes("a"), bytes("b")], [bytes("c"), bytes("d")]])
        #expect(router.incompleteFanIns.map(\.have) == [1])
        #expect(try router.deliver("part", payload: bytes("f")).map(\.inputs) == [[bytes("e"), bytes("f")]])
        #expect(router.incompleteFanIns.isEmpty)
    }

    @Test func aRunawayLoopEndsAtTheBudget() throws {
        var router = try router([
            StepDefinition(name: "loop", accepts: ["start", "again"], sends: ["again", "stop"]),
        ], budget: 3)
        _ = try router.deliver("start", payload: [])
        _ = try router.finished(step: 0)
        _ = try router.deliver("again", payload: [])
        _ = try router.finished(step: 0)
        _ = try router.deliver("again", payload: [])
        _ = try router.finished(step: 0)
        #expect {
            try router.deliver("again", payload: [])
        } throws: { error in
            (error as? RillflowError)?.message == "the run's step budget of 3 invocations is used up (a loop that never ends?); step 'loop' would have run next"
        }
    }

    @Test func misuseIsReported() throws {
        var router = try router([StepDefinition(name: "only", accepts: ["start"], sends: ["stop"])])
        #expect(throws: RillflowError.self) { try router.deliver("stop", payload: []) }
        #expect { try router.deliver("nope", payload: []) } throws: { ($0 as? RillflowError)?.code == .notFound }
        #expect { try router.finished(step: 0) } throws: { ($0 as? RillflowError)?.code == .internal }
    }
}
