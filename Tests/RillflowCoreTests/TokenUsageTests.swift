import Testing
@testable import RillflowCore

/// Reading back the usage a RUN_COMPLETED event recorded (for runs reopened from disk).
@Suite struct TokenUsageTests {
    static func completedData(result: String, _ usage: TokenUsage) -> [UInt8] {
        var json = JSONText()
        json.object {
            $0.field("result", json: Array(result.utf8))
            $0.field("usage") { usage.write(to: &$0) }
        }
        return json.withBytes { Array($0) }
    }

    @Test(arguments: [
        "true", "null", #"{"text":"Hello!"}"#,
        // A result holding its own "usage" object, even one in the same shape: the event's
        // own comes last.
        #"{"a":1,"usage":{"input_tokens":5,"output_tokens":5,"total_tokens":5,"reasoning_tokens":5,"cached_input_tokens":5}}"#,
        #"[",\"usage\":{"]"#,
    ])
    func theEnginesOwnUsageObjectIsReadBack(result: String) {
        let usage = TokenUsage(input: 11, output: 22, total: 33, reasoning: 4, cachedInput: UInt64.max)
        #expect(TokenUsage(completedRunData: Self.completedData(result: result, usage)) == usage)
    }

    @Test(arguments: [
        #"{"answer":42}"#,  // a manual run's own terminal data
        "",
        "}",
        #"{"result":1,"usage":{}}"#,
        #"{"result":1,"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4}}"#,  // one missing
        #"{"result":1,"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4,"cached_input_tokens":5,"more":6}}"#,
        #"{"result":1,"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4,"cached_input_tokens":5}} "#,
        #"{"result":1,"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4,"cached_input_tokens":5}"#,
        #"{"result":1,"usage":{"input_tokens":-1,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4,"cached_input_tokens":5}}"#,
        #"{"result":1,"usage":{"input_tokens":18446744073709551616,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4,"cached_input_tokens":5}}"#,
        #"{"result":1,"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"reasoning_tokens":4,"cached_input_tokens":}}"#,
        #"{"result":1,"usage":{"input_tokens" 1}}"#,
    ])
    func anythingElseRecordsNoUsage(data: String) {
        #expect(TokenUsage(completedRunData: Array(data.utf8)) == nil)
    }
}
