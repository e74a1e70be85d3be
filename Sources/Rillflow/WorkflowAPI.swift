import CRillflow
import RillflowCore

#if canImport(Glibc)
import Glibc
#endif

extension HandleRegistry {
    func workflow(_ handle: OpaquePointer?, _ parameter: String = "workflow") throws(APIFailure) -> WorkflowBuilder {
        guard let object = object(for: handle, kind: .workflow) else { throw .invalidHandle(.workflow, parameter) }
        return unsafeDowncast(object, to: WorkflowBuilder.self)
    }
}

/// A frozen workflow: what a run needs.
final class BuiltWorkflow: Sendable {
    let definition: WorkflowDefinition
    let functions: [StepFunction]

    init(definition: WorkflowDefinition, functions: [StepFunction]) {
        self.definition = definition
        self.functions = functions
    }
}

/// The object behind an `rf_workflow`: steps added one by one, then built once.
final class WorkflowBuilder: Sendable {
    let engine: Engine
    let name: String
    private struct Draft {
        var steps: [StepDefinition] = []
        var functions: [StepFunction] = []
        var built: BuiltWorkflow?
    }
    private let draft = Lock(Draft())

    init(engine: Engine, name: String) {
        self.engine = engine
        self.name = name
    }

    var built: BuiltWorkflow? { draft.withLock { $0.built } }

    /// Validates and adds a step; the C step (and with it the duty to destroy its user data)
    /// is created only once nothing can fail any more.
    func add(_ step: StepDefinition, code: StepCode) throws(APIFailure) {
        try draft.withLock { draft throws(APIFailure) in
            guard draft.built == nil else { throw APIFailure(RF_E_STATE, "workflow '\(name)' is built: it cannot take more steps") }
            var step = try engineCall { () throws(RillflowError) in try step.validated() }
            guard !draft.steps.contains(where: { $0.name == step.name }) else {
                throw .invalidArgument("duplicate step name '\(step.name)' in workflow '\(name)'")
            }
            let runtime = step.runsOnHost ? try engineCall { () throws(RillflowError) in try engine.runtime() } : nil
            let attachment = StepAttachment(workflowName: name, step: step, code: code)
            step.attachment = attachment
            draft.steps.append(step)
            draft.functions.append(runtime?.tasks.stepFunction ?? attachment.callbackFunction)
        }
    }

    func build() throws(APIFailure) {
        try draft.withLock { draft throws(APIFailure) in
            guard draft.built == nil else { throw APIFailure(RF_E_STATE, "workflow '\(name)' is already built") }
            let definition = try engineCall { () throws(RillflowError) in try WorkflowDefinition(name: name, steps: draft.steps) }
            draft.built = BuiltWorkflow(definition: definition, functions: draft.functions)
        }
    }
}

/// A C step's code and user data.
struct StepCode: @unchecked Sendable {
    // @unchecked: user_data is the host's; the library only hands it back.
    let function: rf_step_fn?
    let userData: UnsafeMutableRawPointer?
    let destroy: rf_destructor?
}

/// What the C API attaches to each step of a workflow: its code and user data, and its names
/// as C strings for `rf_step_info`. Destroys the user data when the last run using the step
/// lets go of it.
final class StepAttachment: @unchecked Sendable {
    // @unchecked: immutable after init; the C strings are owned and freed here.
    let code: StepCode
    let workflowName: UnsafeMutablePointer<CChar>
    let stepName: UnsafeMutablePointer<CChar>
    private let acceptedTypes: [(name: String, cString: UnsafeMutablePointer<CChar>)]

    init(workflowName: String, step: StepDefinition, code: StepCode) {
        self.code = code
        self.workflowName = strdup(workflowName)
        stepName = strdup(step.name)
        acceptedTypes = step.accepts.map { ($0, strdup($0)) }
    }

    deinit {
        free(workflowName)
        free(stepName)
        for type in acceptedTypes { free(type.cString) }
        code.destroy?(code.userData)
    }

    /// The C string of an event type this step accepts.
    func cString(ofType type: String) -> UnsafePointer<CChar> {
        UnsafePointer(acceptedTypes.first { $0.name == type }?.cString ?? stepName)
    }

    /// The engine's side of a callback step: gives the invocation a context handle for as long
    /// as it lasts, calls the C function, and reads its status.
    var callbackFunction: StepFunction {
        { context in
            let opened: OpaquePointer?
            do throws(RillflowError) {
                opened = try StepContexts.open(context)
            } catch {
                return .failed("the step could not be given a context: \(error.message)")
            }
            guard let handle = opened else { return .completed }  // its try already ended: nothing to run
            let status = self.code.function!(self.code.userData, handle)
            switch status {
            case RF_OK: return .completed
            case RF_STEP_PENDING: return .pending
            case ..<0: return .failed(context.notedError ?? "the step returned \(statusName(status))")
            default: return .failed("the step returned \(status), which is neither RF_OK, RF_STEP_PENDING nor an error status")
            }
        }
    }
}

/// Context handles: one per step invocation, live until the invocation ends and the code
/// running it has let go (a try that times out keeps its handle, and the input it lends, until
/// its callback returns or its pending or host-run step is completed).
enum StepContexts {
    /// Registers `context`; the handle is retired when the context is released. nil if the try
    /// already ended (it timed out before it was handed out). Throws if the handle table is full.
    static func open(_ context: StepContext) throws(RillflowError) -> OpaquePointer? {
        let handle = try HandleRegistry.shared.register(context, kind: .stepContext)
        guard context.whenReleased(word: UInt(bitPattern: handle), { bits in
            _ = HandleRegistry.shared.retire(OpaquePointer(bitPattern: bits), kind: .stepContext)
        }) else {
            _ = HandleRegistry.shared.retire(handle, kind: .stepContext)
            return nil
        }
        return handle
    }
}

/// Splits a comma-separated list of event types ("draft, revise"); nil or "" is no types.
private func eventTypes(_ list: UnsafePointer<CChar>?, _ name: String) throws(APIFailure) -> [String] {
    guard let list else { return [] }
    let text = try CStrings.string(list, name, limit: 64 << 10)
    guard !text.isEmpty else { return [] }
    var types: [String] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let trimmed = part.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        guard !trimmed.isEmpty else { throw .invalidArgument("\(name) \"\(text)\" has an empty event type name") }
        types.append(String(trimmed))
    }
    return types
}

private func milliseconds(_ value: UInt32) -> Int64 { Int64(value) * 1_000_000 }

extension StepDefinition {
    init(name: String, accepts: [String], sends: [String], options: rf_step_options) throws(APIFailure) {
        guard options.flags & ~RF_STEP_HOST_RUN == 0 else {
            throw .invalidArgument("step '\(name)': options->flags has unknown bits: 0x\(String(options.flags & ~RF_STEP_HOST_RUN, radix: 16))")
        }
        let retry = RetryPolicy(
            attempts: Int(max(options.retry_attempts, 1)),
            initialBackoffNanoseconds: milliseconds(options.retry_initial_backoff_ms),
            multiplier: options.retry_multiplier == 0 ? 2 : options.retry_multiplier,
            maxBackoffNanoseconds: milliseconds(options.retry_max_backoff_ms),
            jitter: options.retry_jitter)
        self.init(name: name, accepts: accepts, sends: sends, concurrency: Int(options.concurrency),
                  collect: Int(max(options.collect, 1)),
                  foreachDone: try options.foreach_done.map { (pointer) throws(APIFailure) in try CStrings.string(pointer, "options->foreach_done") },
                  timeoutNanoseconds: options.timeout_ms == 0 ? nil : milliseconds(options.timeout_ms),
                  retry: retry, runsOnHost: options.flags & RF_STEP_HOST_RUN != 0)
    }
}

@c @implementation
public func rf_step_options_init(_ options: UnsafeMutablePointer<rf_step_options>!, _ structSize: UInt32) -> rf_status {
    apiCall("rf_step_options_init") { () throws(APIFailure) in
        try OptionsStruct.initialize(options, size: structSize, name: "options", firstVersionSize: Int(RF_STEP_OPTIONS_SIZE_V1))
    }
}

@c @implementation
public func rf_workflow_create(_ engine: OpaquePointer!, _ name: UnsafePointer<CChar>!,
                               _ outWorkflow: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_workflow_create") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        let name = try CStrings.string(name, "name")
        guard !name.isEmpty else { throw .invalidArgument("name is empty") }
        let outWorkflow = try required(outWorkflow, "out_workflow")
        outWorkflow.pointee = try engineCall { () throws(RillflowError) in
            try HandleRegistry.shared.register(WorkflowBuilder(engine: engine, name: name), kind: .workflow)
        }
    }
}

@c @implementation
public func rf_workflow_add_step(_ workflow: OpaquePointer!, _ name: UnsafePointer<CChar>!, _ accepts: UnsafePointer<CChar>!,
                                 _ sends: UnsafePointer<CChar>!, _ fn: rf_step_fn!, _ userData: UnsafeMutableRawPointer!,
                                 _ destroy: rf_destructor!, _ options: UnsafePointer<rf_step_options>!) -> rf_status {
    apiCall("rf_workflow_add_step") { () throws(APIFailure) in
        let workflow = try HandleRegistry.shared.workflow(workflow)
        let name = try CStrings.string(name, "name")
        guard accepts != nil else { throw .invalidArgument("accepts is NULL; a step accepts at least one event type") }
        let options = try OptionsStruct.read(options, name: "options", firstVersionSize: Int(RF_STEP_OPTIONS_SIZE_V1))
        let step = try StepDefinition(name: name, accepts: try eventTypes(accepts, "accepts"), sends: try eventTypes(sends, "sends"),
                                      options: options)
        guard (fn == nil) == step.runsOnHost else {
            throw .invalidArgument(step.runsOnHost ? "step '\(name)' runs on the host (RF_STEP_HOST_RUN): fn must be NULL"
                                                   : "step '\(name)': fn is NULL (only RF_STEP_HOST_RUN steps have no function)")
        }
        try workflow.add(step, code: StepCode(function: fn, userData: userData, destroy: destroy))
    }
}

@c @implementation
public func rf_workflow_build(_ workflow: OpaquePointer!) -> rf_status {
    apiCall("rf_workflow_build") { () throws(APIFailure) in
        try HandleRegistry.shared.workflow(workflow).build()
    }
}

@c @implementation
public func rf_workflow_release(_ workflow: OpaquePointer!) -> rf_status {
    apiCall("rf_workflow_release") { () throws(APIFailure) in
        guard HandleRegistry.shared.retire(workflow, kind: .workflow) != nil else { throw .invalidHandle(.workflow, "workflow") }
    }
}
