/// Why an engine operation failed. The C layer maps each code to one `rf_status`.
public enum RillflowErrorCode: Sendable, Equatable {
    case invalidArgument
    case noMemory
    case invalidState
    case timeout
    case wouldBlock
    /// The step's try has ended (its timeout passed) while its code still holds the context.
    case cancelled
    case closed
    case endOfStream
    case tooLarge
    case notFound
    case sequenceUnavailable
    case corrupt
    case system
    case `internal`
}

/// An engine error: a code for programs and a message for people.
public struct RillflowError: Error, Sendable, Equatable {
    public var code: RillflowErrorCode
    public var message: String

    public init(_ code: RillflowErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
