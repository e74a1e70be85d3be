#if canImport(Glibc)
import Glibc
#endif
import CRillflow
import Synchronization
import TestSupport
import Testing
@testable import Rillflow

/// The workflow C API driven from many threads at once, so ThreadSanitizer (`swift test
/// --sanitize=thread`) checks the ABI layer and the scheduler together: steps on worker threads,
/// subscribers and hosts on others, pending completions from yet others.
@Suite(.serialized) struct WorkflowABITests {
    private func ok(_ status: rf_status, _ sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == RF_OK, "\(String(cString: rf_status_name(status))): \(String(cString: rf_last_error()))", sourceLocation: sourceLocation)
    }

    private func engine(threads: UInt32) -> OpaquePointer? {
        var options = rf_engine_options()
        ok(rf_engine_options_init_v2(&options, UInt32(MemoryLayout<rf_engine_options>.size)))
        options.worker_threads = threads
        var engine: OpaquePointer?
        ok(rf_engine_create(&options, &engine))
        return engine
    }

    /// Reads a run's stream to its end on the calling thread; returns the kinds in order.
    private func drain(_ run: OpaquePointer?) -> [rf_event_kind] {
        var subscription: OpaquePointer?
        var options = rf_subscription_options()
        rf_subscription_options_init(&options)
        options.start_seq = 1
        ok(rf_subscription_create(run, &options, &subscription))
        var kinds: [rf_event_kind] = []
        var batch = [rf_event](repeating: rf_event(), count: 64)
        batch[0].struct_size = UInt32(MemoryLayout<rf_event>.size)
        var count: UInt32 = 0
        while rf_subscription_read_batch(subscription, &batch, 64, 10_000, &count) == RF_OK {
            for event in batch.prefix(Int(count)) { kinds.append(event.kind) }
        }
        ok(rf_subscription_release(subscription))
        return kinds
    }

    private func addStep(_ workflow: OpaquePointer?, _ name: String, _ accepts: String, _ sends: String,
                         _ fn: rf_step_fn?, options: rf_step_options? = nil) {
        if var options {
            ok(rf_workflow_add_step(workflow, name, accepts, sends, fn, nil, nil, &options))
        } else {
            ok(rf_workflow_add_step(workflow, name, accepts, sends, fn, nil, nil, nil))
        }
    }

    @Test func fanOutStreamsTokensStateAndUsageFromManyWorkers() throws {
        let engine = engine(threads: 4)
        var workflow: OpaquePointer?
        ok(rf_workflow_create(engine, "fan", &workflow))
        addStep(workflow, "split", "start", "item") { _, ctx in
            for _ in 0..<64 { _ = rf_step_ctx_send(ctx, "item", nil, 0) }
            return RF_OK
        }
        addStep(workflow, "work", "item", "done") { _, ctx in
            for index in 0..<5 as Range<UInt64> { _ = rf_step_ctx_emit_token(ctx, "tok", 3, index) }
            _ = rf_step_ctx_set_state(ctx, "last", "1", 1)
            var usage = rf_token_usage()
            usage.struct_size = UInt32(MemoryLayout<rf_token_usage>.size)
            usage.total_tokens = 2
            _ = rf_step_ctx_report_usage(ctx, &usage)
            return rf_step_ctx_send(ctx, "done", nil, 0)
        }
        var gather = rf_step_options()
        rf_step_options_init(&gather, UInt32(MemoryLayout<rf_step_options>.size))
        gather.collect = 64
        addStep(workflow, "join", "done", "stop", { _, ctx in rf_step_ctx_stop(ctx, "1", 1) }, options: gather)
        ok(rf_workflow_build(workflow))
        var run: OpaquePointer?
        ok(rf_run_create(workflow, nil, &run))
        ok(rf_run_start(run, nil, 0))
        // A second reader on its own thread, while the steps write.
        let other = Shared<[rf_event_kind]>([])
        let runBits = UInt(bitPattern: run)
        let reader = TestThread { other.value = self.drain(OpaquePointer(bitPattern: runBits)) }
        let kinds = drain(run)
        reader.join()
        #expect(kinds == other.value)
        #expect(kinds.filter { $0 == RF_EVENT_TOKEN }.count == 320)
        #expect(kinds.filter { $0 == RF_EVENT_STATE_CHANGED }.count == 64)
        #expect(kinds.last.map(Int.init) == Int(RF_EVENT_RUN_COMPLETED))
        var usage = rf_token_usage()
        usage.struct_size = UInt32(MemoryLayout<rf_token_usage>.size)
        ok(rf_run_get_usage(run, &usage))
        #expect(usage.total_tokens == 128)
        ok(rf_run_release(run))
        ok(rf_workflow_release(workflow))
        ok(rf_engine_release(engine))
    }

    /// Host threads drain host-run steps while pending callback steps complete from threads of
    /// their own.
    @Test func hostThreadsAndPendingCompletionsRunTogether() throws {
        let engine = engine(threads: 2)
        var workflow: OpaquePointer?
        ok(rf_workflow_create(engine, "mixed", &workflow))
        addStep(workflow, "split", "start", "job") { _, ctx in
            for _ in 0..<32 { _ = rf_step_ctx_send(ctx, "job", nil, 0) }
            return RF_OK
        }
        var hosted = rf_step_options()
        rf_step_options_init(&hosted, UInt32(MemoryLayout<rf_step_options>.size))
        hosted.flags = RF_STEP_HOST_RUN
        addStep(workflow, "host", "job", "hosted", nil, options: hosted)
        addStep(workflow, "later", "hosted", "done") { _, ctx in
            let bits = UInt(bitPattern: ctx)
            // Completed from a thread of its own, maybe before this callback returns.
            let completer = TestThread {
                let ctx = OpaquePointer(bitPattern: bits)
                _ = rf_step_ctx_send(ctx, "done", nil, 0)
                _ = rf_step_ctx_complete(ctx, RF_OK, nil)
            }
            completer.join()
            return RF_STEP_PENDING
        }
        var gather = rf_step_options()
        rf_step_options_init(&gather, UInt32(MemoryLayout<rf_step_options>.size))
        gather.collect = 32
        addStep(workflow, "join", "done", "stop", { _, ctx in rf_step_ctx_stop(ctx, "1", 1) }, options: gather)
        ok(rf_workflow_build(workflow))
        var run: OpaquePointer?
        ok(rf_run_create(workflow, nil, &run))
        let taken = Atomic<Int>(0)
        let engineBits = UInt(bitPattern: engine)
        let hosts = (0..<2).map { _ in
            TestThread {
                let engine = OpaquePointer(bitPattern: engineBits)
                var ctx: OpaquePointer?
                while rf_engine_take_task(engine, -1, &ctx) == RF_OK {  // until the engine's release below
                    _ = rf_step_ctx_send(ctx, "hosted", nil, 0)
                    _ = rf_step_ctx_complete(ctx, RF_OK, nil)
                    taken.add(1, ordering: .relaxed)
                }
            }
        }
        ok(rf_run_start(run, nil, 0))
        var status: rf_run_status = 0
        ok(rf_run_wait(run, 10_000, &status))
        #expect(status == RF_RUN_COMPLETED)
        ok(rf_engine_release(engine))  // wakes the hosts
        for host in hosts { host.join() }
        #expect(taken.load(ordering: .relaxed) == 32)
        ok(rf_run_release(run))
        ok(rf_workflow_release(workflow))
    }

    /// A cancel from another thread while eight steps run: every step sees it, the stream ends.
    @Test func cancelReachesEveryRunningStep() throws {
        let engine = engine(threads: 4)
        var workflow: OpaquePointer?
        ok(rf_workflow_create(engine, "cancelled", &workflow))
        addStep(workflow, "split", "start", "spin") { _, ctx in
            for _ in 0..<8 { _ = rf_step_ctx_send(ctx, "spin", nil, 0) }
            return RF_OK
        }
        addStep(workflow, "spin", "spin", "stop") { _, ctx in
            while rf_step_ctx_check_cancelled(ctx) == RF_OK { sched_yield() }
            return RF_OK
        }
        ok(rf_workflow_build(workflow))
        var run: OpaquePointer?
        ok(rf_run_create(workflow, nil, &run))
        ok(rf_run_start(run, nil, 0))
        let runBits = UInt(bitPattern: run)
        let canceller = TestThread { _ = rf_run_cancel(OpaquePointer(bitPattern: runBits), "enough") }
        let kinds = drain(run)
        canceller.join()
        #expect(kinds.last.map(Int.init) == Int(RF_EVENT_RUN_CANCELLED))
        ok(rf_run_release(run))
        ok(rf_workflow_release(workflow))
        ok(rf_engine_release(engine))
    }
}
