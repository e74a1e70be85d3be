/// One step to run: which step, the event type that started it, and its inputs (the event's
/// payloads; for a fan-in step those of `collect` events, in arrival order; for one item of a
/// foreach, that item), and for a foreach item its place in its list.
public struct Invocation: Sendable, Equatable {
    public let step: Int
    public let eventType: String
    public let inputs: [[UInt8]]
    public var item: Item? = nil

    /// Where a foreach item stands: its list (`group`), its index and the list's length.
    public struct Item: Sendable, Equatable {
        public let group: Int
        public let index: Int
        public let total: Int
    }
}

/// Turns the events a run's steps send into step invocations: the routing state of one run,
/// with no threads and no clock, so every rule is tested deterministically.
///
/// - An event goes to every step that accepts its type.
/// - A step runs at most `concurrency` invocations at once (0 = no limit); the rest wait in
///   arrival order and start as running ones finish.
/// - A fan-in step (`collect` > 1) gathers that many events of a type into one invocation.
/// - Every started invocation counts against the run's step budget, so a runaway loop ends.
public struct StepRouter: Sendable {
    public let definition: WorkflowDefinition
    public let budget: Int
    public private(set) var started = 0
    private var running: [Int]
    private var waiting: [[Invocation]]
    private var gathered: [[String: [[UInt8]]]]
    private var nextGroup = 0

    public init(definition: WorkflowDefinition, budget: Int) {
        self.definition = definition
        self.budget = budget
        running = Array(repeating: 0, count: definition.steps.count)
        waiting = Array(repeating: [], count: definition.steps.count)
        gathered = Array(repeating: [:], count: definition.steps.count)
    }

    /// A step (or the run's start) sent an event with one payload: the invocations that may
    /// start now. Throws when starting them would exceed the step budget.
    public mutating func deliver(_ type: String, payload: [UInt8]) throws(RillflowError) -> [Invocation] {
        try deliver(type, payloads: [payload])
    }

    /// An event carrying a list of payloads (a foreach's items, or its ordered outputs).
    public mutating func deliver(_ type: String, payloads: [[UInt8]]) throws(RillflowError) -> [Invocation] {
        guard type != WorkflowDefinition.stopEvent else {
            throw RillflowError(.internal, "the stop event ends the run; it is not routed")
        }
        guard let acceptors = definition.acceptors[type] else {
            throw RillflowError(.notFound, "no step of workflow '\(definition.name)' accepts event type '\(type)'")
        }
        var ready: [Invocation] = []
        for step in acceptors {
            // The usual case, one invocation taking the payloads: no temporary array for it.
            guard definition.steps[step].foreachDone != nil || definition.steps[step].collect > 1 else {
                try place(Invocation(step: step, eventType: type, inputs: payloads), into: &ready)
                continue
            }
            var invocations: [Invocation]
            if definition.steps[step].foreachDone != nil {
                guard !payloads.isEmpty else {
                    throw RillflowError(.invalidArgument, "step '\(definition.steps[step].name)' runs per item but '\(type)' carried no items")
                }
                nextGroup += 1
                invocations = payloads.enumerated().map { index, item in
                    Invocation(step: step, eventType: type, inputs: [item],
                               item: Invocation.Item(group: nextGroup, index: index, total: payloads.count))
                }
            } else {
                // Exactly `collect` (> 1) inputs per invocation, however many a list brought at
                // once: what is left over waits for the next.
                let collect = definition.steps[step].collect
                gathered[step][type, default: []].append(contentsOf: payloads)  // in place
                guard gathered[step][type]!.count >= collect else { continue }
                var inputs = gathered[step].removeValue(forKey: type)!
                invocations = []
                while inputs.count >= collect {
                    invocations.append(Invocation(step: step, eventType: type, inputs: Array(inputs.prefix(collect))))
                    inputs.removeFirst(collect)
                }
                if !inputs.isEmpty { gathered[step][type] = inputs }
            }
            for invocation in invocations { try place(invocation, into: &ready) }
        }
        return ready
    }

    /// Starts `invocation` (adding it to `ready`) if its step has room, or queues it.
    private mutating func place(_ invocation: Invocation, into ready: inout [Invocation]) throws(RillflowError) {
        if hasRoom(invocation.step) {
            try start(invocation)
            ready.append(invocation)
        } else {
            waiting[invocation.step].append(invocation)
        }
    }

    /// An invocation of `step` ended: the waiting invocation of that step that may start now.
    public mutating func finished(step: Int) throws(RillflowError) -> [Invocation] {
        guard running[step] > 0 else {
            throw RillflowError(.internal, "step '\(definition.steps[step].name)' finished more invocations than it started")
        }
        running[step] -= 1
        guard !waiting[step].isEmpty, hasRoom(step) else { return [] }
        let next = waiting[step].removeFirst()
        try start(next)
        return [next]
    }

    /// Names of the steps with invocations running (or waiting for a retry), in step order.
    public var activeSteps: [String] {
        running.indices.filter { running[$0] > 0 }.map { definition.steps[$0].name }
    }

    /// Nothing runs and nothing waits: a run here without a stop event can never finish.
    public var isIdle: Bool { running.allSatisfy { $0 == 0 } && waiting.allSatisfy(\.isEmpty) }

    /// Events gathered by fan-in steps that never reached their count (reported when a run goes idle).
    public var incompleteFanIns: [(step: String, type: String, have: Int, need: Int)] {
        gathered.enumerated().flatMap { step, byType in
            byType.map { (definition.steps[step].name, $0.key, $0.value.count, definition.steps[step].collect) }
        }
    }

    private func hasRoom(_ step: Int) -> Bool {
        let limit = definition.steps[step].concurrency
        return limit == 0 || running[step] < limit
    }

    /// A running invocation of `step` is to be tried again: tries count against the budget too.
    public mutating func retrying(step: Int) throws(RillflowError) {
        try spendBudget(on: step)
    }

    private mutating func start(_ invocation: Invocation) throws(RillflowError) {
        try spendBudget(on: invocation.step)
        running[invocation.step] += 1
    }

    private mutating func spendBudget(on step: Int) throws(RillflowError) {
        guard started < budget else {
            throw RillflowError(.invalidState, "the run's step budget of \(budget) invocations is used up (a loop that never ends?); step '\(definition.steps[step].name)' would have run next")
        }
        started += 1
    }
}
