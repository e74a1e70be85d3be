/// The fields of one event as the JSON envelope renders them, whatever they were read from
/// (a log record, a C `rf_event` a host built, a history record).
public struct EventEnvelope {
    public var kind: UInt32
    public var seq: UInt64
    public var timestampNanoseconds: Int64
    public var runId: UInt64
    public var parentRunId: UInt64
    public var rootRunId: UInt64
    public var workflow: UnsafeRawBufferPointer
    public var step: UnsafeRawBufferPointer
    public var topic: UnsafeRawBufferPointer
    public var attempt: UInt32
    public var tokenIndex: UInt64
    public var data: UnsafeRawBufferPointer

    public init(kind: UInt32, seq: UInt64, timestampNanoseconds: Int64, runId: UInt64, parentRunId: UInt64,
                rootRunId: UInt64, workflow: UnsafeRawBufferPointer, step: UnsafeRawBufferPointer,
                topic: UnsafeRawBufferPointer, attempt: UInt32, tokenIndex: UInt64, data: UnsafeRawBufferPointer) {
        self.kind = kind
        self.seq = seq
        self.timestampNanoseconds = timestampNanoseconds
        self.runId = runId
        self.parentRunId = parentRunId
        self.rootRunId = rootRunId
        self.workflow = workflow
        self.step = step
        self.topic = topic
        self.attempt = attempt
        self.tokenIndex = tokenIndex
        self.data = data
    }

    /// Renders the envelope as one JSON object (see `rf_event_to_json` in the header).
    public func renderJSON(into output: inout [UInt8]) {
        let eventKind = kind <= UInt32(UInt16.max) ? EventKind(rawValue: UInt16(kind)) : nil
        func raw(_ text: StaticString) {
            output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        func number<T: BinaryInteger>(_ value: T) { output.append(contentsOf: String(value).utf8) }
        func stringOrNull(_ bytes: UnsafeRawBufferPointer) {
            if bytes.isEmpty { raw("null") } else { JSONEscaping.appendString(bytes, to: &output) }
        }
        raw("{\"seq\":"); number(seq)
        raw(",\"kind\":\"")
        if let eventKind { let name = eventKind.name; output.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)) } else { raw("unknown") }
        raw("\",\"timestamp_ns\":"); number(timestampNanoseconds)
        raw(",\"time\":\""); output.append(contentsOf: ISO8601.format(nanoseconds: timestampNanoseconds).utf8)
        raw("\",\"run_id\":"); number(runId)
        raw(",\"parent_run_id\":"); if parentRunId == 0 { raw("null") } else { number(parentRunId) }
        raw(",\"root_run_id\":"); number(rootRunId)
        raw(",\"workflow\":"); JSONEscaping.appendString(workflow, to: &output)
        raw(",\"step\":"); stringOrNull(step)
        raw(",\"topic\":"); stringOrNull(topic)
        raw(",\"attempt\":"); number(attempt)
        raw(",\"token_index\":"); if eventKind == .token { number(tokenIndex) } else { raw("null") }
        raw(",\"data\":")
        if data.isEmpty {
            raw("null")
        } else if eventKind == .token || eventKind == nil {
            JSONEscaping.appendString(data, to: &output)
        } else {
            output.append(contentsOf: data)
        }
        raw("}")
    }
}

/// UTC timestamps in ISO 8601 with nanoseconds, without Foundation.
enum ISO8601 {
    static func format(nanoseconds: Int64) -> String {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let fraction = nanoseconds - seconds * 1_000_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 9))Z"
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
