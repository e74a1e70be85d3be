import Testing
@testable import RillflowCore

@Suite struct EventEnvelopeTests {
    private func render(kind: EventKind, data: String, step: String = "write", topic: String = "") -> String {
        var output: [UInt8] = []
        let workflow = Array("demo".utf8), stepBytes = Array(step.utf8), topicBytes = Array(topic.utf8), dataBytes = Array(data.utf8)
        workflow.withUnsafeBytes { w in stepBytes.withUnsafeBytes { s in topicBytes.withUnsafeBytes { t in dataBytes.withUnsafeBytes { d in
            EventEnvelope(kind: UInt32(kind.rawValue), seq: 7, timestampNanoseconds: 1_763_703_270_123_456_789, runId: 1,
                          parentRunId: 0, rootRunId: 1, workflow: w, step: s, topic: t, attempt: 1, tokenIndex: 3, data: d)
                .renderJSON(into: &output)
        } } } }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func tokenDataIsAnEscapedString() {
        #expect(render(kind: .token, data: "He said \"hi\"\n") ==
            #"{"seq":7,"kind":"token","timestamp_ns":1763703270123456789,"time":"2025-11-21T05:34:30.123456789Z","run_id":1,"parent_run_id":null,"root_run_id":1,"workflow":"demo","step":"write","topic":null,"attempt":1,"token_index":3,"data":"He said \"hi\"\n"}"#)
    }

    @Test func structuredDataIsEmbeddedAsIs() {
        let json = render(kind: .progress, data: #"{"completed":1,"total":3}"#, step: "", topic: "")
        #expect(json.contains(#""step":null"#))
        #expect(json.contains(#""token_index":null"#))
        #expect(json.hasSuffix(#""data":{"completed":1,"total":3}}"#))
    }

    @Test func invalidUTF8AndControlCharactersStayValidJSON() {
        var output: [UInt8] = []
        let bytes: [UInt8] = [0x61, 0xFF, 0x01, 0xE2, 0x82, 0xAC, 0xED, 0xA0, 0x80]
        bytes.withUnsafeBytes { JSONEscaping.appendString($0, to: &output) }
        #expect(String(decoding: output, as: UTF8.self) == "\"a\u{FFFD}\\u0001€\u{FFFD}\u{FFFD}\u{FFFD}\"")
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000000Z"),
        (Int64(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z"),
        (Int64(-1), "1969-12-31T23:59:59.999999999Z"),
    ])
    func isoTimestamps(nanoseconds: Int64, expected: String) {
        #expect(ISO8601.format(nanoseconds: nanoseconds) == expected)
    }
}
