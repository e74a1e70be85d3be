import CRillflow
import RillflowCore

extension HandleRegistry {
    func run(_ handle: OpaquePointer?, _ parameter: String = "run") throws(APIFailure) -> Run {
        guard let object = object(for: handle, kind: .run) else { throw .invalidHandle(.run, parameter) }
        return unsafeDowncast(object, to: Run.self)
    }
}

/// Tracing ids are hex strings of bounded length (W3C trace context sizes).
private func hexIdentifier(_ pointer: UnsafePointer<CChar>?, _ name: String, maxDigits: Int) throws(APIFailure) -> String? {
    guard let pointer else { return nil }
    let bytes = try CStrings.bytes(pointer, name, limit: 255)
    let isHex = bytes.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
    guard (1...maxDigits).contains(bytes.count), isHex else {
        throw .invalidArgument("\(name) must be 1 to \(maxDigits) hexadecimal digits")
    }
    return String(decoding: bytes, as: UTF8.self)
}

@c @implementation
public func rf_run_options_init(_ options: UnsafeMutablePointer<rf_run_options>!) -> rf_status {
    apiCall("rf_run_options_init") { () throws(APIFailure) in
        try required(options, "options").pointee = OptionsStruct.zeroed(rf_run_options.self)
    }
}

@c @implementation
public func rf_run_create_manual(_ engine: OpaquePointer!, _ workflowName: UnsafePointer<CChar>!,
                                 _ options: UnsafePointer<rf_run_options>!, _ outRun: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_run_create_manual") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        let name = try CStrings.string(workflowName, "workflow_name")
        let outRun = try required(outRun, "out_run")
        let requested = try OptionsStruct.read(options, name: "options", firstVersionSize: Int(RF_RUN_OPTIONS_SIZE_V1))
        guard requested.reserved0 == 0 else { throw .invalidArgument("options->reserved0 must be 0") }
        let run = Run(engine: engine, workflowName: name,
                      traceId: try hexIdentifier(requested.trace_id, "options->trace_id", maxDigits: 32),
                      parentSpanId: try hexIdentifier(requested.parent_span_id, "options->parent_span_id", maxDigits: 16))
        outRun.pointee = try engineCall { () throws(RillflowError) in try HandleRegistry.shared.register(run, kind: .run) }
    }
}

@c @implementation
public func rf_run_start(_ run: OpaquePointer!, _ input: UnsafeRawPointer!, _ inputLength: UInt32) -> rf_status {
    apiCall("rf_run_start") { () throws(APIFailure) in
        let run = try HandleRegistry.shared.run(run)
        let input = try CStrings.data(input, inputLength, "input")
        try engineCall { () throws(RillflowError) in try run.start(inputBytes: input.count) }
    }
}

@c @implementation
public func rf_run_get_id(_ run: OpaquePointer!, _ outId: UnsafeMutablePointer<UInt64>!) -> rf_status {
    apiCall("rf_run_get_id") { () throws(APIFailure) in
        let run = try HandleRegistry.shared.run(run)
        try required(outId, "out_id").pointee = run.id
    }
}

@c @implementation
public func rf_run_get_status(_ run: OpaquePointer!, _ outStatus: UnsafeMutablePointer<rf_run_status>!) -> rf_status {
    apiCall("rf_run_get_status") { () throws(APIFailure) in
        let run = try HandleRegistry.shared.run(run)
        try required(outStatus, "out_status").pointee = run.status.rawValue
    }
}

/// An event kind from the C API, or a clear error for a value this library does not define.
func eventKind(_ raw: rf_event_kind, _ name: String) throws(APIFailure) -> EventKind {
    guard let value = UInt16(exactly: raw), let kind = EventKind(rawValue: value) else {
        throw .invalidArgument("\(name) \(raw) is not an RF_EVENT_* value")
    }
    return kind
}

@c @implementation
public func rf_run_emit(_ run: OpaquePointer!, _ event: UnsafePointer<rf_emit>!, _ outSeq: UnsafeMutablePointer<UInt64>!) -> rf_status {
    apiCall("rf_run_emit") { () throws(APIFailure) in
        let event = try OptionsStruct.read(try required(event, "event"), name: "event", firstVersionSize: Int(RF_EMIT_SIZE_V1))
        let draft = EventDraft(
            kind: try eventKind(event.kind, "event->kind"),
            step: try CStrings.bytes(event.step_name, "event->step_name"),
            topic: try CStrings.bytes(event.topic, "event->topic"),
            data: try CStrings.data(event.data, event.data_len, "event->data"),
            attempt: event.attempt, tokenIndex: event.token_index)
        // The hot path: the run is lent for the call, without reference counting.
        let seq = try HandleRegistry.shared.withObject(run, kind: .run, as: Run.self, parameter: "run") {
            run throws(RillflowError) in try run.emit(draft)
        }
        outSeq?.pointee = seq
    }
}

@c @implementation
public func rf_run_end(_ run: OpaquePointer!, _ kind: rf_event_kind, _ data: UnsafeRawPointer!, _ dataLength: UInt32) -> rf_status {
    apiCall("rf_run_end") { () throws(APIFailure) in
        let run = try HandleRegistry.shared.run(run)
        let kind = try eventKind(kind, "kind")
        let data = try CStrings.data(data, dataLength, "data")
        try engineCall { () throws(RillflowError) in try run.end(kind, data: data) }
    }
}

@c @implementation
public func rf_run_release(_ run: OpaquePointer!) -> rf_status {
    apiCall("rf_run_release") { () throws(APIFailure) in
        guard let object = HandleRegistry.shared.retire(run, kind: .run) else { throw .invalidHandle(.run, "run") }
        unsafeDowncast(object, to: Run.self).cancelIfUnfinished(reason: "released")
    }
}
