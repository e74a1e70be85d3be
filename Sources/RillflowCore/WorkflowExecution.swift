/// Runs one workflow run: routes events with a `StepRouter`, runs step functions on the
/// worker pool, retries failed tries after their backoff on the delay queue, and writes the
/// step and run events to the run's log. The run ends exactly once: completed when a step
/// sends the stop event, failed when a step fails for good, goes idle without a stop, or uses
/// up its step budget.
public final class WorkflowExecution: @unchecked Sendable {
    // @unchecked: mutable state is only touched under `shared`'s lock.
    public let run: Run
    let definition: WorkflowDefinition
    private let functions: [StepFunction]
    private let pool: WorkerPool
    private let delays: DelayQueue
    /// Keeps the engine's threads running while this run may use them.
    private let runtime: EngineRuntime?
    private let startedAt = WallClock.monotonicNanoseconds()

    private struct Shared {
        var router: StepRouter
        var finished = false
        var values: [String: [UInt8]] = [:]
        var usage = TokenUsage()
        /// The answer's event type while the run waits for human input.
        var awaitingAnswer: String?
        /// Sub-workflows still running.
        var children: [ObjectIdentifier: WorkflowExecution] = [:]
        var random: UInt64
    }

    private let shared: Lock<Shared>
    /// Held while a question is asked (INPUT_REQUIRED) and while it is answered (RUN_RESUMED),
    /// so the two events are in that order; never while waiting for anything else.
    private let questions = Lock(WorkflowExecution.nothingGuarded)
    /// Held while a state change is written and then stored, so the state changes only with
    /// its event (an emit that fails leaves it as it was) and the last STATE_CHANGED event of a
    /// key is its value.
    private let stateWrites = Lock(WorkflowExecution.nothingGuarded)
    /// The state of a lock that only orders work. Not `()`: a zero-sized state may share its
    /// address with the lock's mutex pointer, and ThreadSanitizer then reports taking the lock
    /// as a race with the holder's access to the state.
    private static let nothingGuarded = false
    /// Outputs of foreach lists in progress, by group, in item order. Its own lock, held while
    /// an item's progress event is written, so the "completed" counts reach the stream in order.
    private let lists = Lock<[Int: (outputs: [[UInt8]?], done: Int)]>([:])
    /// Called once when the run ends, with its status and its result or failure message; set
    /// before `start` (a parent uses it to hear from its sub-workflow), cleared after the call.
    var onEnd: (@Sendable (RunStatus, [UInt8]) -> Void)?
    private let stepBudget: Int

    /// A run of `definition` on the engine's threads.
    public convenience init(definition: WorkflowDefinition, functions: [StepFunction], run: Run,
                            runtime: EngineRuntime, stepBudget: Int) throws(RillflowError) {
        try self.init(definition: definition, functions: functions, run: run, pool: runtime.pool,
                      delays: runtime.delays, runtime: runtime, stepBudget: stepBudget)
    }

    public init(definition: WorkflowDefinition, functions: [StepFunction], run: Run, pool: WorkerPool,
                delays: DelayQueue, runtime: EngineRuntime? = nil, stepBudget: Int) throws(RillflowError) {
        guard functions.count == definition.steps.count else {
            throw RillflowError(.invalidArgument, "\(functions.count) step functions for \(definition.steps.count) steps")
        }
        self.definition = definition
        self.functions = functions
        self.run = run
        self.pool = pool
        self.delays = delays
        self.runtime = runtime
        self.stepBudget = stepBudget
        shared = Lock(Shared(router: StepRouter(definition: definition, budget: stepBudget),
                             random: UInt64(bitPattern: WallClock.nowNanoseconds()) | 1))
    }

    /// Starts the run: RUN_STARTED, then the start event with `input` to its steps. With a
    /// timeout, the run ends with RUN_TIMED_OUT (naming the steps still active) if it has not
    /// ended by then.
    public func start(input: [UInt8], timeoutNanoseconds: Int64? = nil) throws(RillflowError) {
        try run.start(inputBytes: input.count)
        if let timeoutNanoseconds {
            scheduleOwn(after: timeoutNanoseconds) { self.timeOut(after: timeoutNanoseconds) }
        }
        deliver(WorkflowDefinition.startEvent, input)
        // The start event may start nothing (a fan-in step that needs more than one).
        checkIdle()
    }

    /// Ends the run with RUN_CANCELLED unless it has ended. Running steps see `isCancelled`;
    /// nothing new starts and waiting retries are dropped. Returns false if it had already ended.
    @discardableResult
    public func cancel(reason: String = "cancelled") -> Bool {
        guard markFinished() else { return false }
        let detail = Array(reason.utf8)
        try? run.endByEngine(.runCancelled, detail: detail) { $0.field("reason", string: reason) }
        ended(.cancelled, detail: detail)
        return true
    }

    /// Delivers a human's answer to a run waiting for input: RUN_RESUMED, then the answer as the
    /// event type the step asked for.
    ///
    /// The answer is routed in the same critical section that stops awaiting it, so the asking
    /// step, which may still be ending, never finds the run idle in between (neither a question
    /// open nor the answer's steps counted). `questions` keeps RUN_RESUMED after INPUT_REQUIRED
    /// when the answer comes the moment the status says suspended.
    public func resume(answer: [UInt8]) throws(RillflowError) {
        let routed = try questions.withLock { _ throws(RillflowError) -> Routed in
            let routed = try route { state throws(RillflowError) in
                guard !state.finished, let type = state.awaitingAnswer else {
                    throw RillflowError(.invalidState, "the run is not waiting for input")
                }
                state.awaitingAnswer = nil
                return (type, [answer])
            }
            _ = run.transition(from: .suspended, to: .running)
            emitEngineEvent(.runResumed, step: "", attempt: 0) { $0.field("input_bytes", number: answer.count) }
            return routed
        }
        launch(routed)
        // The answer may start nothing (a fan-in step that needs more than one).
        checkIdle()
    }

    private func suspend(asking prompt: [UInt8], answerType: String, step: String, attempt: Int) {
        let waiting = questions.withLock { _ in
            let waiting = shared.withLock { state -> Bool in
                guard !state.finished, state.awaitingAnswer == nil else { return false }
                state.awaitingAnswer = answerType
                return true
            }
            if waiting {
                // The event first: whoever sees the status suspended finds the question in the
                // log, and its answer (rf_run_resume, which waits for `questions`) never waits
                // behind a write that waits for that same caller to read.
                emitEngineEvent(.inputRequired, step: step, attempt: attempt) { $0.field("prompt", json: prompt) }
                _ = run.transition(from: .running, to: .suspended)
            }
            return waiting
        }
        guard waiting else {
            return fail(step: step, error: "the run is already waiting for input: one question at a time", attempts: attempt)
        }
    }

    /// The run's token usage so far.
    public var usage: TokenUsage { shared.withLock { $0.usage } }

    func addUsage(_ usage: TokenUsage) { shared.withLock { $0.usage = $0.usage + usage } }

    private func timeOut(after timeout: Int64) {
        let active: [String]? = shared.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            return state.router.activeSteps
        }
        guard let active else { return }
        let detail = Array("the run timed out after \(timeout / 1_000_000) ms; active steps: \(active.isEmpty ? "none" : active.joined(separator: ", "))".utf8)
        try? run.endByEngine(.runTimedOut, detail: detail) {
            $0.field("timeout_ns", number: timeout)
            $0.field("active_steps", strings: active)
        }
        ended(.timedOut, detail: detail)
    }

    /// Schedules a timeout or retry of this run. `ended` drops the ones scheduled before it; one
    /// scheduled as the run ends is dropped here, so what it holds (this execution, its
    /// runtime, a try's inputs) goes now rather than when it is due.
    @discardableResult
    private func scheduleOwn(after nanoseconds: Int64, _ job: @escaping () -> Void) -> Bool {
        guard delays.schedule(after: nanoseconds, owner: self, job) else { return false }
        if isFinished { delays.cancelAll(owner: self) }
        return true
    }

    /// After the run's terminal event: its sub-workflows are cancelled, and whoever started it
    /// is told.
    private func ended(_ status: RunStatus, detail: [UInt8]) {
        let children = shared.withLock { state in
            defer { state.children.removeAll() }
            return Array(state.children.values)
        }
        for child in children { child.cancel(reason: "its parent run ended") }
        // Its timeouts and retries will find it ended: let them, and what they hold, go now.
        delays.cancelAll(owner: self)
        // Called once (a run ends once), then dropped: that ends the child -> parent reference.
        let callback = onEnd
        onEnd = nil
        callback?(status, detail)
    }

    /// Starts a sub-workflow a completed step asked for; it counts as activity, so this run is
    /// not idle while it runs.
    private func startChild(_ request: ChildRequest, step: String) {
        let child: WorkflowExecution
        do {
            child = try WorkflowExecution(definition: request.definition, functions: request.functions,
                                          run: Run(workflowName: request.definition.name, parent: run),
                                          pool: pool, delays: delays, stepBudget: stepBudget)
        } catch {
            return fail(step: step, error: error.message, attempts: 0)
        }
        let key = ObjectIdentifier(child)
        // A strong reference, dropped when the child ends (no weak reference: its side table is
        // a tagged pointer that LeakSanitizer cannot follow, so it would report a false leak).
        // Set before the child is registered: from then on this run's end may cancel it,
        // on another thread, and read it.
        child.onEnd = { status, detail in self.childEnded(key, status: status, detail: detail, resultType: request.resultType, step: step) }
        let registered = shared.withLock { state -> Bool in
            guard !state.finished else { return false }
            state.children[key] = child
            return true
        }
        guard registered else {
            child.onEnd = nil
            return
        }
        do {
            try child.start(input: request.input)
        } catch {
            fail(step: step, error: "the sub-workflow '\(request.definition.name)' could not start: \(error.message)", attempts: 0)
        }
    }

    /// A sub-workflow ended: its result is routed as it stops counting as activity.
    private func childEnded(_ key: ObjectIdentifier, status: RunStatus, detail: [UInt8], resultType: String, step: String) {
        var child: WorkflowExecution?
        let routed = route { state in
            child = state.children.removeValue(forKey: key)
            return child != nil && status == .completed ? (resultType, [detail]) : nil
        }
        guard let child else { return }  // this run ended first and cancelled it
        if status == .completed {
            launch(routed)
            checkIdle()
        } else {
            let how = status == .cancelled ? "was cancelled" : status == .timedOut ? "timed out" : "failed"
            fail(step: step, error: "the sub-workflow '\(child.definition.name)' (run \(child.run.id)) \(how): \(String(decoding: detail, as: UTF8.self))", attempts: 0)
        }
    }

    /// Fails the run if nothing runs or waits any more and no step sent the stop event.
    private func checkIdle() {
        if let stuck = shared.withLock({ Self.stuck(&$0) }) { fail(step: "", error: stuck, attempts: 0) }
    }

    /// Why the run can never end, if nothing runs or waits any more and no step sent the stop
    /// event; nil otherwise.
    private static func stuck(_ state: inout Shared) -> String? {  // (inout: never a copy)
        guard !state.finished && state.router.isIdle && state.awaitingAnswer == nil && state.children.isEmpty else { return nil }
        let waiting = state.router.incompleteFanIns.map { "step '\($0.step)' has \($0.have) of \($0.need) '\($0.type)' events" }
        return "the workflow went idle without sending '\(WorkflowDefinition.stopEvent)'"
            + (waiting.isEmpty ? "" : " (\(waiting.joined(separator: "; ")))")
    }

    var isFinished: Bool { shared.withLock { $0.finished } }

    // MARK: - Routing

    func deliver(_ type: String, _ payload: [UInt8]) {
        deliver(type, payloads: [payload])
    }

    func deliver(_ type: String, payloads: [[UInt8]]) {
        launch(route { _ in (type, payloads) })
    }

    /// Steps an event made ready, or the routing error that fails the run.
    private typealias Routed = (ready: [Invocation], failure: RillflowError?)

    /// Routes the event `prepare` returns in the critical section `prepare` runs in, so what it
    /// changed (a question answered, a child gone) and the steps the event starts are seen
    /// together: no step ending meanwhile finds the run idle in between. `prepare` returns nil
    /// to route nothing, or throws to refuse; a finished run routes nothing.
    private func route<Failure: Error>(_ prepare: (inout Shared) throws(Failure) -> (type: String, payloads: [[UInt8]])?) throws(Failure) -> Routed {
        var failure: RillflowError?
        let ready = try shared.withLock { state throws(Failure) -> [Invocation] in
            guard let event = try prepare(&state), !state.finished else { return [] }
            do throws(RillflowError) { return try state.router.deliver(event.type, payloads: event.payloads) } catch {
                failure = error
                return []
            }
        }
        return (ready, failure)
    }

    private func launch(_ routed: Routed) {
        if let failure = routed.failure { return fail(step: "", error: failure.message, attempts: 0) }
        for invocation in routed.ready { launch(invocation, attempt: 1) }
    }

    private func launch(_ invocation: Invocation, attempt: Int) {
        // A host-run step's function only queues it: that is cheap enough to do right here,
        // on the thread that routed it (often the host's own, completing the previous step).
        if definition.steps[invocation.step].runsOnHost { return execute(invocation, attempt: attempt) }
        pool.submit { self.execute(invocation, attempt: attempt) }
    }

    private func execute(_ invocation: Invocation, attempt: Int) {
        guard !isFinished else { return finishInvocation(invocation.step) }
        let name = definition.steps[invocation.step].name
        var inputBytes = 0
        for input in invocation.inputs { inputBytes += input.count }
        emitEngineEvent(.stepStarted, step: name, attempt: attempt, "input_bytes", number: Int64(inputBytes))
        // Step durations use the event clock (TSC-based where trusted): two fewer clock_gettime per step.
        let context = StepContext(execution: self, invocation: invocation, attempt: attempt, began: WallClock.nowNanoseconds())
        if let timeout = definition.steps[invocation.step].timeoutNanoseconds {
            scheduleOwn(after: timeout) {
                guard context.expire() else { return }
                self.conclude(context, outcome: .failed("step '\(name)' timed out after \(timeout / 1_000_000) ms"))
            }
        }
        let returned = functions[invocation.step](context)
        if let outcome = context.functionReturned(returned) {
            // This thread is free now: the next step it routes runs here, without a hand-off.
            pool.continuing { conclude(context, outcome: outcome) }
        }
    }

    /// Ends one try of an invocation: step events, routing of what it sent, retry or failure.
    func conclude(_ context: StepContext, outcome: StepOutcome) {
        let invocation = context.invocation, attempt = context.attempt, began = context.began
        context.invalidate()
        let step = definition.steps[invocation.step]
        // A run that ended while the step ran (stopped elsewhere, cancelled, timed out) takes no
        // more step events or routing from it.
        if isFinished { return finishInvocation(invocation.step) }
        switch outcome {
        case .completed, .pending:  // .pending never arrives here: complete() refuses it
            let duration = max(0, WallClock.nowNanoseconds() - began)
            emitEngineEvent(.stepCompleted, step: step.name, attempt: attempt, "duration_ns", number: duration)
            // Routed while this invocation still counts as running, so the run never looks idle
            // between a step's end and the steps it starts.
            let outbox = context.takeOutbox()
            for (type, payloads) in outbox.sends { deliver(type, payloads: payloads) }
            if let item = invocation.item, let done = step.foreachDone {
                itemCompleted(item, output: outbox.output, step: step.name, attempt: attempt, sendsAs: done)
            }
            for child in outbox.children { startChild(child, step: step.name) }
            if let result = outbox.stopResult {
                try? stop(result: result)
            } else if let request = outbox.inputRequest {
                suspend(asking: request.prompt, answerType: request.answerType, step: step.name, attempt: attempt)
            }
            finishInvocation(invocation.step)
        case .failed(let message):
            if attempt < step.retry.attempts && !isFinished {
                do {
                    try shared.withLock { state throws(RillflowError) in try state.router.retrying(step: invocation.step) }
                } catch {
                    return failedForGood(invocation, step: step, attempt: attempt, error: message, runError: error.message)
                }
                let backoff = step.retry.backoff(afterAttempt: attempt, unit: nextRandomUnit())
                emitEngineEvent(.stepRetrying, step: step.name, attempt: attempt) {
                    $0.field("error", string: message)
                    $0.field("backoff_ns", number: backoff)
                }
                // The invocation stays running in the router while it waits for its next try.
                // On a worker: a host-run step's try would otherwise start (and emit) on the
                // timer thread, which a full log could hold up for every run's timers.
                if !scheduleOwn(after: backoff, { _ = self.pool.submit { self.execute(invocation, attempt: attempt + 1) } }) {
                    finishInvocation(invocation.step)
                }
            } else {
                failedForGood(invocation, step: step, attempt: attempt, error: message, runError: message)
            }
        }
    }

    /// A try failed and none follows: a foreach item's PROGRESS "failed", STEP_FAILED with the
    /// step's error, and the run fails with `runError` (the step's, or why no try follows).
    private func failedForGood(_ invocation: Invocation, step: StepDefinition, attempt: Int, error: String, runError: String) {
        if let item = invocation.item {
            lists.withLock { lists in
                emitEngineEvent(.progress, step: step.name, attempt: attempt) {
                    $0.field("completed", number: lists[item.group]?.done ?? 0)
                    $0.field("total", number: item.total)
                    $0.field("index", number: item.index)
                    $0.field("status", string: "failed")
                }
            }
        }
        emitEngineEvent(.stepFailed, step: step.name, attempt: attempt) {
            $0.field("error", string: error)
            $0.field("attempts", number: attempt)
        }
        fail(step: step.name, error: runError, attempts: attempt)
        finishInvocation(invocation.step)
    }

    /// One foreach item is done: its progress event, and when it was the list's last, the
    /// outputs in item order as one event.
    private func itemCompleted(_ item: Invocation.Item, output: [UInt8]?, step: String, attempt: Int, sendsAs type: String) {
        let outputs = lists.withLock { lists -> [[UInt8]]? in
            var list = lists[item.group] ?? (Array(repeating: nil, count: item.total), 0)
            list.outputs[item.index] = output ?? []
            list.done += 1
            lists[item.group] = list.done == item.total ? nil : list
            emitEngineEvent(.progress, step: step, attempt: attempt) {
                $0.field("completed", number: list.done)
                $0.field("total", number: item.total)
                $0.field("index", number: item.index)
                $0.field("status", string: "success")
                if let output { $0.field("output", json: output) }
            }
            return list.done == item.total ? list.outputs.map { $0 ?? [] } : nil
        }
        if let outputs { deliver(type, payloads: outputs) }
    }

    private func finishInvocation(_ step: Int) {
        var ready: [Invocation] = []
        var stuck: String?
        do {
            try shared.withLock { state throws(RillflowError) in
                let next = try state.router.finished(step: step)
                if !state.finished { ready = next }
                stuck = Self.stuck(&state)
            }
        } catch {
            fail(step: definition.steps[step].name, error: error.message, attempts: 0)
            return
        }
        for invocation in ready { launch(invocation, attempt: 1) }
        if let stuck { fail(step: "", error: stuck, attempts: 0) }
    }

    // MARK: - Ending

    func stop(result: [UInt8]) throws(RillflowError) {
        guard markFinished() else { throw RillflowError(.invalidState, "the run has already ended") }
        let usage = self.usage
        var json = JSONText()
        json.object {
            $0.field("result", json: result)
            $0.field("usage") { usage.write(to: &$0) }
        }
        do {
            try json.withBytes { data throws(RillflowError) in try run.end(.runCompleted, data: data, detail: result) }
            ended(.completed, detail: result)
        } catch {
            // The run is over either way: it must still end, and say why.
            writeFailure(step: "", error: "the run's result could not be recorded: \(error.message)", attempts: 0)
            throw error
        }
    }

    private func fail(step: String, error: String, attempts: Int) {
        guard markFinished() else { return }
        writeFailure(step: step, error: error, attempts: attempts)
    }

    private func writeFailure(step: String, error: String, attempts: Int) {
        let elapsed = WallClock.monotonicNanoseconds() - startedAt
        let detail = Array((step.isEmpty ? error : "step '\(step)' failed: \(error)").utf8)
        try? run.endByEngine(.runFailed, detail: detail) {
            $0.field("step", string: step.isEmpty ? nil : step)
            $0.field("error", string: error)
            $0.field("attempts", number: attempts)
            $0.field("elapsed_ns", number: elapsed)
        }
        ended(.failed, detail: detail)
    }

    private func markFinished() -> Bool {
        shared.withLock { state in
            defer { state.finished = true }
            return !state.finished
        }
    }

    // MARK: - Events and state

    func emit(_ kind: EventKind, step: String, attempt: Int, topic: String, data: [UInt8], tokenIndex: UInt64) throws(RillflowError) -> UInt64 {
        var seq: UInt64 = 0
        var failure: RillflowError?
        data.withUnsafeBytes { bytes in
            do throws(RillflowError) { seq = try emit(kind, step: step, attempt: attempt, topic: topic, bytes: bytes, tokenIndex: tokenIndex) } catch { failure = error }
        }
        if let failure { throw failure }
        return seq
    }

    /// Writes one event; the names' UTF-8 is read in place (no copy for native strings).
    func emit(_ kind: EventKind, step: String, attempt: Int, topic: String, bytes: UnsafeRawBufferPointer, tokenIndex: UInt64) throws(RillflowError) -> UInt64 {
        // The error is carried out in a variable: these closures only rethrow untyped errors.
        var seq: UInt64 = 0
        var failure: RillflowError?
        var step = step, topic = topic
        step.withUTF8 { stepBytes in
            topic.withUTF8 { topicBytes in
                do throws(RillflowError) {
                    seq = try run.emit(EventDraft(kind: kind, step: UnsafeRawBufferPointer(stepBytes), topic: UnsafeRawBufferPointer(topicBytes),
                                                  data: bytes, attempt: UInt32(attempt), tokenIndex: tokenIndex))
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        return seq
    }

    private func emitEngineEvent(_ kind: EventKind, step: String, attempt: Int, _ fields: (inout JSONText.ObjectWriter) -> Void) {
        // Cut to fit max_event_bytes: a step's error (up to 4 KiB) must not silence STEP_FAILED.
        let json = JSONText.fitted(limit: run.log.maxDataBytes) { $0.object(fields) }
        _ = try? emit(kind, step: step, attempt: attempt, topic: "", data: json.bytes, tokenIndex: 0)
    }

    /// An engine event whose data is `{"<name>":<number>}`, written on the stack: every step
    /// starts and completes with one, and a JSONText would allocate its array for each.
    private func emitEngineEvent(_ kind: EventKind, step: String, attempt: Int, _ name: StaticString, number: Int64) {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 1) { buffer in
            guard let length = JSONText.numberObject(name, number, into: buffer), length <= run.log.maxDataBytes else {
                return emitEngineEvent(kind, step: step, attempt: attempt) { $0.field(name, number: number) }
            }
            _ = try? emit(kind, step: step, attempt: attempt, topic: "", bytes: UnsafeRawBufferPointer(rebasing: buffer[..<length]), tokenIndex: 0)
        }
    }

    func setState(_ key: String, value: [UInt8], step: String, attempt: Int) throws(RillflowError) {
        var json = JSONText()
        json.object {
            $0.field("key", string: key)
            $0.field("value", json: value)
        }
        try stateWrites.withLock { _ throws(RillflowError) in
            _ = try emit(.stateChanged, step: step, attempt: attempt, topic: "", data: json.bytes, tokenIndex: 0)
            shared.withLock { $0.values[key] = value }
        }
    }

    func state(_ key: String) -> [UInt8]? { shared.withLock { $0.values[key] } }

    private func nextRandomUnit() -> Double {
        shared.withLock { state in
            state.random ^= state.random << 13
            state.random ^= state.random >> 7
            state.random ^= state.random << 17
            return Double(state.random >> 11) / Double(1 << 53)
        }
    }
}
