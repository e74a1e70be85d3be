@testable import RillflowCore

/// Helpers to build runs with small logs and to emit and read recognizable events.
enum LogTest {
    static func engine(logCapacity: Int = 64 << 10, history: UInt64 = 0, emitTimeout: UInt32? = nil) -> Engine {
        Engine(configuration: try! EngineConfiguration(
            workerThreads: 1, logCapacity: logCapacity, maxEventBytes: 4096,
            historyBytes: history, emitTimeoutMilliseconds: emitTimeout))
    }

    static func startedRun(_ engine: Engine) -> Run {
        let run = Run(engine: engine, workflowName: "test")
        try! run.start(inputBytes: 0)
        return run
    }

    /// Emits a custom event whose data is "producer:index" and topic is "p<producer>".
    @discardableResult
    static func emit(_ run: Run, producer: Int, index: Int, kind: EventKind = .custom) throws -> UInt64 {
        var data = "\(producer):\(index)"
        var topic = "p\(producer)"
        return try data.withUTF8 { dataBytes in
            try topic.withUTF8 { topicBytes in
                try run.emit(EventDraft(kind: kind, topic: UnsafeRawBufferPointer(topicBytes), data: UnsafeRawBufferPointer(dataBytes)))
            }
        }
    }

    /// Emits custom events "producer:index" for each of `indices`, topic "p<producer>", with
    /// one batch call; returns their seqs.
    @discardableResult
    static func emitBatch(_ run: Run, producer: Int, indices: Range<Int>, kind: EventKind = .custom) throws -> [UInt64] {
        let texts = indices.map { Array("\(producer):\($0)".utf8) }
        let joined = texts.flatMap { $0 }
        let topic = Array("p\(producer)".utf8)
        var seqs = [UInt64](repeating: 0, count: texts.count)
        var written = 0
        try joined.withUnsafeBytes { all in
            try topic.withUnsafeBytes { topicBytes in
                var offset = 0
                let drafts = texts.map { text -> EventDraft in
                    defer { offset += text.count }
                    return EventDraft(kind: kind, topic: topicBytes, data: UnsafeRawBufferPointer(rebasing: all[offset..<offset + text.count]))
                }
                try drafts.withUnsafeBufferPointer { buffer in
                    try seqs.withUnsafeMutableBufferPointer { out in
                        try run.emit(batch: buffer, seqs: out.baseAddress, written: &written)
                    }
                }
            }
        }
        return seqs
    }

    /// One delivered event, copied out of its view.
    struct Seen: Equatable {
        var kind: EventKind
        var seq: UInt64
        var data: String
        var step = ""
        var attempt: UInt32 = 0
        var runId: UInt64 = 0
        var parentRunId: UInt64 = 0
        var rootRunId: UInt64 = 0
        var workflow = ""
        var timestamp: Int64 = 0

        init(_ view: EventView) {
            kind = view.kind
            timestamp = view.timestamp
            seq = view.seq
            data = String(cString: view.data)
            step = String(cString: view.step)
            attempt = view.attempt
            runId = view.source.runId
            parentRunId = view.source.parentRunId
            rootRunId = view.source.rootRunId
            workflow = view.source.workflowName
        }
    }

    /// Reads until the end of the stream (or `until` returns true), collecting every event.
    static func drain(_ subscription: Subscription, batch: Int = 64, until: ((Seen) -> Bool)? = nil) -> [Seen] {
        var seen: [Seen] = []
        var stop = false
        while !stop {
            do {
                _ = try subscription.read(limit: batch, timeoutMilliseconds: 10_000) { view in
                    let item = Seen(view)
                    seen.append(item)
                    if until?(item) == true { stop = true }
                    return true
                }
            } catch {
                if error.code != .endOfStream { Issue.record("read failed: \(error)") }
                break
            }
        }
        return seen
    }
}

import Testing
