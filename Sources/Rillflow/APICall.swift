import CRillflow
import RillflowCore

/// A failed C API call: the status it returns and the message `rf_last_error()` will show.
struct APIFailure: Error {
    var status: rf_status
    var message: String

    init(_ status: rf_status, _ message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: RillflowError) {
        self.init(error.code.status, error.message)
    }

    static func invalidArgument(_ message: String) -> APIFailure { APIFailure(RF_E_INVALID_ARGUMENT, message) }
    static func invalidHandle(_ kind: HandleKind, _ parameter: String) -> APIFailure {
        let forked = ForkedChild.isForked.load(ordering: .relaxed)
            ? "; in a process made by fork(), handles made before the fork are refused: make a new engine" : ""
        return APIFailure(RF_E_INVALID_HANDLE, "\(parameter) is not a live \(kind.typeName) handle (NULL, released, stale, foreign or of another type)\(forked)")
    }
}

extension HandleKind {
    var typeName: String {
        switch self {
        case .engine: "rf_engine"
        case .workflow: "rf_workflow"
        case .run: "rf_run"
        case .subscription: "rf_subscription"
        case .stepContext: "rf_step_ctx"
        case .sink: "rf_sink"
        }
    }
}

extension RillflowErrorCode {
    /// The C status each engine error is reported as.
    var status: rf_status {
        switch self {
        case .invalidArgument: RF_E_INVALID_ARGUMENT
        case .noMemory: RF_E_NO_MEMORY
        case .invalidState: RF_E_STATE
        case .timeout: RF_E_TIMEOUT
        case .wouldBlock: RF_E_AGAIN
        case .cancelled: RF_E_CANCELLED
        case .closed: RF_E_CLOSED
        case .endOfStream: RF_E_END_OF_STREAM
        case .tooLarge: RF_E_TOO_LARGE
        case .notFound: RF_E_NOT_FOUND
        case .sequenceUnavailable: RF_E_SEQ_UNAVAILABLE
        case .corrupt: RF_E_CORRUPT
        case .system: RF_E_SYSTEM
        case .internal: RF_E_INTERNAL
        }
    }
}

/// Runs the body of a C API function: a thrown failure becomes its status, and its message,
/// prefixed with the function's name, becomes the thread's `rf_last_error()`.
@inline(__always)
func apiCall(_ function: StaticString, _ body: () throws(APIFailure) -> Void) -> rf_status {
    do {
        try body()
        return RF_OK
    } catch {
        LastError.set("\(function): \(error.message)")
        return error.status
    }
}

/// Adapts engine errors to API failures inside `apiCall` bodies.
@inline(__always)
func engineCall<T>(_ body: () throws(RillflowError) -> T) throws(APIFailure) -> T {
    do {
        return try body()
    } catch {
        throw APIFailure(error)
    }
}

/// Checks a required out-parameter.
@inline(__always)
func required<T>(_ pointer: T?, _ name: String) throws(APIFailure) -> T {
    guard let pointer else { throw .invalidArgument("\(name) is NULL") }
    return pointer
}
