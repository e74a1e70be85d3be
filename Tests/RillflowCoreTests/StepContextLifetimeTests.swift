import Synchronization
import TestSupport
import Testing
@testable import RillflowCore

/// A try that outlives its timeout ends there, but its context (what the C layer lends as a
/// handle, with its input) stays until the code running it lets go: its function returns, and
/// a pending or host-run step is completed.
@Suite struct StepContextLifetimeTests {
    /// Counts how often the context's release hooks ran (the C layer retires its handle there).
    final class Releases: Sendable {
        let count = Atomic<Int>(0)
        let flag = Flag()
        var value: Int { count.load(ordering: .acquiring) }
        func watch(_ context: StepContext) -> Bool {
            context.whenReleased {
                self.count.add(1, ordering: .releasing)
                self.flag.raise()
            }
        }
    }

    /// Starts a run of one step "slow" (start -> stop) run by `function` on `runtime`, with a
    /// subscription from its start.
    private func startOneStep(_ function: @escaping StepFunction, timeoutMilliseconds: Int64, runsOnHost: Bool,
                              input: [UInt8] = [], on runtime: TestRuntime) throws -> Subscription {
        let definition = try WorkflowDefinition(name: "slow", steps: [
            StepDefinition(name: "slow", accepts: ["start"], sends: ["stop"],
                           timeoutNanoseconds: timeoutMilliseconds * 1_000_000, runsOnHost: runsOnHost),
        ])
        let run = Run(engine: LogTest.engine(), workflowName: "slow")
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        try runtime.execution(definition, [function], run: run).start(input: input)
        return subscription
    }

    private func expectCancelled(_ context: StepContext) {
        #expect(context.isCancelled)
        do throws(RillflowError) {
            _ = try context.emit(.token, data: Array("late".utf8))
            Issue.record("an emit after the try timed out was accepted")
        } catch {
            #expect(error.code == .cancelled)
        }
        #expect(throws: RillflowError.self) { try context.send("stop", []) }
    }

    @Test func aHostRunTryThatTimesOutIsHeldUntilTheHostCompletesIt() throws {
        let queue = try HostTaskQueue()
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let subscription = try startOneStep(queue.stepFunction, timeoutMilliseconds: 20, runsOnHost: true,
                                            input: Array("input".utf8), on: runtime)
        let task = try #require(try queue.take(timeoutMilliseconds: 5_000))
        let releases = Releases()
        #expect(releases.watch(task))
        let input = task.nulTerminatedInput(0)

        // The host is still "working" when the try times out and the run fails.
        let kinds = LogTest.drain(subscription).map(\.kind)
        #expect(kinds == [.runStarted, .stepStarted, .stepFailed, .runFailed])
        #expect(releases.value == 0)
        #expect(Array(input) == Array("input".utf8))  // still the context's memory
        expectCancelled(task)

        try task.complete(.completed)  // accepted and ignored: the host lets go
        #expect(releases.value == 1)
        #expect(throws: RillflowError.self) { try task.complete(.completed) }
        #expect(releases.value == 1)
    }

    @Test func aTaskWhoseTryTimedOutBeforeAnyHostTookItIsNotHandedOut() throws {
        let queue = try HostTaskQueue()
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let subscription = try startOneStep(queue.stepFunction, timeoutMilliseconds: 1, runsOnHost: true, on: runtime)
        #expect(LogTest.drain(subscription).last?.kind == .runFailed)
        let task = try #require(try queue.take(timeoutMilliseconds: 0))
        #expect(!Releases().watch(task))  // what StepContexts.open checks: nothing to run
    }

    @Test func aPendingStepThatTimesOutIsHeldUntilItIsCompleted() throws {
        final class Kept: @unchecked Sendable { var context: StepContext? }
        let kept = Kept()
        let releases = Releases()
        let handedOver = Flag()
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let goesOnElsewhere: StepFunction = { context in
            _ = releases.watch(context)
            kept.context = context
            handedOver.raise()
            return .pending
        }
        let subscription = try startOneStep(goesOnElsewhere, timeoutMilliseconds: 20, runsOnHost: false, on: runtime)
        #expect(handedOver.wait(milliseconds: 10_000))
        #expect(LogTest.drain(subscription).map(\.kind) == [.runStarted, .stepStarted, .stepFailed, .runFailed])
        let context = try #require(kept.context)
        #expect(releases.value == 0)
        expectCancelled(context)
        try context.complete(.failed("gave up"))
        #expect(releases.value == 1)
    }

    @Test func aCallbackStillRunningWhenItsTryTimesOutHoldsItUntilItReturns() throws {
        final class Seen: @unchecked Sendable { var emitError: RillflowError? }
        let seen = Seen()
        let releases = Releases()
        let mayReturn = Flag()
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let outlivesItsTimeout: StepFunction = { context in
            _ = releases.watch(context)
            _ = mayReturn.wait(milliseconds: 10_000)
            do throws(RillflowError) { _ = try context.emit(.token, data: Array("late".utf8)) } catch { seen.emitError = error }
            return .completed
        }
        let subscription = try startOneStep(outlivesItsTimeout, timeoutMilliseconds: 20, runsOnHost: false, on: runtime)
        #expect(LogTest.drain(subscription).map(\.kind) == [.runStarted, .stepStarted, .stepFailed, .runFailed])
        #expect(releases.value == 0)
        mayReturn.raise()
        #expect(releases.flag.wait(milliseconds: 10_000))
        runtime.pool.shutdown()  // joins the worker: what it saw is written before it is read here
        #expect(seen.emitError?.code == .cancelled)
        #expect(releases.value == 1)
    }
}
