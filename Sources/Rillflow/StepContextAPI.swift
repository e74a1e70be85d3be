import CRillflow
import RillflowCore

#if canImport(Glibc)
import Glibc
#endif

/// The `rf_step_ctx_*` functions: what a step's code does through its context.

extension HandleRegistry {
    /// Calls `body` with the step context lent for the call (tokens are a hot path).
    @inline(__always)
    static func withContext<R>(_ handle: OpaquePointer?, _ body: (StepContext) throws(RillflowError) -> R) throws(APIFailure) -> R {
        try withObject(handle, kind: .stepContext, as: StepContext.self, parameter: "ctx", body)
    }
}


/// A required event type name.
private func typeName(_ pointer: UnsafePointer<CChar>?, _ name: String) throws(APIFailure) -> String {
    let type = try CStrings.string(pointer, name)
    guard !type.isEmpty else { throw .invalidArgument("\(name) is empty") }
    return type
}

/// Bytes the caller passes, copied.
private func copied(_ pointer: UnsafeRawPointer?, _ length: UInt32, _ name: String) throws(APIFailure) -> [UInt8] {
    Array(try CStrings.data(pointer, length, name))
}

/// An error message the caller passes (NULL allowed where `fallback` is given).
private func message(_ pointer: UnsafePointer<CChar>?, _ name: String) throws(APIFailure) -> String? {
    guard let pointer else { return nil }
    return try CStrings.text(pointer, name, limit: 4096)
}

@c @implementation
public func rf_step_ctx_get_info(_ ctx: OpaquePointer!, _ outInfo: UnsafeMutablePointer<rf_step_info>!) -> rf_status {
    apiCall("rf_step_ctx_get_info") { () throws(APIFailure) in
        let outInfo = try required(outInfo, "out_info")
        let info = try HandleRegistry.withContext(ctx) { context throws(RillflowError) -> rf_step_info in
            guard let attachment = context.attachment as? StepAttachment else {
                throw RillflowError(.internal, "step '\(context.step)' was not defined through the C API")
            }
            var info = OptionsStruct.zeroed(rf_step_info.self)
            info.attempt = UInt32(clamping: context.attempt)
            info.run_id = context.run.id
            info.workflow_name = UnsafePointer(attachment.workflowName)
            info.step_name = UnsafePointer(attachment.stepName)
            info.event_type = attachment.cString(ofType: context.eventType)
            info.input_count = UInt32(clamping: context.inputs.count)
            info.user_data = attachment.code.userData
            if !context.inputs.isEmpty {
                let input = context.nulTerminatedInput(0)
                info.input = input.baseAddress
                info.input_len = UInt32(clamping: input.count)
            }
            return info
        }
        try OptionsStruct.write(info, to: outInfo, name: "out_info", firstVersionSize: Int(RF_STEP_INFO_SIZE_V1))
    }
}

@c @implementation
public func rf_step_ctx_input(_ ctx: OpaquePointer!, _ index: UInt32, _ outData: UnsafeMutablePointer<UnsafeRawPointer?>!,
                              _ outLength: UnsafeMutablePointer<UInt32>!) -> rf_status {
    apiCall("rf_step_ctx_input") { () throws(APIFailure) in
        let outData = try required(outData, "out_data")
        let outLength = try required(outLength, "out_len")
        let (data, length) = try HandleRegistry.withContext(ctx) { context throws(RillflowError) -> (UnsafeRawPointer, Int) in
            guard Int(index) < context.inputs.count else {
                throw RillflowError(.notFound, "index \(index) is past the step's \(context.inputs.count) input(s)")
            }
            let input = context.nulTerminatedInput(Int(index))
            return (input.baseAddress!, input.count)
        }
        outData.pointee = data
        outLength.pointee = UInt32(clamping: length)
    }
}

@c @implementation
public func rf_step_ctx_emit_token(_ ctx: OpaquePointer!, _ text: UnsafePointer<CChar>!, _ length: UInt32, _ tokenIndex: UInt64) -> rf_status {
    apiCall("rf_step_ctx_emit_token") { () throws(APIFailure) in
        let text = try CStrings.data(UnsafeRawPointer(text), length, "text")
        _ = try HandleRegistry.withContext(ctx) { context throws(RillflowError) in
            try context.emit(.token, bytes: text, tokenIndex: tokenIndex)
        }
    }
}

@c @implementation
public func rf_step_ctx_emit_custom(_ ctx: OpaquePointer!, _ topic: UnsafePointer<CChar>!, _ json: UnsafeRawPointer!, _ length: UInt32) -> rf_status {
    apiCall("rf_step_ctx_emit_custom") { () throws(APIFailure) in
        let topic = try typeName(topic, "topic")
        let json = try CStrings.data(json, length, "json")
        _ = try HandleRegistry.withContext(ctx) { context throws(RillflowError) in
            try context.emit(.custom, topic: topic, bytes: json)
        }
    }
}

@c @implementation
public func rf_step_ctx_emit_progress(_ ctx: OpaquePointer!, _ completed: UInt64, _ total: UInt64, _ status: UnsafePointer<CChar>!) -> rf_status {
    apiCall("rf_step_ctx_emit_progress") { () throws(APIFailure) in
        let status = status == nil ? "running" : try CStrings.text(status, "status")
        guard completed <= total else { throw .invalidArgument("completed (\(completed)) is more than total (\(total))") }
        var json = JSONText()
        json.object {
            $0.field("completed", number: completed)
            $0.field("total", number: total)
            $0.field("status", string: status)
        }
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in
            _ = try context.emit(.progress, data: json.bytes)
        }
    }
}

@c @implementation
public func rf_step_ctx_send(_ ctx: OpaquePointer!, _ eventType: UnsafePointer<CChar>!, _ data: UnsafeRawPointer!, _ length: UInt32) -> rf_status {
    apiCall("rf_step_ctx_send") { () throws(APIFailure) in
        let type = try typeName(eventType, "event_type")
        let payload = try copied(data, length, "data")
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.send(type, payload) }
    }
}

@c @implementation
public func rf_step_ctx_send_each(_ ctx: OpaquePointer!, _ eventType: UnsafePointer<CChar>!, _ items: UnsafePointer<UnsafeRawPointer?>!,
                                  _ itemLengths: UnsafePointer<UInt32>!, _ count: UInt32) -> rf_status {
    apiCall("rf_step_ctx_send_each") { () throws(APIFailure) in
        let type = try typeName(eventType, "event_type")
        // Refused here, where the caller can act on it: an empty list would fail the run
        // later, when the step completes and a foreach step finds no item to run.
        guard count > 0 else { throw .invalidArgument("count is 0: a list sent with rf_step_ctx_send_each has at least one item") }
        guard items != nil && itemLengths != nil else {
            throw .invalidArgument("items or item_lens is NULL but count is \(count)")
        }
        var list: [[UInt8]] = []
        list.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            list.append(try copied(items[index], itemLengths[index], "items[\(index)]"))
        }
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.sendEach(type, items: list) }
    }
}

@c @implementation
public func rf_step_ctx_set_output(_ ctx: OpaquePointer!, _ json: UnsafeRawPointer!, _ length: UInt32) -> rf_status {
    apiCall("rf_step_ctx_set_output") { () throws(APIFailure) in
        let output = try copied(json, length, "json")
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.setOutput(output) }
    }
}

@c @implementation
public func rf_step_ctx_stop(_ ctx: OpaquePointer!, _ result: UnsafeRawPointer!, _ length: UInt32) -> rf_status {
    apiCall("rf_step_ctx_stop") { () throws(APIFailure) in
        let result = try copied(result, length, "result")
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.stop(result: result) }
    }
}

@c @implementation
public func rf_step_ctx_set_state(_ ctx: OpaquePointer!, _ key: UnsafePointer<CChar>!, _ json: UnsafeRawPointer!, _ length: UInt32) -> rf_status {
    apiCall("rf_step_ctx_set_state") { () throws(APIFailure) in
        let key = try typeName(key, "key")
        let value = try copied(json, length, "json")
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.setState(key, json: value) }
    }
}

@c @implementation
public func rf_step_ctx_get_state(_ ctx: OpaquePointer!, _ key: UnsafePointer<CChar>!, _ buffer: UnsafeMutableRawPointer!,
                                  _ capacity: UInt32, _ outLength: UnsafeMutablePointer<UInt32>!) -> rf_status {
    apiCall("rf_step_ctx_get_state") { () throws(APIFailure) in
        let key = try typeName(key, "key")
        let outLength = try required(outLength, "out_len")
        guard buffer != nil || capacity == 0 else { throw .invalidArgument("buffer is NULL but capacity is \(capacity)") }
        let value = try HandleRegistry.withContext(ctx) { context throws(RillflowError) -> [UInt8] in
            guard let value = try context.state(key) else { throw RillflowError(.notFound, "the run's state has no key '\(key)'") }
            return value
        }
        outLength.pointee = UInt32(clamping: value.count)
        guard value.count <= Int(capacity) else {
            throw APIFailure(RF_E_TOO_LARGE, "the value of '\(key)' is \(value.count) bytes; capacity is \(capacity)")
        }
        // An empty value (set with len 0) copies nothing: buffer may be NULL then.
        if !value.isEmpty { value.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        if value.count < Int(capacity) { buffer.storeBytes(of: 0, toByteOffset: value.count, as: UInt8.self) }
    }
}

@c @implementation
public func rf_step_ctx_report_usage(_ ctx: OpaquePointer!, _ usage: UnsafePointer<rf_token_usage>!) -> rf_status {
    apiCall("rf_step_ctx_report_usage") { () throws(APIFailure) in
        let usage = try OptionsStruct.read(try required(usage, "usage"), name: "usage", firstVersionSize: Int(RF_TOKEN_USAGE_SIZE_V1))
        guard usage.reserved0 == 0 else { throw .invalidArgument("usage->reserved0 must be 0") }
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.reportUsage(TokenUsage(usage)) }
    }
}

@c @implementation
public func rf_step_ctx_check_cancelled(_ ctx: OpaquePointer!) -> rf_status {
    apiCall("rf_step_ctx_check_cancelled") { () throws(APIFailure) in
        let cancelled = try HandleRegistry.withContext(ctx) { context throws(RillflowError) in context.isCancelled }
        if cancelled { throw APIFailure(RF_E_CANCELLED, "the run has ended or this try timed out") }
    }
}

@c @implementation
public func rf_step_ctx_request_input(_ ctx: OpaquePointer!, _ prompt: UnsafeRawPointer!, _ length: UInt32,
                                      _ answerType: UnsafePointer<CChar>!) -> rf_status {
    apiCall("rf_step_ctx_request_input") { () throws(APIFailure) in
        let prompt = try copied(prompt, length, "prompt")
        let answerType = try typeName(answerType, "answer_type")
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in
            try context.requestInput(prompt: prompt, answerType: answerType)
        }
    }
}

@c @implementation
public func rf_step_ctx_start_child(_ ctx: OpaquePointer!, _ child: OpaquePointer!, _ input: UnsafeRawPointer!, _ length: UInt32,
                                    _ resultType: UnsafePointer<CChar>!) -> rf_status {
    apiCall("rf_step_ctx_start_child") { () throws(APIFailure) in
        let workflow = try HandleRegistry.shared.workflow(child, "child")
        guard let built = workflow.built else {
            throw APIFailure(RF_E_STATE, "child workflow '\(workflow.name)' is not built: call rf_workflow_build first")
        }
        let input = try copied(input, length, "input")
        let resultType = try typeName(resultType, "result_type")
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in
            try context.startChild(built.definition, functions: built.functions, input: input, resultType: resultType)
        }
    }
}

@c @implementation
public func rf_step_ctx_set_error(_ ctx: OpaquePointer!, _ text: UnsafePointer<CChar>!) -> rf_status {
    apiCall("rf_step_ctx_set_error") { () throws(APIFailure) in
        guard let text = try message(text, "message") else { throw .invalidArgument("message is NULL") }
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.noteError(text) }
    }
}

@c @implementation
public func rf_step_ctx_complete(_ ctx: OpaquePointer!, _ result: rf_status, _ errorMessage: UnsafePointer<CChar>!) -> rf_status {
    apiCall("rf_step_ctx_complete") { () throws(APIFailure) in
        let outcome: StepOutcome
        switch result {
        case RF_OK: outcome = .completed
        case ..<0: outcome = .failed(try message(errorMessage, "error_message") ?? "the step completed with \(statusName(result))")
        default: throw .invalidArgument("result is \(result); a step completes with RF_OK or a negative rf_status")
        }
        try HandleRegistry.withContext(ctx) { context throws(RillflowError) in try context.complete(outcome) }
    }
}
