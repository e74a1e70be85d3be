/// The root object: limits and defaults shared by every workflow and run it hosts.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration

    public init(configuration: EngineConfiguration) {
        self.configuration = configuration
    }
}
