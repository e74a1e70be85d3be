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

    public init(name: String, accepts: [String], sends: [String], concurrency: Int = 1, collect: Int = 1,
                foreachDone: String? = nil, timeoutNanoseconds: Int64? = nil, retry: RetryPolicy = .none) {
        self.collect = collect
        self.foreachDone = foreachDone
        self.name = name
        self.accepts = accepts
        self.sends = sends
        self.concurrency = concurrency
        self.timeoutNanoseconds = timeoutNanoseconds
        self.retry = retry
    }
}
