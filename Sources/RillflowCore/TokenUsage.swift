/// Token counts of LLM calls, summed per run.
public struct TokenUsage: Sendable, Equatable {
    public var input: UInt64
    public var output: UInt64
    public var total: UInt64
    public var reasoning: UInt64
    public var cachedInput: UInt64

    public init(input: UInt64 = 0, output: UInt64 = 0, total: UInt64 = 0, reasoning: UInt64 = 0, cachedInput: UInt64 = 0) {
        self.input = input
        self.output = output
        self.total = total
        self.reasoning = reasoning
        self.cachedInput = cachedInput
    }

    static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        TokenUsage(input: a.input &+ b.input, output: a.output &+ b.output, total: a.total &+ b.total,
                   reasoning: a.reasoning &+ b.reasoning, cachedInput: a.cachedInput &+ b.cachedInput)
    }

    /// The JSON object the run-completed event carries.
    func write(to object: inout JSONText.ObjectWriter) {
        object.field("input_tokens", number: input)
        object.field("output_tokens", number: output)
        object.field("total_tokens", number: total)
        object.field("reasoning_tokens", number: reasoning)
        object.field("cached_input_tokens", number: cachedInput)
    }
}
