import Synchronization

/// How one invocation of a step ended, or `.pending`: it will end later through
/// `StepContext.complete(_:)`, from any thread.
public enum StepOutcome: Sendable, Equatable {
    case completed
    case failed(String)
    case pending
}

/// A step's code: called on a worker thread with the invocation's context.
public typealias StepFunction = @Sendable (StepContext) -> StepOutcome

/// What one invocation of a step sees. Valid while its try lasts: afterwards every call fails,
/// with `invalidState`, or with `cancelled` when the try ended at its deadline while its code
/// still held the context (which then stays, inputs included, until that code lets go).
///
/// Events a step sends, and its stop, take effect when it returns `.completed`, after its
/// step-completed event: the run's timeline reads step by step, and a failed try has no effect
/// on routing (its retry starts clean). Stream events (tokens, custom, progress, state) are
/// written at once.
public final class StepContext: @unchecked Sendable {
    // @unchecked: the fields are immutable or behind `locked`; `valid` is atomic.
    public let step: String
    let invocation: Invocation
    /// When the try started (the event clock, WallClock.nowNanoseconds), for its duration.
    let began: Int64
    public var eventType: String { invocation.eventType }
    public var inputs: [[UInt8]] { invocation.inputs }
    public let attempt: Int
    let stepIndex: Int
    private let execution: WorkflowExecution
    private let valid = Atomic<Bool>(true)

    struct Outbox {
        var sends = InlineList<(type: String, payloads: [[UInt8]])>()
        /// A foreach item's output (JSON), reported in its progress event and passed on in order.
        var output: [UInt8]?
        var stopResult: [UInt8]?
        var inputRequest: (prompt: [UInt8], answerType: String)?
        var children: [ChildRequest] = []
    }


    /// Where the invocation is: its function running, returned `.pending`, or concluded. A
    /// completion may arrive while the function still runs; it is kept until the function
    /// returns `.pending`.
    enum Phase { case running, pending, concluded }
    /// A hook and the word it is called with (see `whenReleased(word:_:)`). A struct, not a
    /// tuple: a function kept in a generic list as a tuple member is re-abstracted through a
    /// thunk allocated for it, one inside a struct is kept as it is.
    struct ReleaseHook {
        let hook: @Sendable (UInt) -> Void
        let word: UInt
    }
    typealias ReleaseHooks = InlineList<ReleaseHook>
    struct Completion {
        var phase = Phase.running
        var early: StepOutcome?
        /// Set once the try has ended (at its deadline, or `invalidate` ran): no hook may be
        /// added after.
        var ended = false
        /// The step's function has returned, or handed the context to a host that ends it.
        var returned = false
        /// `complete` has been called.
        var completed = false
        /// The function returned `.pending` (or handed the context off) and `complete` has not
        /// come yet: whoever completes it still uses the context.
        var owesCompletion = false
        /// The try ended at its deadline, not by its code.
        var expired = false
        /// Set once the try has ended and its code has let go of the context.
        var released = false
        var releaseHooks = ReleaseHooks()
        /// A message the step left for when it reports failure without one.
        var error: String?

        /// Whether the step's code may still be using the context.
        var held: Bool { !returned || owesCompletion }

        /// The release hooks to run now, if the context has just become released.
        mutating func takeReleaseHooks() -> ReleaseHooks {
            guard ended && !held && !released else { return ReleaseHooks() }
            released = true
            defer { releaseHooks = ReleaseHooks() }
            return releaseHooks
        }
    }
    /// Everything mutable, behind one lock (one allocation per step, not three).
    private struct Locked {
        var outbox = Outbox()
        var completion = Completion()
        var terminatedInputs: [Int: UnsafeMutableRawBufferPointer] = [:]
    }
    private let locked = Lock(Locked())

    private func withOutbox<R, E: Error>(_ body: (inout Outbox) throws(E) -> R) throws(E) -> R {
        try locked.withLock { (all: inout Locked) throws(E) -> R in try body(&all.outbox) }
    }

    /// Changes what the step sends unless its try has ended. Checked under the lock that
    /// `invalidate` and `takeOutbox` take: a call racing the try's end is refused, never
    /// accepted and then dropped because the outbox was already taken.
    private func withOpenOutbox<R>(_ body: (inout Outbox) throws(RillflowError) -> R) throws(RillflowError) -> R {
        let result = try locked.withLock { (all: inout Locked) throws(RillflowError) -> R? in
            guard !all.completion.ended else { return nil }
            return try body(&all.outbox)
        }
        guard let result else { throw refusal() }
        return result
    }

    private func withCompletion<R, E: Error>(_ body: (inout Completion) throws(E) -> R) throws(E) -> R {
        try locked.withLock { (all: inout Locked) throws(E) -> R in try body(&all.completion) }
    }

    /// Whether the function returned `.pending` and no completion has come yet.
    var isPending: Bool { withCompletion { $0.phase == .pending } }

    /// Ends an invocation whose function returned (or will return) `.pending`. Any thread.
    /// After the try has ended at its deadline, the first completion is accepted and ignored:
    /// it tells the engine the code has let go of the context.
    public func complete(_ outcome: StepOutcome) throws(RillflowError) {
        guard outcome != .pending else { throw RillflowError(.invalidArgument, "a step completes as completed or failed, not pending") }
        let (concludeNow, hooks) = try withCompletion { state throws(RillflowError) -> (Bool, ReleaseHooks) in
            guard !state.completed else { throw RillflowError(.invalidState, "step '\(step)' was already completed") }
            switch state.phase {
            case .running:
                state.early = outcome
            case .pending:
                state.phase = .concluded
            case .concluded:
                // Ended at its deadline while its code ran or waited to be completed; anything
                // else that concluded it (the function's return) leaves nothing to complete.
                guard state.expired, !state.returned || state.owesCompletion else {
                    throw RillflowError(.invalidState, "step '\(step)' has already ended")
                }
            }
            let concludeNow = state.phase == .concluded && !state.expired  // it was pending
            state.completed = true
            state.owesCompletion = false
            return (concludeNow, state.takeReleaseHooks())
        }
        if concludeNow { execution.conclude(self, outcome: outcome) }
        for release in hooks { release.hook(release.word) }
    }

    /// Marks a try whose function hands the context to another thread and returns `.pending`,
    /// before that thread can see it: a completion that arrives before the function has
    /// returned then ends the try at once, so the context is invalid when `complete` returns
    /// (a host that completes a task it took is told so at its next call, not at random).
    func awaitCompletionElsewhere() {
        withCompletion { state in
            if state.phase == .running && state.early == nil { state.phase = .pending }
            state.returned = true
            state.owesCompletion = !state.completed
        }
    }

    /// Ends the try at its deadline, unless it has ended; true if it did. Its function may still
    /// be running, or a host may still hold it: what they do afterwards is refused with
    /// `.cancelled`, their completion ignored; the context stays until they let go of it.
    func expire() -> Bool {
        withCompletion { state in
            guard state.phase != .concluded else { return false }
            state.phase = .concluded
            state.expired = true
            // At once, not when the execution concludes the try a moment later: from here its
            // calls change nothing, a completion releases it, and no host may take it.
            state.ended = true
            valid.store(false, ordering: .releasing)
            return true
        }
    }

    /// Called by the execution when the function returned: the outcome to conclude with now,
    /// or nil when the invocation stays pending (or was already ended by its timeout).
    func functionReturned(_ outcome: StepOutcome) -> StepOutcome? {
        let (concluded, hooks) = withCompletion { state -> (StepOutcome?, ReleaseHooks) in
            state.returned = true
            state.owesCompletion = outcome == .pending && !state.completed
            let hooks = state.takeReleaseHooks()
            guard state.phase != .concluded else { return (nil, hooks) }
            guard outcome == .pending else {
                state.phase = .concluded
                return (outcome, hooks)
            }
            if let early = state.early {
                state.phase = .concluded
                return (early, hooks)
            }
            state.phase = .pending
            return (nil, hooks)
        }
        for release in hooks { release.hook(release.word) }
        return concluded
    }

    /// What the step sent and whether it stopped the run; taken once, when it completed.
    func takeOutbox() -> Outbox { withOutbox { box in defer { box = Outbox() }; return box } }

    init(execution: WorkflowExecution, invocation: Invocation, attempt: Int, began: Int64) {
        self.execution = execution
        self.invocation = invocation
        stepIndex = invocation.step
        step = execution.definition.steps[invocation.step].name
        self.attempt = attempt
        self.began = began
    }

    /// The try has ended: the context refuses every call from now on, and its release hooks
    /// run, unless its code still holds it.
    func invalidate() {
        valid.store(false, ordering: .releasing)
        let hooks = withCompletion { state in
            state.ended = true
            return state.takeReleaseHooks()
        }
        for release in hooks { release.hook(release.word) }
    }

    /// Runs `hook` once this try has ended and its code has let go of the context: its function
    /// returned, and a step left pending (or run by the host) was completed, even when its
    /// deadline ended it first. Until then what the context lends (its inputs) stays valid.
    /// Returns false, without keeping it, if the try has already ended.
    /// (Wraps `hook` in a closure, which allocates: the per-step path uses `whenReleased(word:_:)`.)
    public func whenReleased(_ hook: @escaping @Sendable () -> Void) -> Bool {
        whenReleased(word: 0) { _ in hook() }
    }

    /// `whenReleased`, calling `hook` with `word`: a hook that needs only a number (the C API's
    /// handle for the context) then captures nothing, and keeping it allocates nothing.
    public func whenReleased(word: UInt, _ hook: @escaping @Sendable (UInt) -> Void) -> Bool {
        withCompletion { state in
            guard !state.ended else { return false }
            state.releaseHooks.append(ReleaseHook(hook: hook, word: word))
            return true
        }
    }

    /// Keeps an error message for a failure reported without one (a C callback's status).
    public func noteError(_ message: String) throws(RillflowError) {
        try checkValid()
        withCompletion { $0.error = message }
    }

    /// The message `noteError` kept, if any.
    public var notedError: String? { withCompletion { $0.error } }

    /// What the embedding layer attached to this step's definition.
    public var attachment: (any AnyObject & Sendable)? { execution.definition.steps[stepIndex].attachment }

    /// The run this try belongs to.
    public var run: Run { execution.run }

    /// Input `index` followed by a NUL byte (not counted), for C callers that read it as text.
    /// Made on first use and kept, at a fixed address, until the context is freed.
    public func nulTerminatedInput(_ index: Int) -> UnsafeRawBufferPointer {
        let copy = locked.withLock { all in
            if let copy = all.terminatedInputs[index] { return copy }
            let input = inputs[index]
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count + 1, alignment: 1)
            input.withUnsafeBytes { copy.copyMemory(from: $0) }
            copy[input.count] = 0
            all.terminatedInputs[index] = copy
            return copy
        }
        return UnsafeRawBufferPointer(start: copy.baseAddress, count: copy.count - 1)
    }

    deinit {
        locked.withLock { all in
            for copy in all.terminatedInputs.values { copy.deallocate() }
        }
    }

    private func checkValid() throws(RillflowError) {
        guard valid.load(ordering: .acquiring) else { throw refusal() }
    }

    @inline(never)
    private func refusal() -> RillflowError {
        guard withCompletion({ $0.expired }) else {
            return RillflowError(.invalidState, "the step '\(step)' has returned: its context can no longer be used")
        }
        return RillflowError(.cancelled, "this try of step '\(step)' has timed out: it changes nothing any more")
    }

    /// Sends an event to the steps that accept its type (when this step completes). Only types
    /// the step declared it sends.
    public func send(_ type: String, _ payload: [UInt8]) throws(RillflowError) {
        try checkValid()
        guard execution.definition.steps[stepIndex].sends.contains(type) else {
            throw RillflowError(.invalidArgument, "step '\(step)' did not declare that it sends '\(type)'")
        }
        try withOpenOutbox { box throws(RillflowError) in
            if type == WorkflowDefinition.stopEvent {
                guard box.stopResult == nil else { throw RillflowError(.invalidState, "step '\(step)' has already stopped the run") }
                box.stopResult = payload
            } else {
                box.sends.append((type, [payload]))
            }
        }
    }

    /// Asks a human for input: when this step completes, the run suspends with an
    /// input-required event carrying `prompt` (JSON), and `WorkflowExecution.resume(answer:)`
    /// later delivers the answer as an event of type `answerType`, which this step must declare
    /// among the types it sends. One request per step invocation.
    public func requestInput(prompt: [UInt8], answerType: String) throws(RillflowError) {
        try checkValid()
        guard execution.definition.steps[stepIndex].sends.contains(answerType) else {
            throw RillflowError(.invalidArgument, "step '\(step)' did not declare that it sends '\(answerType)', the answer's event type")
        }
        // Checked now: the engine could only write the question's event cut down to nothing.
        let eventBytes = prompt.count + #"{"prompt":}"#.utf8.count
        guard eventBytes <= execution.run.log.maxDataBytes else {
            throw RillflowError(.tooLarge, "the prompt's event would be \(eventBytes) bytes; the limit (max_event_bytes) is \(execution.run.log.maxDataBytes)")
        }
        try withOpenOutbox { box throws(RillflowError) in
            guard box.inputRequest == nil else { throw RillflowError(.invalidState, "step '\(step)' has already asked for input") }
            box.inputRequest = (prompt, answerType)
        }
    }

    /// Sends a list of items as one event (when this step completes): a foreach step that
    /// accepts it runs once per item. Only types the step declared it sends.
    public func sendEach(_ type: String, items: [[UInt8]]) throws(RillflowError) {
        try checkValid()
        guard execution.definition.steps[stepIndex].sends.contains(type), type != WorkflowDefinition.stopEvent else {
            throw RillflowError(.invalidArgument, "step '\(step)' did not declare that it sends '\(type)'")
        }
        try withOpenOutbox { $0.sends.append((type, items)) }
    }

    /// Sets this invocation's output (JSON): for a foreach item, what its progress event shows
    /// and what goes on, in item order, when all items are done.
    public func setOutput(_ json: [UInt8]) throws(RillflowError) {
        try checkValid()
        try withOpenOutbox { $0.output = json }
    }

    /// Starts a sub-workflow when this step completes: a child run whose events also appear in
    /// this run's stream (with their own run id, and this run as parent). When it completes, its
    /// result (JSON) arrives as an event of `resultType`, which this step must declare among the
    /// types it sends; when it fails, this run fails. Ending this run cancels it.
    public func startChild(_ definition: WorkflowDefinition, functions: [StepFunction], input: [UInt8],
                           resultType: String) throws(RillflowError) {
        try checkValid()
        guard execution.definition.steps[stepIndex].sends.contains(resultType) else {
            throw RillflowError(.invalidArgument, "step '\(step)' did not declare that it sends '\(resultType)', the child's result type")
        }
        guard functions.count == definition.steps.count else {
            throw RillflowError(.invalidArgument, "\(functions.count) step functions for \(definition.steps.count) steps")
        }
        try withOpenOutbox { $0.children.append(ChildRequest(definition: definition, functions: functions, input: input, resultType: resultType)) }
    }

    /// Ends the run with `result` (JSON) as the run's result, when this step completes.
    public func stop(result: [UInt8]) throws(RillflowError) {
        try send(WorkflowDefinition.stopEvent, result)
    }

    /// Writes an event to the run's stream: a token delta, a custom event on a topic, progress.
    @discardableResult
    public func emit(_ kind: EventKind, topic: String = "", data: [UInt8], tokenIndex: UInt64 = 0) throws(RillflowError) -> UInt64 {
        var seq: UInt64 = 0
        var failure: RillflowError?
        data.withUnsafeBytes { bytes in
            do throws(RillflowError) { seq = try emit(kind, topic: topic, bytes: bytes, tokenIndex: tokenIndex) } catch { failure = error }
        }
        if let failure { throw failure }
        return seq
    }

    /// `emit` with the data read in place, copied once into the run's log.
    @discardableResult
    public func emit(_ kind: EventKind, topic: String = "", bytes: UnsafeRawBufferPointer, tokenIndex: UInt64 = 0) throws(RillflowError) -> UInt64 {
        try checkValid()
        guard kind == .token || kind == .custom || kind == .progress else {
            throw RillflowError(.invalidArgument, "a step emits token, custom or progress events; \(kind.name) events are the engine's")
        }
        return try execution.emit(kind, step: step, attempt: attempt, topic: topic, bytes: bytes, tokenIndex: tokenIndex)
    }

    /// Sets a key of the run's state to a JSON value and emits a state-changed event.
    public func setState(_ key: String, json value: [UInt8]) throws(RillflowError) {
        try checkValid()
        try execution.setState(key, value: value, step: step, attempt: attempt)
    }

    /// Whether this try should stop: the run has ended (cancelled, timed out, failed or stopped
    /// by another step) or the try outlived its step's timeout. A long step should check it.
    public var isCancelled: Bool { execution.isFinished || withCompletion { $0.phase == .concluded } }

    /// Adds token usage (an LLM call's counts) to the run's totals, reported on completion.
    public func reportUsage(_ usage: TokenUsage) throws(RillflowError) {
        try checkValid()
        execution.addUsage(usage)
    }

    /// The JSON value of a key of the run's state.
    public func state(_ key: String) throws(RillflowError) -> [UInt8]? {
        try checkValid()
        return execution.state(key)
    }
}

/// A sub-workflow a step asked for.
struct ChildRequest {
    let definition: WorkflowDefinition
    let functions: [StepFunction]
    let input: [UInt8]
    let resultType: String
}
