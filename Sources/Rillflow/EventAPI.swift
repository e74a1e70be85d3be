import CRillflow
import RillflowCore

#if canImport(Glibc)
import Glibc
#endif

/// Filling the caller's `rf_event` structs from views into a subscription's memory.
enum EventFill {
    static let firstVersionSize = Int(RF_EVENT_SIZE_V1)

    /// The caller's struct_size, checked.
    static func size(of event: UnsafeMutablePointer<rf_event>, _ name: String) throws(APIFailure) -> Int {
        let size = Int(event.pointee.struct_size)
        guard size >= firstVersionSize else {
            throw APIFailure(RF_E_STRUCT_SIZE, "\(name)->struct_size is \(size); set it to sizeof(rf_event) (at least \(firstVersionSize))")
        }
        return size
    }

    /// Writes `view` into a caller struct of `size` bytes (zeroing bytes beyond the known fields).
    @inline(__always)
    static func fill(_ destination: UnsafeMutableRawPointer, size: Int, from view: EventView) {
        var event = view.withSource { source in
            rf_event(
                struct_size: UInt32(size), kind: UInt32(view.rawKind), seq: view.seq, timestamp_ns: view.timestamp,
                run_id: source.runId, parent_run_id: source.parentRunId, root_run_id: source.rootRunId,
                workflow_name: source.workflowNameCString, step_name: view.step, topic: view.topic,
                attempt: view.attempt, data_len: UInt32(view.dataLength), token_index: view.tokenIndex, data: view.data)
        }
        let known = MemoryLayout<rf_event>.size
        withUnsafeBytes(of: &event) { destination.copyMemory(from: $0.baseAddress!, byteCount: known) }
        if size > known { (destination + known).initializeMemory(as: UInt8.self, repeating: 0, count: size - known) }
    }
}

@c @implementation
public func rf_event_kind_name(_ kind: rf_event_kind) -> UnsafePointer<CChar>! {
    guard let raw = UInt16(exactly: kind), let kind = EventKind(rawValue: raw) else { return staticCString("unknown") }
    return staticCString(kind.name)
}

@c @implementation
public func rf_event_to_json(_ event: UnsafePointer<rf_event>!, _ buffer: UnsafeMutablePointer<CChar>!,
                             _ capacity: Int, _ outLength: UnsafeMutablePointer<Int>!) -> rf_status {
    apiCall("rf_event_to_json") { () throws(APIFailure) in
        let event = try required(event, "event")
        let outLength = try required(outLength, "out_length")
        guard buffer != nil || capacity == 0 else { throw .invalidArgument("buffer is NULL but capacity is \(capacity)") }
        guard Int(event.pointee.struct_size) >= EventFill.firstVersionSize else {
            throw APIFailure(RF_E_STRUCT_SIZE, "event->struct_size is \(event.pointee.struct_size); it must be at least \(EventFill.firstVersionSize)")
        }
        let e = event.pointee
        guard let workflow = e.workflow_name, let step = e.step_name, let topic = e.topic else {
            throw .invalidArgument("event->workflow_name, step_name and topic must not be NULL (use \"\")")
        }
        let data = try CStrings.data(UnsafeRawPointer(e.data), e.data_len, "event->data")
        var output: [UInt8] = []
        output.reserveCapacity(256 + data.count)
        EventEnvelope(kind: e.kind, seq: e.seq, timestampNanoseconds: e.timestamp_ns, runId: e.run_id,
                      parentRunId: e.parent_run_id, rootRunId: e.root_run_id,
                      workflow: UnsafeRawBufferPointer(start: workflow, count: strlen(workflow)),
                      step: UnsafeRawBufferPointer(start: step, count: strlen(step)),
                      topic: UnsafeRawBufferPointer(start: topic, count: strlen(topic)),
                      attempt: e.attempt, tokenIndex: e.token_index, data: data)
            .renderJSON(into: &output)
        outLength.pointee = output.count
        guard output.count < capacity else {
            throw APIFailure(RF_E_TOO_LARGE, "the JSON is \(output.count) bytes plus a NUL; the buffer has \(capacity)")
        }
        output.withUnsafeBytes { UnsafeMutableRawPointer(buffer!).copyMemory(from: $0.baseAddress!, byteCount: output.count) }
        buffer![output.count] = 0
    }
}
