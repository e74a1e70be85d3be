#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import RillflowCore

@Suite struct HostTaskQueueTests {
    private func isReadable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    @Test func theHostRunsStepsItTakesFromTheQueue() throws {
        let queue = try HostTaskQueue()
        let definition = try WorkflowDefinition(name: "hosted", steps: [
            StepDefinition(name: "draft", accepts: ["start"], sends: ["drafted"]),
            StepDefinition(name: "finish", accepts: ["drafted"], sends: ["stop"]),
        ])
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let run = Run(engine: LogTest.engine(), workflowName: "hosted")
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        let execution = try runtime.execution(definition, [queue.stepFunction, queue.stepFunction], run: run)
        #expect(!isReadable(queue.fileDescriptor))
        #expect(try queue.take(timeoutMilliseconds: 0) == nil)
        try execution.start(input: Array("x".utf8))

        // The host: this test's own thread, like a language's event loop.
        var handled: [String] = []
        while handled.count < 2 {
            guard let task = try queue.take(timeoutMilliseconds: 5_000) else { break }
            handled.append(task.step)
            if task.step == "draft" {
                _ = try task.emit(.token, data: Array("hi".utf8))
                try task.send("drafted", task.inputs[0])
            } else {
                try task.stop(result: Array(#""done""#.utf8))
            }
            try task.complete(.completed)
        }
        #expect(handled == ["draft", "finish"])
        let kinds = LogTest.drain(subscription).map(\.kind)
        #expect(kinds == [.runStarted, .stepStarted, .token, .stepCompleted, .stepStarted, .stepCompleted, .runCompleted])
        #expect(run.status == .completed)
        // Readable until a take finds the queue empty; then not, until the next task.
        #expect(try queue.take(timeoutMilliseconds: 0) == nil)
        #expect(!isReadable(queue.fileDescriptor))
    }

    @Test func aHostRunStepIsQueuedByTheThreadThatCompletesThePreviousOne() throws {
        let queue = try HostTaskQueue()
        let definition = try WorkflowDefinition(name: "inline", steps: [
            StepDefinition(name: "one", accepts: ["start"], sends: ["next"], runsOnHost: true),
            StepDefinition(name: "two", accepts: ["next"], sends: ["stop"], runsOnHost: true),
        ])
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let run = Run(engine: LogTest.engine(), workflowName: "inline")
        let execution = try runtime.execution(definition, [queue.stepFunction, queue.stepFunction], run: run)
        try execution.start(input: [])
        // Queued by start itself, on this thread: no worker hand-off.
        let first = try #require(try queue.take(timeoutMilliseconds: 0))
        try first.send("next", [])
        try first.complete(.completed)
        let second = try #require(try queue.take(timeoutMilliseconds: 0))
        #expect(second.step == "two")
        try second.stop(result: Array("1".utf8))
        try second.complete(.completed)
        #expect(run.status == .completed)
        #expect(run.outcome.map { Array($0.detail) } == Array("1".utf8))
    }

    @Test func aTaskCompletedBeforeItsFunctionReturnedEndsThere() throws {
        // The race a host meets when it takes a task the moment it is queued: the host's
        // completion comes before the queueing function has returned `.pending`. Played here
        // in order on one thread, so it happens every time.
        let queue = try HostTaskQueue()
        let definition = try WorkflowDefinition(name: "eager", steps: [
            StepDefinition(name: "only", accepts: ["start"], sends: ["stop"]),
        ])
        let runtime = try TestRuntime(threads: 1)
        defer { runtime.shutdown() }
        let run = Run(engine: LogTest.engine(), workflowName: "eager")
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        final class AfterCompletion: @unchecked Sendable {
            var contextEnded = false
            var runStatus: RunStatus?
        }
        let after = AfterCompletion()
        let queueIt = queue.stepFunction
        let queueAndHostAtOnce: StepFunction = { context in
            let returned = queueIt(context)
            if let task = try? queue.take(timeoutMilliseconds: 0) {
                try? task.stop(result: Array("1".utf8))
                try? task.complete(.completed)
                after.contextEnded = !task.whenReleased {}  // false once the try has ended (then its handle is retired)
                after.runStatus = run.status
            }
            return returned
        }
        let execution = try runtime.execution(definition, [queueAndHostAtOnce], run: run)
        try execution.start(input: [])
        let kinds = LogTest.drain(subscription).map(\.kind)
        #expect(kinds == [.runStarted, .stepStarted, .stepCompleted, .runCompleted])
        runtime.pool.shutdown()  // joins the worker: what it saw is written before it is read here
        // Ended by the completion itself: the context's handle is already retired, the run over.
        #expect(after.contextEnded)
        #expect(after.runStatus == .completed)
    }

    @Test func closingWakesAWaitingTaker() throws {
        let queue = try HostTaskQueue()
        final class Outcome: @unchecked Sendable { var error: RillflowError? }
        let outcome = Outcome()
        let taker = TestThread {
            do throws(RillflowError) { _ = try queue.take(timeoutMilliseconds: -1) } catch { outcome.error = error }
        }
        queue.close()
        taker.join()
        #expect(outcome.error?.code == .closed)
        #expect(isReadable(queue.fileDescriptor))
    }
}
