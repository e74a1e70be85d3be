/// Where a run is in its life. Raw values are the C API's `RF_RUN_*` values.
public enum RunStatus: UInt32, Sendable {
    case pending = 1
    case running = 2
    case suspended = 3
    case completed = 4
    case failed = 5
    case timedOut = 6
    case cancelled = 7
    /// Reopened from a durable history without a terminal event: its process stopped first.
    case interrupted = 8

    public var isFinished: Bool { rawValue >= RunStatus.completed.rawValue }

    /// The status a terminal event leaves the run in.
    init?(terminal kind: EventKind) {
        switch kind {
        case .runCompleted: self = .completed
        case .runFailed: self = .failed
        case .runTimedOut: self = .timedOut
        case .runCancelled: self = .cancelled
        default: return nil
        }
    }
}
