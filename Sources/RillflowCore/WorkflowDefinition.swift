/// A named set of steps and how events route between them, validated when built and frozen
/// afterwards. Steps accept named event types and send named events; that one model gives
/// chains, branches, loops, fan-out and fan-in.
public final class WorkflowDefinition: Sendable {
    /// The event a run starts with, carrying the run's input.
    public static let startEvent = "start"
    /// The event that ends a run with its result.
    public static let stopEvent = "stop"

    public let name: String
    public let steps: [StepDefinition]
    /// For each event type, the indices of the steps that accept it.
    public let acceptors: [String: [Int]]

    /// Builds and validates; every error names the step and event type at fault.
    public init(name: String, steps: [StepDefinition]) throws(RillflowError) {
        try Self.checkName(name, what: "workflow name")
        guard !steps.isEmpty else { throw RillflowError(.invalidArgument, "workflow '\(name)' has no steps") }
        var seen = Set<String>()
        var acceptors: [String: [Int]] = [:]
        var validated: [StepDefinition] = []
        for (index, step) in steps.enumerated() {
            let step = try step.validated()
            guard seen.insert(step.name).inserted else {
                throw RillflowError(.invalidArgument, "duplicate step name '\(step.name)'")
            }
            for type in Set(step.accepts) { acceptors[type, default: []].append(index) }
            validated.append(step)
        }
        guard acceptors[Self.startEvent] != nil else {
            throw RillflowError(.invalidArgument, "no step accepts the start event '\(Self.startEvent)'")
        }
        let sent = Set(validated.flatMap(\.sends))
        for step in validated {
            for type in step.sends where type != Self.stopEvent && acceptors[type] == nil {
                throw RillflowError(.invalidArgument, "event type '\(type)' sent by step '\(step.name)' is accepted by no step")
            }
            for type in step.accepts where type != Self.startEvent && !sent.contains(type) {
                throw RillflowError(.invalidArgument, "unknown event type '\(type)': step '\(step.name)' accepts it but no step sends it")
            }
        }
        // Every step must be reachable from the start event through accepts and sends.
        var reached = Set<Int>(), frontier = [Self.startEvent], visitedTypes = Set<String>()
        while let type = frontier.popLast() {
            guard visitedTypes.insert(type).inserted else { continue }
            for index in acceptors[type] ?? [] where reached.insert(index).inserted {
                frontier.append(contentsOf: validated[index].sends)
            }
        }
        if let unreachable = validated.indices.first(where: { !reached.contains($0) }) {
            throw RillflowError(.invalidArgument, "step '\(validated[unreachable].name)' can never run: no path of events from '\(Self.startEvent)' reaches it")
        }
        if !visitedTypes.contains(Self.stopEvent) {
            throw RillflowError(.invalidArgument, "no step sends the stop event '\(Self.stopEvent)': the workflow could never complete")
        }
        self.name = name
        self.steps = validated
        self.acceptors = acceptors
    }

    static func checkName(_ name: String, what: String) throws(RillflowError) {
        guard !name.isEmpty, name.utf8.count <= EventRecord.maximumNameLength else {
            throw RillflowError(.invalidArgument, "\(what) '\(name)' must be 1 to \(EventRecord.maximumNameLength) bytes")
        }
    }
}
