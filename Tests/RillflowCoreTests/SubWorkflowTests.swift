import TestSupport
import Testing
@testable import RillflowCore

/// Sub-workflows: child runs started by a step, streamed through their parent.
@Suite struct SubWorkflowTests {
    static let research = try! WorkflowDefinition(name: "research", steps: [
        StepDefinition(name: "search", accepts: ["start"], sends: ["stop"]),
    ])

    /// A running "report" workflow (plan -> write) with a subscription from its start.
    /// Call `finish` when done: it stops the worker threads.
    struct Report {
        let execution: WorkflowExecution
        let subscription: Subscription
        let finish: () -> Void
        var run: Run { execution.run }
    }

    static func startReport(plan: @escaping StepFunction, write: @escaping StepFunction) throws -> Report {
        let definition = try WorkflowDefinition(name: "report", steps: [
            StepDefinition(name: "plan", accepts: ["start"], sends: ["researched"]),
            StepDefinition(name: "write", accepts: ["researched"], sends: ["stop"]),
        ])
        let runtime = try TestRuntime(threads: 2)
        let run = Run(engine: LogTest.engine(), workflowName: "report")
        let subscription = try Subscription(log: run.log, options: SubscriptionOptions())
        let execution = try runtime.execution(definition, [plan, write], run: run, stepBudget: 100)
        try execution.start(input: [])
        return Report(execution: execution, subscription: subscription, finish: runtime.shutdown)
    }

    @Test func aChildRunsInsideItsParentsStream() throws {
        let report = try Self.startReport(plan: { ctx in
            try? ctx.startChild(Self.research, functions: [{ child in
                _ = try? child.emit(.token, data: Array("found".utf8))
                try? child.stop(result: Array(#"{"facts":3}"#.utf8))
                return .completed
            }], input: Array("topic".utf8), resultType: "researched")
            return .completed
        }, write: { ctx in
            try? ctx.stop(result: ctx.inputs[0])
            return .completed
        })
        defer { report.finish() }
        let events = LogTest.drain(report.subscription)
        let run = report.run

        let own = events.filter { $0.runId == run.id }
        let child = events.filter { $0.runId != run.id }
        #expect(child.map(\.kind) == [.runStarted, .stepStarted, .token, .stepCompleted, .runCompleted])
        #expect(child.allSatisfy { $0.parentRunId == run.id && $0.rootRunId == run.id && $0.workflow == "research" })
        // The child's end did not end the parent's stream: the parent went on and ended last.
        #expect(own.map(\.kind) == [.runStarted, .stepStarted, .stepCompleted, .stepStarted, .stepCompleted, .runCompleted])
        #expect(events.last?.runId == run.id && events.last?.kind == .runCompleted)
        #expect(events.last?.data.hasPrefix(#"{"result":{"facts":3}"#) == true)
        #expect(own.allSatisfy { $0.parentRunId == 0 && $0.rootRunId == run.id })
    }

    @Test func cancellingTheParentCancelsTheChild() throws {
        let report = try Self.startReport(plan: { ctx in
            try? ctx.startChild(Self.research, functions: [{ child in
                let giveUp = Deadline(milliseconds: 5_000)
                while !child.isCancelled && !giveUp.hasPassed {}
                return .completed
            }], input: [], resultType: "researched")
            return .completed
        }, write: { _ in .completed })
        defer { report.finish() }
        let (run, execution, subscription) = (report.run, report.execution, report.subscription)
        // Once the child's step runs, cancel the parent.
        var seen: [EventKind] = []
        var childStepStarted = false
        while !childStepStarted {
            _ = try subscription.read(limit: 1, timeoutMilliseconds: 5_000) { view in
                seen.append(view.kind)
                childStepStarted = view.kind == .stepStarted && view.source.runId != run.id
                return true
            }
        }
        execution.cancel(reason: "user")
        let rest = LogTest.drain(subscription)
        #expect(rest.last?.kind == .runCancelled && rest.last?.runId == run.id)
        let childCancelled = rest.first { $0.kind == .runCancelled && $0.runId != run.id }
        // The child's own cancellation is written to its log; in the parent's stream it may or
        // may not precede the parent's terminal event, which ends that stream.
        if let childCancelled { #expect(childCancelled.data == #"{"reason":"its parent run ended"}"#) }
        #expect(run.status == .cancelled)
    }

    @Test func aFailingChildFailsItsParent() throws {
        let report = try Self.startReport(plan: { ctx in
            try? ctx.startChild(Self.research, functions: [{ _ in .failed("no sources") }], input: [], resultType: "researched")
            return .completed
        }, write: { _ in .completed })
        defer { report.finish() }
        let events = LogTest.drain(report.subscription)
        let run = report.run
        #expect(events.last?.runId == run.id && events.last?.kind == .runFailed)
        #expect(events.last?.data.contains("the sub-workflow 'research'") == true)
        #expect(events.last?.data.contains("failed: no sources") == true)
        #expect(run.status == .failed)
    }

    @Test func aChildThatEndsWhileItsParentsLogIsFullReportsItsStatusAtOnce() throws {
        // The parent's only subscriber does not read, so the copy of the child's terminal event
        // into the parent's log waits for room; the child's status must not wait with it.
        let parent = LogTest.startedRun(LogTest.engine())
        let parentReader = try Subscription(log: parent.log, options: SubscriptionOptions())
        let child = Run(workflowName: "child", parent: parent)
        let childReader = try Subscription(log: child.log, options: SubscriptionOptions())
        try child.start(inputBytes: 0)
        let data = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        let size = EventRecord.size(stepLength: 0, topicLength: 0, dataLength: data.count)
        // Fill the parent's log up to the room it keeps for its own terminal event.
        while parent.log.tailPosition + size + RunLog.terminalReserve <= parent.log.capacity {
            _ = try data.withUnsafeBytes { bytes throws(RillflowError) in try parent.emit(EventDraft(kind: .custom, data: bytes)) }
        }
        let ender = TestThread {
            data.withUnsafeBytes { bytes in try? child.end(.runCompleted, data: bytes) }
        }
        let childEnd = try #require(LogTest.drain(childReader).last)
        #expect(childEnd.kind == .runCompleted)  // in the child's own log
        final class Answer: @unchecked Sendable { var status: RunStatus? }
        let answer = Answer(), answered = Flag()
        let asker = TestThread {
            answer.status = child.status
            answered.raise()
        }
        #expect(answered.wait(milliseconds: 10_000))
        // The parent's reader catches up: the copy gets in, after everything before it, with
        // the time the event entered the child's log, not the later one it found room here.
        let parentEvents = LogTest.drain(parentReader, until: { $0.kind == .runCompleted })
        ender.join()
        asker.join()
        #expect(answer.status == .completed)
        #expect(parentEvents.last?.kind == .runCompleted && parentEvents.last?.runId == child.id)
        #expect(parentEvents.last?.timestamp == childEnd.timestamp)
        #expect(parentEvents.filter { $0.kind == .custom }.count > 100)
    }

    /// A child's events reach its parent's stream in the child's order: none after the child's
    /// terminal event, even when one is emitted on another thread while the child ends.
    @Test func noChildEventFollowsItsTerminalEventInTheParentsStream() throws {
        for _ in 0..<200 {
            let parent = LogTest.startedRun(LogTest.engine(logCapacity: 1 << 20))
            let reader = try Subscription(log: parent.log, options: SubscriptionOptions(mode: .custom, startSeq: 1))
            let child = Run(workflowName: "child", parent: parent)
            try child.start(inputBytes: 0)
            // At most a fraction of the parent's log: nobody reads it until the end.
            let emitter = TestThread {
                for index in 0..<2_000 where (try? LogTest.emit(child, producer: 1, index: index, kind: .token)) == nil { break }
            }
            for index in 0..<20 { try LogTest.emit(child, producer: 0, index: index, kind: .token) }
            try child.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
            emitter.join()
            try parent.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
            let events = LogTest.drain(reader).filter { $0.runId == child.id }
            let terminal = try #require(events.firstIndex { $0.kind == .runCompleted })
            #expect(terminal == events.count - 1, "\(events.count - 1 - terminal) child events after its terminal event")
            if terminal != events.count - 1 { break }
        }
    }
}
