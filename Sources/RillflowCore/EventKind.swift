/// What an event says happened. Raw values are the C API's `RF_EVENT_*` values.
public enum EventKind: UInt16, Sendable, CaseIterable {
    case runStarted = 1
    case stepStarted = 2
    case token = 3
    case custom = 4
    case progress = 5
    case stateChanged = 6
    case stepCompleted = 7
    case stepRetrying = 8
    case stepFailed = 9
    case inputRequired = 10
    case runResumed = 11
    case runCompleted = 12
    case runFailed = 13
    case runTimedOut = 14
    case runCancelled = 15
    /// Per subscription only: how many events a lossy subscription skipped.
    case lagged = 16

    /// The name used in the JSON envelope and by `rf_event_kind_name`.
    public var name: StaticString {
        switch self {
        case .runStarted: "run_started"
        case .stepStarted: "step_started"
        case .token: "token"
        case .custom: "custom"
        case .progress: "progress"
        case .stateChanged: "state_changed"
        case .stepCompleted: "step_completed"
        case .stepRetrying: "step_retrying"
        case .stepFailed: "step_failed"
        case .inputRequired: "input_required"
        case .runResumed: "run_resumed"
        case .runCompleted: "run_completed"
        case .runFailed: "run_failed"
        case .runTimedOut: "run_timed_out"
        case .runCancelled: "run_cancelled"
        case .lagged: "lagged"
        }
    }

    /// The kind whose raw value is `raw`, or nil. The emit path checks every event's kind: this
    /// is one compare, where the derived `init(rawValue:)` is a call into a switch. Cases are
    /// numbered 1...16 in declaration order, and a payload-free enum's in-memory value is its
    /// declaration index (EventKindTests pins the two together).
    @inline(__always)
    public init?(raw: UInt32) {
        let index = raw &- 1
        guard index < 16 else { return nil }
        self = unsafeBitCast(UInt8(truncatingIfNeeded: index), to: EventKind.self)
    }

    /// Terminal kinds end a run's stream: exactly one per run, and it is the last event.
    public var isTerminal: Bool { KindSet.terminal.contains(self) }

    var bit: UInt32 { 1 << UInt32(rawValue) }
}

/// A set of event kinds as a bit mask (bit `kind.rawValue`), the form filters are checked in.
public struct KindSet: Sendable, Equatable {
    public var mask: UInt32

    public init(mask: UInt32) { self.mask = mask }
    public init(_ kinds: [EventKind]) { mask = kinds.reduce(0) { $0 | $1.bit } }

    public func contains(_ kind: EventKind) -> Bool { mask & kind.bit != 0 }
    func contains(rawKind: UInt16) -> Bool { rawKind < 32 && mask & (1 << UInt32(rawKind)) != 0 }

    // Literal masks (checked by EventKindTests) rather than stored statics: these are read on
    // every emit and read, where a lazily initialized global would cost a call each time.
    /// runCompleted, runFailed, runTimedOut, runCancelled (bits 12 to 15).
    public static var terminal: KindSet { KindSet(mask: 0xF000) }
    /// Every defined kind (bits 1 to 16).
    public static var all: KindSet { KindSet(mask: 0x1FFFE) }
    /// Kinds only the engine writes: runStarted, the terminal kinds and lagged (bits 1, 12 to 16).
    public static var engineOnly: KindSet { KindSet(mask: 0x1F002) }
}

/// The five stream modes: named filters over kinds. Terminal (and lagged) events always pass.
public enum StreamMode: UInt32, Sendable {
    /// Everything, token deltas included.
    case tokens = 0
    /// Everything but token deltas.
    case messages = 1
    /// Step completions, state changes, input required, and the terminal event.
    case updates = 2
    /// State changes and the terminal event.
    case values = 3
    /// A caller-chosen set of kinds and custom-event topics.
    case custom = 4

    /// The kinds this mode lets through; for `.custom` the caller's set.
    func kinds(custom: KindSet) -> KindSet {
        let base: KindSet
        switch self {
        case .tokens: base = .all
        case .messages: base = KindSet(mask: KindSet.all.mask & ~EventKind.token.bit)
        case .updates: base = KindSet([.stepCompleted, .stateChanged, .inputRequired])
        case .values: base = KindSet([.stateChanged])
        case .custom: base = custom
        }
        return KindSet(mask: base.mask | KindSet.terminal.mask | EventKind.lagged.bit)
    }
}
