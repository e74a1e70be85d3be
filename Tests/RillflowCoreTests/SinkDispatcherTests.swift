#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import TestSupport
@testable import RillflowCore

/// Sinks on their dispatcher thread: every event of every run, in order, and stopping cleanly.
@Suite struct SinkDispatcherTests {
    final class Recorder: SinkTarget, @unchecked Sendable {
        // @unchecked: written on the dispatcher thread only, read after the engine drained it.
        var seqs: [UInt64: [UInt64]] = [:]
        var ended: [UInt64] = []
        var failuresLeft: Int
        init(failures: Int = 0) { failuresLeft = failures }

        func deliver(_ events: [EventView], from log: RunLog) -> String? {
            if failuresLeft > 0 {
                failuresLeft -= 1
                return "not yet"
            }
            for event in events { seqs[event.source.runId, default: []].append(event.seq) }
            return nil
        }

        func runEnded(runId: UInt64) { ended.append(runId) }
    }

    @Test func everyRunReachesEverySinkInOrder() throws {
        let engine = LogTest.engine(logCapacity: 64 << 10, emitTimeout: 10_000)
        let steady = Recorder(), flaky = Recorder(failures: 3)
        let steadySink = try engine.addSink(steady, options: SinkOptions())
        _ = try engine.addSink(flaky, options: SinkOptions(retryBackoffNanoseconds: 1_000_000))
        let runs = (0..<3).map { _ in LogTest.startedRun(engine) }
        let producers = runs.map { run in
            TestThread {
                for index in 0..<3_000 { try! LogTest.emit(run, producer: 0, index: index) }
                try! run.end(.runCompleted, data: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
        for producer in producers { producer.join() }
        engine.close()  // drains the sinks, then stops their thread
        for recorder in [steady, flaky] {
            for run in runs { #expect(recorder.seqs[run.id] == Array(1...3_002), "run \(run.id)") }
            #expect(Set(recorder.ended) == Set(runs.map(\.id)))
        }
        #expect(steadySink.currentStats.delivered == 3 * 3_002)
        #expect(steadySink.currentStats.runs == 3)
    }

    /// A sink added as the engine closes (a release racing rf_engine_add_sink) is refused: it
    /// would start a sink thread that the release had already stopped for good.
    @Test func aSinkAddedAfterTheEngineClosedIsRefused() throws {
        let engine = LogTest.engine(logCapacity: 64 << 10, emitTimeout: 10_000)
        let early = Recorder()
        _ = try engine.addSink(early, options: SinkOptions())
        engine.close()
        let error = #expect(throws: RillflowError.self) { _ = try engine.addSink(Recorder(), options: SinkOptions()) }
        #expect(error?.code == .invalidState)
        #expect(error?.message == "the engine was released")
        // Runs made after the close reach no sink, and the closed dispatcher is not revived.
        let run = LogTest.startedRun(engine)
        _ = try LogTest.emit(run, producer: 0, index: 0)
        #expect(early.seqs[run.id] == nil)
        #expect(!engine.isSinkThread)
    }

    /// A sink that holds the dispatcher's thread in its first delivery until the test opens `gate`.
    final class HeldTarget: SinkTarget, Sendable {
        let entered = Flag()
        let gate = Flag()

        func deliver(_ events: [EventView], from log: RunLog) -> String? {
            entered.raise()
            _ = gate.wait(milliseconds: 10_000)
            return nil
        }

        func runEnded(runId: UInt64) {}
    }

    /// Polls `condition` (yielding between looks) for up to 10 s: for a state nothing signals.
    static func waitUntil(_ condition: () -> Bool) -> Bool {
        let deadline = Deadline(milliseconds: 10_000)
        while !condition() {
            if deadline.hasPassed { return false }
            sched_yield()
        }
        return true
    }

    /// A sink whose every delivery fails, counting the tries.
    final class FailingTarget: SinkTarget, Sendable {
        let tries = Atomic<Int>(0)
        func deliver(_ events: [EventView], from log: RunLog) -> String? {
            tries.add(1, ordering: .relaxed)
            return "always failing"
        }
        func runEnded(runId: UInt64) {}
    }

    /// Removing one sink waits for that sink's deliveries only, not for another sink's retries;
    /// a drain that gave up leaves the dispatcher waiting for retries, not spinning.
    @Test func drainsWaitForTheirOwnSinkAndNeverSpin() throws {
        let engine = LogTest.engine(logCapacity: 64 << 10)
        let dispatcher = try SinkDispatcher()
        defer { dispatcher.shutdown() }
        let steady = Recorder(), failing = FailingTarget()
        let steadySink = Sink(target: steady, options: SinkOptions())
        dispatcher.add(steadySink)
        dispatcher.add(Sink(target: failing, options: SinkOptions(retryBackoffNanoseconds: 20_000_000)))
        let run = LogTest.startedRun(engine)
        dispatcher.attach(run)
        for index in 0..<100 { try LogTest.emit(run, producer: 0, index: index) }
        #expect(Self.waitUntil { failing.tries.load(ordering: .relaxed) >= 1 })
        let removal = dispatcher.remove(steadySink, timeoutMilliseconds: 10_000)
        #expect(removal.drained && removal.detached)
        #expect(steady.seqs[run.id] == Array(1...101))
        #expect(!dispatcher.drain(timeoutMilliseconds: 1))  // the failing sink never settles
        let passes = dispatcher.passes.load(ordering: .relaxed)
        let tries = failing.tries.load(ordering: .relaxed)
        #expect(Self.waitUntil { failing.tries.load(ordering: .relaxed) >= tries + 3 })
        // About one pass per retry; a spinning dispatcher makes thousands meanwhile.
        #expect(dispatcher.passes.load(ordering: .relaxed) - passes < 40)
    }

    /// A run attached while the dispatcher's thread is busy, which then stops before taking it:
    /// the run's sink subscription must be closed, not left gating the run's producers.
    @Test func aRunAttachedAsTheDispatcherStopsDoesNotHoldItsProducers() throws {
        let engine = LogTest.engine(logCapacity: 64 << 10, emitTimeout: 2_000)
        let dispatcher = try SinkDispatcher()
        let target = HeldTarget()
        dispatcher.add(Sink(target: target, options: SinkOptions()))
        let first = LogTest.startedRun(engine)
        dispatcher.attach(first)
        #expect(target.entered.wait(milliseconds: 10_000), "the first run's events reach the sink")
        let second = LogTest.startedRun(engine)
        dispatcher.attach(second)
        let stopper = TestThread { dispatcher.shutdown() }
        #expect(Self.waitUntil { dispatcher.isStopping })
        target.gate.raise()
        stopper.join()
        // Nobody reads the second run now: twice its log's capacity must go through at once
        // (a forgotten subscription would make the producer wait, then time out).
        for index in 0..<2_000 { try LogTest.emit(second, producer: 0, index: index) }
    }
}
