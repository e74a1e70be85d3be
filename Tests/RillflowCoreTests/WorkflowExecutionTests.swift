import Synchronization
import TestSupport
import Testing
@testable import RillflowCore

/// Runs of real workflows on a worker pool, checked through their event streams.
@Suite struct WorkflowExecutionTests {
    /// Runs `steps` with `functions` on `input` and returns every event of the run, in order.
    static func run(_ steps: [StepDefinition], _ functions: [StepFunction], input: String = "in",
                    threads: Int = 4, budget: Int = 1000, engine: Engine = LogTest.engine(logCapacity: 1 << 20)) throws -> (events: [LogTest.Seen], run: Run) {
        let definition = try WorkflowDefinition(name: "test", steps: steps)
        let runtime = try TestRuntime(threads: threads)
        defer { runtime.shutdown() }
        let run = Run(engine: engine, workflowName: "test")
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        let execution = try runtime.execution(definition, functions, run: run, stepBudget: budget)
        try execution.start(input: Array(input.utf8))
        let events = LogTest.drain(subscription)
        return (events, run)
    }

    @Test func chainStreamsTokensStateAndResult() throws {
        let (events, run) = try Self.run([
            StepDefinition(name: "one", accepts: ["start"], sends: ["first"]),
            StepDefinition(name: "two", accepts: ["first"], sends: ["second"]),
            StepDefinition(name: "three", accepts: ["second"], sends: ["stop"]),
        ], [
            { ctx in
                #expect(ctx.inputs == [Array("in".utf8)])
                _ = try? ctx.emit(.custom, topic: "progress", data: Array(#"{"msg":"one"}"#.utf8))
                try? ctx.send("first", Array("a".utf8))
                return .completed
            },
            { ctx in
                for (i, token) in ["Hel", "lo", "!"].enumerated() {
                    _ = try? ctx.emit(.token, data: Array(token.utf8), tokenIndex: UInt64(i))
                }
                try? ctx.setState("greeting", json: Array(#""Hello!""#.utf8))
                try? ctx.send("second", Array("b".utf8))
                return .completed
            },
            { ctx in
                #expect((try? ctx.state("greeting")) == Array(#""Hello!""#.utf8))
                try? ctx.stop(result: Array(#"{"text":"Hello!"}"#.utf8))
                return .completed
            },
        ])
        // Sends take effect when the sender completes, so the timeline reads step by step.
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .custom, .stepCompleted, .stepStarted, .token, .token, .token,
                                       .stateChanged, .stepCompleted, .stepStarted, .stepCompleted, .runCompleted])
        #expect(events.filter { $0.kind == .token }.map(\.data).joined() == "Hello!")
        #expect(events.first { $0.kind == .stateChanged }?.data == #"{"key":"greeting","value":"Hello!"}"#)
        #expect(events.last?.kind == .runCompleted)
        #expect(events.last?.data == #"{"result":{"text":"Hello!"},"usage":{"input_tokens":0,"output_tokens":0,"total_tokens":0,"reasoning_tokens":0,"cached_input_tokens":0}}"#)
        #expect(run.status == .completed)
    }

    @Test func fanOutHonoursTheLimitAndFanInGathersEverything() throws {
        final class Gauge: Sendable {
            let now = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
        }
        let gauge = Gauge()
        let (events, run) = try Self.run([
            StepDefinition(name: "split", accepts: ["start"], sends: ["item"]),
            StepDefinition(name: "work", accepts: ["item"], sends: ["done"], concurrency: 2),
            StepDefinition(name: "join", accepts: ["done"], sends: ["stop"], collect: 20),
        ], [
            { ctx in
                for i in 0..<20 { try? ctx.send("item", Array("\(i)".utf8)) }
                return .completed
            },
            { ctx in
                let running = gauge.now.add(1, ordering: .relaxed).newValue
                var peak = gauge.peak.load(ordering: .relaxed)
                while running > peak, !gauge.peak.compareExchange(expected: peak, desired: running, ordering: .relaxed).exchanged {
                    peak = gauge.peak.load(ordering: .relaxed)
                }
                try? ctx.send("done", ctx.inputs[0])
                gauge.now.subtract(1, ordering: .relaxed)
                return .completed
            },
            { ctx in
                let sum = ctx.inputs.map { Int(String(decoding: $0, as: UTF8.self))! }.reduce(0, +)
                try? ctx.stop(result: Array("\(sum)".utf8))
                return .completed
            },
        ])
        #expect(gauge.peak.load(ordering: .relaxed) <= 2, "never more than the step's concurrency limit")
        #expect(events.filter { $0.kind == .stepStarted && $0.step == "work" }.count == 20)
        #expect(events.last?.data.hasPrefix(#"{"result":190,"usage":"#) == true)
        #expect(run.status == .completed)
    }

    @Test func failedTriesAreRetriedThenSucceed() throws {
        final class Tries: Sendable { let count = Atomic<Int>(0) }
        let tries = Tries()
        let retry = RetryPolicy(attempts: 3, initialBackoffNanoseconds: 1_000_000, multiplier: 2, maxBackoffNanoseconds: 0, jitter: 0)
        let (events, run) = try Self.run([
            StepDefinition(name: "flaky", accepts: ["start"], sends: ["stop"], retry: retry),
        ], [
            { ctx in
                if tries.count.add(1, ordering: .relaxed).newValue < 3 { return .failed("try \(ctx.attempt) failed") }
                try? ctx.stop(result: Array("\(ctx.attempt)".utf8))
                return .completed
            },
        ])
        let retrying = events.filter { $0.kind == .stepRetrying }
        #expect(retrying.map(\.attempt) == [1, 2])
        #expect(retrying.map(\.data) == [#"{"error":"try 1 failed","backoff_ns":1000000}"#, #"{"error":"try 2 failed","backoff_ns":2000000}"#])
        #expect(events.last?.data.hasPrefix(#"{"result":3,"usage":"#) == true)
        #expect(run.status == .completed)
    }

    @Test func aStepThatKeepsFailingFailsTheRun() throws {
        let retry = RetryPolicy(attempts: 2, initialBackoffNanoseconds: 1_000, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0)
        let (events, run) = try Self.run([
            StepDefinition(name: "broken", accepts: ["start"], sends: ["stop"], retry: retry),
        ], [{ _ in .failed("boom") }])
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepRetrying, .stepStarted, .stepFailed, .runFailed])
        #expect(events.first { $0.kind == .stepFailed }?.data == #"{"error":"boom","attempts":2}"#)
        let failed = try #require(events.last)
        #expect(failed.data.hasPrefix(#"{"step":"broken","error":"boom","attempts":2,"elapsed_ns":"#))
        #expect(run.status == .failed)
    }

    @Test func retriesCountAgainstTheStepBudget() throws {
        let retry = RetryPolicy(attempts: 10, initialBackoffNanoseconds: 1_000, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0)
        let (events, run) = try Self.run([
            StepDefinition(name: "flaky", accepts: ["start"], sends: ["stop"], retry: retry),
        ], [{ _ in .failed("boom") }], budget: 3)
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepRetrying, .stepStarted, .stepRetrying, .stepStarted,
                                       .stepFailed, .runFailed])
        #expect(events.last?.data.contains("step budget of 3 invocations is used up") == true)
        #expect(run.status == .failed)
    }

    @Test func aRunThatGoesIdleWithoutStoppingFails() throws {
        let (events, run) = try Self.run([
            StepDefinition(name: "forgetful", accepts: ["start"], sends: ["part"]),
            StepDefinition(name: "join", accepts: ["part"], sends: ["stop"], collect: 2),
        ], [
            { ctx in try? ctx.send("part", []); return .completed },
            { _ in .completed },
        ])
        #expect(events.last?.kind == .runFailed)
        #expect(events.last?.data.contains("the workflow went idle without sending 'stop' (step 'join' has 1 of 2 'part' events)") == true)
        #expect(run.status == .failed)
    }

    @Test func aStartEventThatStartsNothingFailsTheRun() throws {
        // The only step accepting "start" gathers two: nothing ever runs, and nothing else
        // would ever notice.
        let (events, run) = try Self.run([
            StepDefinition(name: "pair", accepts: ["start"], sends: ["stop"], collect: 2),
        ], [{ _ in .completed }])
        #expect(events.map(\.kind) == [.runStarted, .runFailed])
        #expect(events.last?.data.contains("went idle without sending 'stop' (step 'pair' has 1 of 2 'start' events)") == true)
        #expect(run.status == .failed)
    }

    @Test func anAnswerThatStartsNothingFailsTheRun() throws {
        let definition = try WorkflowDefinition(name: "vote", steps: [
            StepDefinition(name: "ask", accepts: ["start"], sends: ["vote"]),
            StepDefinition(name: "tally", accepts: ["vote"], sends: ["stop"], collect: 2),
        ])
        let runtime = try TestRuntime(threads: 2)
        defer { runtime.shutdown() }
        let run = Run(engine: LogTest.engine(), workflowName: "vote")
        let question = try Subscription(log: run.log, options: SubscriptionOptions(mode: .values, endAtSuspension: true))
        let whole = try Subscription(log: run.log, options: SubscriptionOptions())
        let execution = try runtime.execution(definition, [
            { ctx in
                try? ctx.requestInput(prompt: [], answerType: "vote")
                return .completed
            },
            { _ in .completed },
        ], run: run)
        try execution.start(input: [])
        #expect(LogTest.drain(question).map(\.kind) == [.inputRequired])
        try execution.resume(answer: Array("1".utf8))  // one vote of the two the tally needs
        let events = LogTest.drain(whole)
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepCompleted, .inputRequired, .runResumed, .runFailed])
        #expect(events.last?.data.contains("step 'tally' has 1 of 2 'vote' events") == true)
    }

    @Test func aRunawayLoopEndsAtTheStepBudget() throws {
        let (events, run) = try Self.run([
            StepDefinition(name: "loop", accepts: ["start", "again"], sends: ["again", "stop"]),
        ], [{ ctx in try? ctx.send("again", []); return .completed }], budget: 25)
        #expect(events.filter { $0.kind == .stepStarted }.count == 25)
        #expect(events.last?.kind == .runFailed)
        #expect(events.last?.data.contains("step budget of 25") == true)
        #expect(run.status == .failed)
    }

    @Test func undeclaredSendsAndStaleContextsAreRefused() throws {
        final class Kept: @unchecked Sendable { var context: StepContext?; var error: RillflowError? }
        let kept = Kept()
        let (_, run) = try Self.run([
            StepDefinition(name: "a", accepts: ["start"], sends: ["stop"]),
        ], [
            { ctx in
                do throws(RillflowError) { try ctx.send("elsewhere", []) } catch { kept.error = error }
                kept.context = ctx
                try? ctx.stop(result: [])
                return .completed
            },
        ])
        #expect(kept.error?.message == "step 'a' did not declare that it sends 'elsewhere'")
        let context = try #require(kept.context)
        #expect(throws: RillflowError.self) { try context.emit(.token, data: []) }
        #expect(run.status == .completed)
    }

    /// A workflow whose one step runs until the run ends (at most 5 s), for cancel and timeout.
    static func startLongRun(timeout: Int64? = nil) throws -> (WorkflowExecution, Subscription, TestRuntime) {
        let definition = try WorkflowDefinition(name: "long", steps: [StepDefinition(name: "slow", accepts: ["start"], sends: ["stop"])])
        let runtime = try TestRuntime(threads: 2)
        let run = Run(engine: LogTest.engine(), workflowName: "long")
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        let execution = try runtime.execution(definition, [{ ctx in
            let giveUp = Deadline(milliseconds: 5_000)
            while !ctx.isCancelled && !giveUp.hasPassed {}
            return ctx.isCancelled ? .completed : .failed("never cancelled")
        }], run: run)
        try execution.start(input: [], timeoutNanoseconds: timeout)
        return (execution, subscription, runtime)
    }

    /// A run that ended does not stay in memory until its timeout (or a retry) would have come.
    @Test func anEndedRunIsNotKeptByItsPendingTimers() throws {
        let definition = try WorkflowDefinition(name: "quick", steps: [StepDefinition(name: "done", accepts: ["start"], sends: ["stop"])])
        let runtime = try TestRuntime(threads: 2)
        weak var released: WorkflowExecution?
        do {
            let run = Run(engine: LogTest.engine(), workflowName: "quick")
            let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
            let execution = try runtime.execution(definition, [{ ctx in
                try? ctx.stop(result: [])
                return .completed
            }], run: run)
            released = execution
            try execution.start(input: [], timeoutNanoseconds: 3_600_000_000_000)
            #expect(LogTest.drain(subscription).last?.kind == .runCompleted)
        }
        runtime.pool.shutdown()  // its threads may still be finishing the last step's work
        #expect(released == nil, "the hour-long run timeout still holds the execution")
        runtime.delays.shutdown()
    }

    @Test func cancellingEndsTheRunAndRunningStepsSeeIt() throws {
        let (execution, subscription, runtime) = try Self.startLongRun()
        // Wait until the step runs, then cancel.
        let before = LogTest.drain(subscription, batch: 1, until: { $0.kind == .stepStarted })
        #expect(before.last?.kind == .stepStarted)
        #expect(execution.cancel(reason: "user"))
        #expect(!execution.cancel(reason: "again"))
        let rest = LogTest.drain(subscription)
        runtime.shutdown()
        #expect(rest.last?.kind == .runCancelled)
        #expect(rest.last?.data == #"{"reason":"user"}"#)
        #expect(execution.run.status == .cancelled)
    }

    @Test func aRunPastItsTimeoutEndsNamingTheActiveSteps() throws {
        let (execution, subscription, runtime) = try Self.startLongRun(timeout: 20_000_000)
        let events = LogTest.drain(subscription)
        runtime.shutdown()
        // A busy machine may not start the step before the timeout (the run then ends without
        // its STEP_STARTED, and the step never runs); a started step's completion may be
        // claimed just before the terminal event. Either way the step counts as active.
        #expect(events.map(\.kind).filter { $0 != .stepStarted && $0 != .stepCompleted } == [.runStarted, .runTimedOut])
        #expect(events.last?.data == #"{"timeout_ns":20000000,"active_steps":["slow"]}"#)
        #expect(execution.run.status == .timedOut)
    }

    @Test func tokenUsageIsSummedIntoTheResult() throws {
        let (events, _) = try Self.run([
            StepDefinition(name: "draft", accepts: ["start"], sends: ["drafted"]),
            StepDefinition(name: "polish", accepts: ["drafted"], sends: ["stop"]),
        ], [
            { ctx in
                try? ctx.reportUsage(TokenUsage(input: 10, output: 20, total: 30, reasoning: 5, cachedInput: 2))
                try? ctx.send("drafted", [])
                return .completed
            },
            { ctx in
                try? ctx.reportUsage(TokenUsage(input: 1, output: 2, total: 3))
                try? ctx.stop(result: Array("true".utf8))
                return .completed
            },
        ])
        #expect(events.last?.data == #"{"result":true,"usage":{"input_tokens":11,"output_tokens":22,"total_tokens":33,"reasoning_tokens":5,"cached_input_tokens":2}}"#)
    }

    @Test func aPendingStepCompletesLaterFromAnotherThread() throws {
        final class Handoff: @unchecked Sendable {
            var thread: TestThread?
            var misuse: [RillflowError] = []
        }
        let handoff = Handoff()
        let (events, run) = try Self.run([
            StepDefinition(name: "async", accepts: ["start"], sends: ["stop"]),
        ], [
            { ctx in
                do throws(RillflowError) { try ctx.complete(.pending) } catch { handoff.misuse.append(error) }
                handoff.thread = TestThread {
                    // Completes only once the function has returned .pending.
                    let giveUp = Deadline(milliseconds: 5_000)
                    while !ctx.isPending && !giveUp.hasPassed {}
                    _ = try? ctx.emit(.token, data: Array("late".utf8))
                    try? ctx.stop(result: Array("\"done\"".utf8))
                    try? ctx.complete(.completed)
                    do throws(RillflowError) { try ctx.complete(.completed) } catch { handoff.misuse.append(error) }
                }
                return .pending
            },
        ])
        handoff.thread?.join()
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .token, .stepCompleted, .runCompleted])
        #expect(events.last?.data.hasPrefix(#"{"result":"done""#) == true)
        #expect(handoff.misuse.map(\.code) == [.invalidArgument, .invalidState])
        #expect(run.status == .completed)
    }

    @Test func aCompletionBeforeThePendingReturnIsKept() throws {
        let retry = RetryPolicy(attempts: 2, initialBackoffNanoseconds: 1_000, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0)
        let (events, run) = try Self.run([
            StepDefinition(name: "quick", accepts: ["start"], sends: ["stop"], retry: retry),
        ], [
            { ctx in
                // The first try fails, the second succeeds: both complete before returning .pending.
                if ctx.attempt == 1 {
                    try? ctx.complete(.failed("first try"))
                } else {
                    try? ctx.stop(result: Array("2".utf8))
                    try? ctx.complete(.completed)
                }
                return .pending
            },
        ])
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepRetrying, .stepStarted, .stepCompleted, .runCompleted])
        #expect(run.status == .completed)
    }

    @Test func aRunWaitsForHumanInputAndResumes() throws {
        let definition = try WorkflowDefinition(name: "approval", steps: [
            StepDefinition(name: "ask", accepts: ["start"], sends: ["answer"]),
            StepDefinition(name: "decide", accepts: ["answer"], sends: ["stop"]),
        ])
        let runtime = try TestRuntime(threads: 2)
        defer { runtime.shutdown() }
        let run = Run(engine: LogTest.engine(), workflowName: "approval")
        // One watcher's stream ends at the suspension (with Values mode, it still gets the
        // input-required event it ends on); another stays open to the end.
        let untilQuestion = try Subscription(log: run.log, options: SubscriptionOptions(mode: .values, endAtSuspension: true))
        let whole = try Subscription(log: run.log, options: SubscriptionOptions())
        let execution = try runtime.execution(definition, [
            { ctx in
                do throws(RillflowError) { try ctx.requestInput(prompt: [], answerType: "elsewhere") } catch {
                    #expect(error.message == "step 'ask' did not declare that it sends 'elsewhere', the answer's event type")
                }
                try? ctx.requestInput(prompt: Array(#"{"question":"ship it?"}"#.utf8), answerType: "answer")
                return .completed
            },
            { ctx in
                try? ctx.stop(result: ctx.inputs[0])
                return .completed
            },
        ], run: run)
        #expect { try execution.resume(answer: []) } throws: { ($0 as? RillflowError)?.code == .invalidState }
        try execution.start(input: [])

        let question = LogTest.drain(untilQuestion)
        #expect(question.map(\.kind) == [.inputRequired])
        #expect(question.first?.data == #"{"prompt":{"question":"ship it?"}}"#)
        // The question is in the log before the status says suspended: wait for it.
        #expect(run.wait(milliseconds: 10_000) { $0 == .suspended } == .suspended)

        try execution.resume(answer: Array(#""yes""#.utf8))
        #expect { try execution.resume(answer: []) } throws: { ($0 as? RillflowError)?.code == .invalidState }
        let events = LogTest.drain(whole)
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepCompleted, .inputRequired, .runResumed,
                                       .stepStarted, .stepCompleted, .runCompleted])
        #expect(events.last?.data.hasPrefix(#"{"result":"yes""#) == true)
        #expect(run.status == .completed)
    }

    @Test func anAnswerThatComesTheMomentTheRunIsSuspendedIsNeverLost() throws {
        // The answering thread resumes as soon as the status says suspended: while the asking
        // step may still be ending. Its end must not find the run idle, with the question
        // answered but the answer's step not yet counted, and the question's event must come
        // before the answer's. And the moment the status says suspended, the question is in the
        // log: a read that does not wait finds it.
        let definition = try WorkflowDefinition(name: "quick answer", steps: [
            StepDefinition(name: "ask", accepts: ["start"], sends: ["answer"]),
            StepDefinition(name: "finish", accepts: ["answer"], sends: ["stop"]),
        ])
        let runtime = try TestRuntime(threads: 2)
        defer { runtime.shutdown() }
        for _ in 0..<300 {
            let run = Run(engine: LogTest.engine(), workflowName: "quick answer")
            let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
            let questions = try Subscription(log: run.log, options: SubscriptionOptions(mode: .custom, customKinds: KindSet([.inputRequired])))
            let execution = try runtime.execution(definition, [
                { ctx in
                    try? ctx.requestInput(prompt: Array("1".utf8), answerType: "answer")
                    return .completed
                },
                { ctx in
                    try? ctx.stop(result: ctx.inputs[0])
                    return .completed
                },
            ], run: run)
            try execution.start(input: [])
            let giveUp = Deadline(milliseconds: 10_000)
            while run.status != .suspended && !giveUp.hasPassed {}
            var asked: [EventKind] = []
            _ = try? questions.read(limit: 8, timeoutMilliseconds: 0) { view in asked.append(view.kind); return true }
            #expect(asked == [.inputRequired], "suspended, but the question was not in the log")
            try execution.resume(answer: Array("2".utf8))
            let kinds = LogTest.drain(subscription).map(\.kind).filter { $0 != .stepStarted && $0 != .stepCompleted }
            #expect(kinds == [.runStarted, .inputRequired, .runResumed, .runCompleted])
            if kinds.last != .runCompleted || asked != [.inputRequired] { break }
        }
    }

    @Test func aResultTooLargeToRecordStillEndsTheRun() throws {
        // The test engine allows 4 KiB of event data.
        let (events, run) = try Self.run([
            StepDefinition(name: "big", accepts: ["start"], sends: ["stop"]),
        ], [{ ctx in
            try? ctx.stop(result: Array("\"\(String(repeating: "x", count: 5000))\"".utf8))
            return .completed
        }])
        #expect(events.last?.kind == .runFailed)
        #expect(events.last?.data.contains("the run's result could not be recorded") == true)
        #expect(run.status == .failed)
    }

    @Test func aTryPastItsTimeoutFailsAndIsRetried() throws {
        let retry = RetryPolicy(attempts: 2, initialBackoffNanoseconds: 1_000, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0)
        let (events, run) = try Self.run([
            StepDefinition(name: "slow", accepts: ["start"], sends: ["stop"], timeoutNanoseconds: 20_000_000, retry: retry),
        ], [{ ctx in
            // Runs until told to stop; what it does after its deadline is ignored.
            let giveUp = Deadline(milliseconds: 5_000)
            while !ctx.isCancelled && !giveUp.hasPassed {}
            try? ctx.stop(result: Array("1".utf8))
            return .completed
        }])
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepRetrying, .stepStarted, .stepFailed, .runFailed])
        #expect(events[2].data == #"{"error":"step 'slow' timed out after 20 ms","backoff_ns":1000}"#)
        #expect(run.status == .failed)
    }

    @Test func foreachRunsPerItemWithProgressAndOrderedOutputs() throws {
        let (events, run) = try Self.run([
            StepDefinition(name: "list", accepts: ["start"], sends: ["items"]),
            StepDefinition(name: "each", accepts: ["items"], sends: ["results"], concurrency: 2, foreachDone: "results"),
            StepDefinition(name: "sum", accepts: ["results"], sends: ["stop"]),
        ], [
            { ctx in
                try? ctx.sendEach("items", items: (0..<5).map { Array("\($0)".utf8) })
                return .completed
            },
            { ctx in
                let value = Int(String(decoding: ctx.inputs[0], as: UTF8.self))!
                // Later items finish first half the time: the outputs still arrive in item order.
                if value % 2 == 0 { for _ in 0..<(5 - value) * 20_000 { _ = ctx.isCancelled } }
                try? ctx.setOutput(Array("\(value * 10)".utf8))
                return .completed
            },
            { ctx in
                let joined = ctx.inputs.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",")
                try? ctx.stop(result: Array("[\(joined)]".utf8))
                return .completed
            },
        ])
        let progress = events.filter { $0.kind == .progress }
        #expect(progress.count == 5)
        #expect(progress.allSatisfy { $0.step == "each" && $0.data.contains(#""total":5"#) && $0.data.contains(#""status":"success""#) })
        let completedCounts = progress.compactMap { event -> Int? in
            let parts = event.data.split(separator: #""completed":"#)
            return parts.count == 2 ? Int(parts[1].prefix { $0.isNumber }) : nil
        }
        #expect(completedCounts.sorted() == [1, 2, 3, 4, 5])
        #expect(progress.map { $0.data.contains(#""output":"#) }.allSatisfy { $0 })
        #expect(events.last?.data.hasPrefix(#"{"result":[0,10,20,30,40]"#) == true)
        #expect(run.status == .completed)
    }

    @Test func foreachOverNothingFailsClearly() throws {
        let (events, run) = try Self.run([
            StepDefinition(name: "list", accepts: ["start"], sends: ["items"]),
            StepDefinition(name: "each", accepts: ["items"], sends: ["results"], foreachDone: "results"),
            StepDefinition(name: "sum", accepts: ["results"], sends: ["stop"]),
        ], [
            { ctx in try? ctx.sendEach("items", items: []); return .completed },
            { _ in .completed },
            { _ in .completed },
        ])
        #expect(events.last?.data.contains("step 'each' runs per item but 'items' carried no items") == true)
        #expect(run.status == .failed)
    }
}
