import Testing
@testable import RillflowCore

@Suite struct WorkflowDefinitionTests {
    private func build(_ steps: [StepDefinition]) throws(RillflowError) -> WorkflowDefinition {
        try WorkflowDefinition(name: "w", steps: steps)
    }

    private func failure(_ steps: [StepDefinition]) -> String {
        do {
            _ = try build(steps)
            return "built"
        } catch {
            return error.message
        }
    }

    @Test func validShapesBuild() throws {
        // Chain: start -> one -> two -> stop
        let chain = try build([
            StepDefinition(name: "one", accepts: ["start"], sends: ["first"]),
            StepDefinition(name: "two", accepts: ["first"], sends: ["stop"]),
        ])
        #expect(chain.acceptors["start"] == [0] && chain.acceptors["first"] == [1])
        // Branch, loop and fan-out/fan-in together.
        let mixed = try build([
            StepDefinition(name: "route", accepts: ["start"], sends: ["left", "right"]),
            StepDefinition(name: "left", accepts: ["left", "again"], sends: ["again", "item"]),
            StepDefinition(name: "right", accepts: ["right"], sends: ["item"], concurrency: 0),
            StepDefinition(name: "join", accepts: ["item"], sends: ["stop"]),
        ])
        #expect(mixed.acceptors["item"] == [3] && mixed.acceptors["again"] == [1])
        #expect(mixed.steps.count == 4)
    }

    @Test func eachProblemIsNamed() {
        #expect(failure([]) == "workflow 'w' has no steps")
        #expect(failure([
            StepDefinition(name: "a", accepts: ["start"], sends: ["stop"]),
            StepDefinition(name: "a", accepts: ["start"], sends: ["stop"]),
        ]) == "duplicate step name 'a'")
        #expect(failure([
            StepDefinition(name: "a", accepts: ["start"], sends: ["stop"]),
            StepDefinition(name: "b", accepts: ["begin"], sends: ["stop"]),
        ]) == "unknown event type 'begin': step 'b' accepts it but no step sends it")
        #expect(failure([
            StepDefinition(name: "a", accepts: ["start"], sends: ["stop", "x"]),
        ]) == "event type 'x' sent by step 'a' is accepted by no step")
        #expect(failure([
            StepDefinition(name: "a", accepts: ["other"], sends: ["other", "stop"]),
        ]) == "no step accepts the start event 'start'")
        #expect(failure([
            StepDefinition(name: "a", accepts: ["start"], sends: ["stop"]),
            StepDefinition(name: "island", accepts: ["ping"], sends: ["ping"]),
        ]) == "step 'island' can never run: no path of events from 'start' reaches it")
        #expect(failure([StepDefinition(name: "a", accepts: ["start"], sends: [])])
            == "no step sends the stop event 'stop': the workflow could never complete")
        #expect(failure([StepDefinition(name: "", accepts: ["start"], sends: ["stop"])]).contains("step name '' must be 1 to 255 bytes"))
        #expect(failure([StepDefinition(name: "a", accepts: ["start", "stop"], sends: ["stop"])])
            == "step 'a' accepts the stop event, which ends the run instead")
        #expect(failure([StepDefinition(name: "a", accepts: ["start"], sends: ["stop"], concurrency: -1)]).contains("concurrency is -1"))
        #expect(failure([StepDefinition(name: "a", accepts: ["start"], sends: ["stop"], foreachDone: "done")])
            == "step 'a' sends its foreach outputs as 'done' but does not declare that it sends it")
        #expect(failure([
            StepDefinition(name: "a", accepts: ["start"], sends: ["x"]),
            StepDefinition(name: "b", accepts: ["x"], sends: ["stop"], collect: 2, foreachDone: "stop"),
        ]) == "step 'b' cannot both run per item (foreach) and gather events (collect)")
        #expect(failure([StepDefinition(name: "a", accepts: ["start"], sends: ["stop"],
                                        retry: RetryPolicy(attempts: 0, initialBackoffNanoseconds: 0, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0))])
            .contains("retry attempts is 0"))
    }

    @Test func backoffGrowsAndIsCapped() {
        let policy = RetryPolicy(attempts: 5, initialBackoffNanoseconds: 100, multiplier: 2, maxBackoffNanoseconds: 350, jitter: 0)
        #expect((1...4).map { policy.backoff(afterAttempt: $0, unit: 0.5) } == [100, 200, 350, 350])
        let jittered = RetryPolicy(attempts: 2, initialBackoffNanoseconds: 1000, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0.5)
        #expect(jittered.backoff(afterAttempt: 1, unit: 0) == 500)
        #expect(jittered.backoff(afterAttempt: 1, unit: 0.999_999) >= 1499)
        // Uncapped, the largest multiplier over the most tries passes Int64 and then Double.
        let huge = RetryPolicy(attempts: 1000, initialBackoffNanoseconds: 1_000_000, multiplier: 100, maxBackoffNanoseconds: 0, jitter: 1)
        for attempt in [7, 8, 9, 200, 999] {
            #expect(huge.backoff(afterAttempt: attempt, unit: 0.999_999) == RetryPolicy.longestBackoffNanoseconds)
        }
    }
}
