/// One step of a workflow: the named events it accepts, the ones it may send, and how it runs.
public struct StepDefinition: Sendable {
    public var name: String
    /// Event types that start this step (`WorkflowDefinition.startEvent` for the first step).
    public var accepts: [String]
    /// Event types it may send (`WorkflowDefinition.stopEvent` to end the run with a result).
    public var sends: [String]
    /// Invocations of this step that may run at once; 0 = no limit.
    public var concurrency: Int
    /// Fan-in: events of an accepted type gathered before one invocation gets them all;
    /// 1 = every event starts the step.
    public var collect: Int
    /// Foreach: when set, each event this step accepts carries a list of items; the step runs
    /// once per item (within `concurrency`), a progress event follows each item, and when all
    /// are done their outputs go on together, in item order, as one event of this type.
    public var foreachDone: String?
    /// How long one try may take; nil = no limit.
    public var timeoutNanoseconds: Int64?
    public var retry: RetryPolicy
    /// Its function only hands the invocation to a host (a `HostTaskQueue`) and returns
    /// `.pending`: cheap, so the engine calls it on the routing thread instead of a worker.
    public var runsOnHost: Bool
    /// Whatever the embedding layer attaches to the step (the C API: its user data and names).
    public var attachment: (any AnyObject & Sendable)?

    public init(name: String, accepts: [String], sends: [String], concurrency: Int = 1, collect: Int = 1,
                foreachDone: String? = nil, timeoutNanoseconds: Int64? = nil, retry: RetryPolicy = .none,
                runsOnHost: Bool = false, attachment: (any AnyObject & Sendable)? = nil) {
        self.runsOnHost = runsOnHost
        self.attachment = attachment
        self.collect = collect
        self.foreachDone = foreachDone
        self.name = name
        self.accepts = accepts
        self.sends = sends
        self.concurrency = concurrency
        self.timeoutNanoseconds = timeoutNanoseconds
        self.retry = retry
    }

    /// Checks the step on its own (names, limits, retry policy); the workflow checks how steps
    /// fit together. Every message names the step.
    public func validated() throws(RillflowError) -> StepDefinition {
        try WorkflowDefinition.checkName(name, what: "step name")
        guard !accepts.isEmpty else {
            throw RillflowError(.invalidArgument, "step '\(name)' accepts no event type")
        }
        for type in accepts + sends { try WorkflowDefinition.checkName(type, what: "event type of step '\(name)'") }
        guard !accepts.contains(WorkflowDefinition.stopEvent) else {
            throw RillflowError(.invalidArgument, "step '\(name)' accepts the stop event, which ends the run instead")
        }
        guard concurrency >= 0 else {
            throw RillflowError(.invalidArgument, "step '\(name)': concurrency is \(concurrency); use 0 (no limit) or more")
        }
        if let done = foreachDone, !sends.contains(done) {
            throw RillflowError(.invalidArgument, "step '\(name)' sends its foreach outputs as '\(done)' but does not declare that it sends it")
        }
        guard foreachDone == nil || collect == 1 else {
            throw RillflowError(.invalidArgument, "step '\(name)' cannot both run per item (foreach) and gather events (collect)")
        }
        guard collect >= 1 else {
            throw RillflowError(.invalidArgument, "step '\(name)': collect is \(collect); it must be 1 or more")
        }
        if let timeout = timeoutNanoseconds, timeout <= 0 {
            throw RillflowError(.invalidArgument, "step '\(name)': a timeout must be positive")
        }
        var step = self
        step.retry = try retry.validated(step: name)
        return step
    }
}
