import CRillflow
import RillflowCore

extension HandleRegistry {
    func run(_ handle: OpaquePointer?, _ parameter: String = "run") throws(APIFailure) -> RunEntry {
        guard let object = object(for: handle, kind: .run) else { throw .invalidHandle(.run, parameter) }
        return unsafeDowncast(object, to: RunEntry.self)
    }
}

/// The object behind an `rf_run`: the run, and for a workflow run what executes it.
final class RunEntry: Sendable {
    let run: Run
    let execution: WorkflowExecution?
    let timeoutNanoseconds: Int64?

    init(run: Run, execution: WorkflowExecution? = nil, timeoutNanoseconds: Int64? = nil) {
        self.run = run
        self.execution = execution
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    func refuseWorkflowRun(_ what: String) throws(APIFailure) {
        guard execution == nil else {
            throw APIFailure(RF_E_STATE, "run \(run.id) is a workflow run: \(what)")
        }
    }
}

/// The fields of rf_run_options every run takes.
private struct RunSettings {
    var traceId: String?
    var parentSpanId: String?
    var metadata: [UInt8]?
    var stepBudget: Int
    var timeoutNanoseconds: Int64?

    static let defaultStepBudget = 10_000

    init(_ options: UnsafePointer<rf_run_options>?, engine: Engine) throws(APIFailure) {
        let requested = try OptionsStruct.read(options, name: "options", firstVersionSize: Int(RF_RUN_OPTIONS_SIZE_V1))
        guard requested.reserved0 == 0, requested.reserved1 == 0 else { throw .invalidArgument("options->reserved0 and reserved1 must be 0") }
        traceId = try hexIdentifier(requested.trace_id, "options->trace_id", maxDigits: 32)
        parentSpanId = try hexIdentifier(requested.parent_span_id, "options->parent_span_id", maxDigits: 16)
        if let pointer = requested.metadata {
            let limit = max(engine.configuration.maxEventBytes - 1024, 0)
            metadata = Array(try CStrings.bytes(pointer, "options->metadata", limit: limit))
        }
        stepBudget = requested.step_budget == 0 ? Self.defaultStepBudget : Int(requested.step_budget)
        guard requested.timeout_ms <= UInt64(Int64.max / 1_000_000) else {
            throw .invalidArgument("options->timeout_ms \(requested.timeout_ms) is too large")
        }
        timeoutNanoseconds = requested.timeout_ms == 0 ? nil : Int64(requested.timeout_ms) * 1_000_000
        manualRunAllowed = requested.step_budget == 0 && requested.timeout_ms == 0
    }

    /// Manual runs have no steps to count and end when their host says.
    var manualRunAllowed: Bool
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
public func rf_run_options_init_v2(_ options: UnsafeMutablePointer<rf_run_options>!, _ structSize: UInt32) -> rf_status {
    apiCall("rf_run_options_init_v2") { () throws(APIFailure) in
        try OptionsStruct.initialize(options, size: structSize, name: "options", firstVersionSize: Int(RF_RUN_OPTIONS_SIZE_V1))
    }
}

@c @implementation
public func rf_run_options_init(_ options: UnsafeMutablePointer<rf_run_options>!) -> rf_status {
    apiCall("rf_run_options_init") { () throws(APIFailure) in
        let v1 = Int(RF_RUN_OPTIONS_SIZE_V1)
        try OptionsStruct.initialize(options, size: UInt32(v1), name: "options", firstVersionSize: v1)
    }
}

@c @implementation
public func rf_run_create_manual(_ engine: OpaquePointer!, _ workflowName: UnsafePointer<CChar>!,
                                 _ options: UnsafePointer<rf_run_options>!, _ outRun: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_run_create_manual") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        let name = try CStrings.string(workflowName, "workflow_name")
        let outRun = try required(outRun, "out_run")
        let settings = try RunSettings(options, engine: engine)
        guard settings.manualRunAllowed else {
            throw .invalidArgument("options->step_budget and options->timeout_ms are for workflow runs; a manual run's host ends it")
        }
        let run = Run(engine: engine, workflowName: name, traceId: settings.traceId, parentSpanId: settings.parentSpanId,
                      metadata: settings.metadata)
        outRun.pointee = try engineCall { () throws(RillflowError) in
            try endingIfRefused(run) { () throws(RillflowError) in try HandleRegistry.shared.register(RunEntry(run: run), kind: .run) }
        }
    }
}

@c @implementation
public func rf_run_create(_ workflow: OpaquePointer!, _ options: UnsafePointer<rf_run_options>!,
                          _ outRun: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_run_create") { () throws(APIFailure) in
        let workflow = try HandleRegistry.shared.workflow(workflow)
        let outRun = try required(outRun, "out_run")
        let settings = try RunSettings(options, engine: workflow.engine)
        guard let built = workflow.built else {
            throw APIFailure(RF_E_STATE, "workflow '\(workflow.name)' is not built: call rf_workflow_build first")
        }
        let run = Run(engine: workflow.engine, workflowName: workflow.name, traceId: settings.traceId,
                      parentSpanId: settings.parentSpanId, metadata: settings.metadata)
        outRun.pointee = try engineCall { () throws(RillflowError) in
            try endingIfRefused(run) { () throws(RillflowError) in
                let execution = try WorkflowExecution(definition: built.definition, functions: built.functions, run: run,
                                                      runtime: try workflow.engine.runtime(), stepBudget: settings.stepBudget)
                return try HandleRegistry.shared.register(
                    RunEntry(run: run, execution: execution, timeoutNanoseconds: settings.timeoutNanoseconds), kind: .run)
            }
        }
    }
}

/// A run that was created (its sinks and durable history already follow it) but whose handle
/// could not be made ends at once, cancelled: its subscriptions close and nothing waits for it.
private func endingIfRefused<T>(_ run: Run, _ body: () throws(RillflowError) -> T) throws(RillflowError) -> T {
    do {
        return try body()
    } catch {
        run.cancelIfUnfinished(reason: "not created")
        throw error
    }
}

@c @implementation
public func rf_run_start(_ run: OpaquePointer!, _ input: UnsafeRawPointer!, _ inputLength: UInt32) -> rf_status {
    apiCall("rf_run_start") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let input = try CStrings.data(input, inputLength, "input")
        try engineCall { () throws(RillflowError) in
            if let execution = entry.execution {
                try execution.start(input: Array(input), timeoutNanoseconds: entry.timeoutNanoseconds)
            } else {
                try entry.run.start(inputBytes: input.count)
            }
        }
    }
}

@c @implementation
public func rf_run_get_id(_ run: OpaquePointer!, _ outId: UnsafeMutablePointer<UInt64>!) -> rf_status {
    apiCall("rf_run_get_id") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        try required(outId, "out_id").pointee = entry.run.id
    }
}

@c @implementation
public func rf_run_get_status(_ run: OpaquePointer!, _ outStatus: UnsafeMutablePointer<rf_run_status>!) -> rf_status {
    apiCall("rf_run_get_status") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        try required(outStatus, "out_status").pointee = entry.run.status.rawValue
    }
}

/// An event kind from the C API, or a clear error for a value this library does not define.
@inline(__always)
func eventKind(_ raw: rf_event_kind, _ name: String) throws(APIFailure) -> EventKind {
    guard let kind = EventKind(raw: raw) else { throw notAKind(raw, name) }
    return kind
}

@inline(never)
private func notAKind(_ raw: rf_event_kind, _ name: String) -> APIFailure {
    .invalidArgument("\(name) \(raw) is not an RF_EVENT_* value")
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
        var isWorkflowRun = false
        let seq = try HandleRegistry.withObject(run, kind: .run, as: RunEntry.self, parameter: "run") {
            entry throws(RillflowError) -> UInt64 in
            guard entry.execution == nil else {
                isWorkflowRun = true
                return 0
            }
            return try entry.run.emit(draft)
        }
        if isWorkflowRun { throw APIFailure(RF_E_STATE, "a workflow run's events come from its steps (rf_step_ctx_*), not rf_run_emit") }
        outSeq?.pointee = seq
    }
}

@c @implementation
public func rf_run_end(_ run: OpaquePointer!, _ kind: rf_event_kind, _ data: UnsafeRawPointer!, _ dataLength: UInt32) -> rf_status {
    apiCall("rf_run_end") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let kind = try eventKind(kind, "kind")
        let data = try CStrings.data(data, dataLength, "data")
        try entry.refuseWorkflowRun("it ends by itself; use rf_run_cancel to end it early")
        try engineCall { () throws(RillflowError) in try entry.run.end(kind, data: data) }
    }
}

@c @implementation
public func rf_run_release(_ run: OpaquePointer!) -> rf_status {
    apiCall("rf_run_release") { () throws(APIFailure) in
        guard let object = HandleRegistry.shared.retire(run, kind: .run) else { throw .invalidHandle(.run, "run") }
        let entry = unsafeDowncast(object, to: RunEntry.self)
        if let execution = entry.execution {
            execution.cancel(reason: "released")
        } else {
            entry.run.cancelIfUnfinished(reason: "released")
        }
    }
}
