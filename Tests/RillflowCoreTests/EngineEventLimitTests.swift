import Testing
@testable import RillflowCore

/// The engine's own events are written whatever the limits: cut to fit max_event_bytes and,
/// for terminal events, the room every log keeps for them, so a run always ends.
@Suite struct EngineEventLimitTests {
    static func engine(maxEventBytes: Int) throws -> Engine {
        Engine(configuration: try EngineConfiguration(workerThreads: 1, logCapacity: 1 << 20, maxEventBytes: maxEventBytes))
    }

    /// A long error mixing one-, two- and four-byte characters, so cuts land inside them.
    static let longError = String(repeating: "é-😀 x", count: 500)

    static func failingRun(maxEventBytes: Int) throws -> (events: [LogTest.Seen], run: Run) {
        try WorkflowExecutionTests.run([StepDefinition(name: "broken", accepts: ["start"], sends: ["stop"])],
                                       [{ _ in .failed(longError) }], engine: try engine(maxEventBytes: maxEventBytes))
    }

    @Test func aLongStepErrorStillFailsTheRunUnderTheSmallestEventLimit() throws {
        let limit = EngineConfiguration.minimumMaxEventBytes
        let (events, run) = try Self.failingRun(maxEventBytes: limit)
        #expect(events.map(\.kind) == [.runStarted, .stepStarted, .stepFailed, .runFailed])
        for event in events { #expect(event.data.utf8.count <= limit, "\(event.kind): \(event.data.utf8.count) bytes") }
        let failed = try #require(events.first { $0.kind == .stepFailed })
        #expect(failed.data.hasPrefix(#"{"error":""#) && failed.data.contains("…"))
        #expect(run.status == .failed)
        #expect(String(decoding: run.outcome!.detail, as: UTF8.self) == "step 'broken' failed: \(Self.longError)")
    }

    @Test func aLongFailureIsCutToTheRoomKeptForTheTerminalEvent() throws {
        let (events, run) = try Self.failingRun(maxEventBytes: 64 << 10)
        let stepFailed = try #require(events.first { $0.kind == .stepFailed })
        #expect(stepFailed.data.contains(Self.longError))  // within max_event_bytes: whole
        let runFailed = try #require(events.last)
        #expect(runFailed.kind == .runFailed && runFailed.data.utf8.count <= RunLog.terminalDataReserve)
        #expect(runFailed.data.hasPrefix(#"{"step":"broken","error":"é-😀"#) && runFailed.data.contains("…\",\"attempts\":1,"))
        #expect(run.status == .failed)
    }

    @Test func aLongCancelReasonIsCutAndTheRunEnds() throws {
        let run = LogTest.startedRun(try Self.engine(maxEventBytes: EngineConfiguration.minimumMaxEventBytes))
        let reason = String(repeating: "why ", count: 1000)
        try run.endByEngine(.runCancelled, detail: Array(reason.utf8)) { $0.field("reason", string: reason) }
        #expect(run.status == .cancelled)
        #expect(String(decoding: run.outcome!.detail, as: UTF8.self) == reason)
    }

    @Test func fittedJSONCutsStringsAtCharacterBoundaries() {
        let build: (inout JSONText) -> Void = { json in
            json.object {
                $0.field("text", string: "aé😀b")
                $0.field("list", strings: ["one", "two", "three"])
                $0.field("n", number: 7)
            }
        }
        #expect(String(decoding: JSONText.fitted(limit: 1000, build).bytes, as: UTF8.self)
            == #"{"text":"aé😀b","list":["one","two","three"],"n":7}"#)
        #expect(String(decoding: JSONText.fitted(limit: 30, build).bytes, as: UTF8.self) == #"{"text":"","list":[],"n":7}"#)
        #expect(String(decoding: JSONText.fitted(limit: 5, build).bytes, as: UTF8.self) == "{}")
        #expect(JSONText.fitted(limit: 1, build).bytes.isEmpty)
        #expect(JSONText.cut("aé😀b", toBytes: 5) == "a…")   // "é" would end past 5 with the ellipsis
        #expect(JSONText.cut("aé😀b", toBytes: 7) == "aé…")  // the emoji takes 4
        #expect(JSONText.cut("aé😀b", toBytes: 8) == "aé😀b")
        #expect(JSONText.cut("aé😀b", toBytes: 2) == "")
        #expect(JSONText.cut("short", toBytes: 5) == "short")
    }

    @Test func aNumberObjectWrittenInPlaceIsTheObjectTheWriterBuilds() {
        for number: Int64 in [0, 7, 10, 123_456, -1, -90, .max, .min] {
            var built = JSONText()
            built.object { $0.field("duration_ns", number: number) }
            var buffer = [UInt8](repeating: 0xFF, count: 64)
            let length = buffer.withUnsafeMutableBytes { JSONText.numberObject("duration_ns", number, into: $0) }
            #expect(length.map { Array(buffer[..<$0]) } == built.bytes, "\(number)")
            #expect(buffer[(length ?? 0)...].allSatisfy { $0 == 0xFF })  // nothing written past it
        }
        // `{"n":-9223372036854775808}` is 26 bytes: one byte less is refused, untouched.
        var small = [UInt8](repeating: 0xFF, count: 25)
        #expect(small.withUnsafeMutableBytes { JSONText.numberObject("n", .min, into: $0) } == nil)
        #expect(small.allSatisfy { $0 == 0xFF })
        var exact = [UInt8](repeating: 0xFF, count: 26)
        #expect(exact.withUnsafeMutableBytes { JSONText.numberObject("n", .min, into: $0) } == 26)
        #expect(String(decoding: exact, as: UTF8.self) == #"{"n":-9223372036854775808}"#)
    }

    @Test func aPromptTooLargeForItsEventIsRefusedWhenAsked() throws {
        let kept = Lock<RillflowError?>(nil)
        let steps = [StepDefinition(name: "ask", accepts: ["start"], sends: ["answer", "stop"]),
                     StepDefinition(name: "answered", accepts: ["answer"], sends: ["stop"])]
        let (_, run) = try WorkflowExecutionTests.run(steps, [{ ctx in
            do throws(RillflowError) {
                try ctx.requestInput(prompt: Array("\"\(String(repeating: "?", count: 1020))\"".utf8), answerType: "answer")
            } catch {
                kept.withLock { $0 = error }
            }
            try? ctx.stop(result: [])
            return .completed
        }, { _ in .completed }], engine: try Self.engine(maxEventBytes: EngineConfiguration.minimumMaxEventBytes))
        #expect(kept.withLock { $0 }?.code == .tooLarge)
        #expect(run.status == .completed)
    }
}
