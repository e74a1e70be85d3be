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

    /// The usage a RUN_COMPLETED event's data records: the `"usage"` object the engine writes
    /// last in it (see `write(to:)`), all five counts. Nil when the data does not end with one
    /// (a manual run's own terminal data may be anything).
    init?(completedRunData data: [UInt8]) {
        let marker = Array(#","usage":{"#.utf8)
        guard data.count > marker.count + 2, data.last == UInt8(ascii: "}") else { return nil }
        // The last occurrence: the result before it may hold an object with such a field too
        // (inside a JSON string its quotes would be escaped).
        guard let start = stride(from: data.count - marker.count, through: 0, by: -1)
            .first(where: { data[$0 ..< $0 + marker.count].elementsEqual(marker) }) else { return nil }
        var fields: [String: UInt64] = [:]
        var index = start + marker.count
        while true {
            guard index < data.count, data[index] == UInt8(ascii: "\""),
                  let nameEnd = data[(index + 1)...].firstIndex(of: UInt8(ascii: "\"")),
                  nameEnd + 1 < data.count, data[nameEnd + 1] == UInt8(ascii: ":") else { return nil }
            let name = String(decoding: data[(index + 1) ..< nameEnd], as: UTF8.self)
            index = nameEnd + 2
            var value: UInt64 = 0
            let digitsStart = index
            while index < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[index]) {
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(data[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            guard index > digitsStart, index < data.count else { return nil }
            fields[name] = value
            if data[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard data[index] == UInt8(ascii: "}") else { return nil }
            break
        }
        // The usage object's brace, then the event object's: the last byte.
        guard index + 2 == data.count, let input = fields["input_tokens"], let output = fields["output_tokens"],
              let total = fields["total_tokens"], let reasoning = fields["reasoning_tokens"],
              let cachedInput = fields["cached_input_tokens"], fields.count == 5 else { return nil }
        self.init(input: input, output: output, total: total, reasoning: reasoning, cachedInput: cachedInput)
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
