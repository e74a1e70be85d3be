import CRillflow
import RillflowCore

/// Waiting for, querying and steering a run: wait, result, usage, cancel, resume.

extension TokenUsage {
    init(_ usage: rf_token_usage) {
        self.init(input: usage.input_tokens, output: usage.output_tokens, total: usage.total_tokens,
                  reasoning: usage.reasoning_tokens, cachedInput: usage.cached_input_tokens)
    }

    var cStruct: rf_token_usage {
        var usage = OptionsStruct.zeroed(rf_token_usage.self)
        usage.input_tokens = input
        usage.output_tokens = output
        usage.total_tokens = total
        usage.reasoning_tokens = reasoning
        usage.cached_input_tokens = cachedInput
        return usage
    }
}


@c @implementation
public func rf_run_wait(_ run: OpaquePointer!, _ timeoutMs: Int32, _ outStatus: UnsafeMutablePointer<rf_run_status>!) -> rf_status {
    apiCall("rf_run_wait") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        guard timeoutMs >= -1 else { throw .invalidArgument("timeout_ms is \(timeoutMs); use -1 (no limit), 0 (no wait) or milliseconds") }
        let status = entry.run.wait(milliseconds: Int64(timeoutMs)) { $0.isFinished || $0 == .suspended }
        outStatus?.pointee = status.rawValue
        guard status.isFinished || status == .suspended else {
            throw timeoutMs == 0 ? APIFailure(RF_E_AGAIN, "the run is \(status)")
                                 : APIFailure(RF_E_TIMEOUT, "the run is still \(status) after \(timeoutMs) ms")
        }
    }
}

@c @implementation
public func rf_run_get_result(_ run: OpaquePointer!, _ outData: UnsafeMutablePointer<UnsafeRawPointer?>!,
                              _ outLength: UnsafeMutablePointer<UInt32>!) -> rf_status {
    apiCall("rf_run_get_result") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let outData = try required(outData, "out_data")
        let outLength = try required(outLength, "out_len")
        guard let ending = entry.run.outcome else {
            throw APIFailure(RF_E_STATE, "the run is \(entry.run.status): it has no result until it completes")
        }
        guard ending.status == .completed else {
            throw APIFailure(RF_E_STATE, "the run did not complete: it \(ending.status): \(String(decoding: ending.detail, as: UTF8.self))")
        }
        // The run's ending is immutable and lives as long as the run: its bytes stay put.
        outData.pointee = ending.nulTerminated.withUnsafeBytes { UnsafeRawPointer($0.baseAddress) } ?? UnsafeRawPointer(staticCString(""))
        outLength.pointee = UInt32(clamping: ending.detail.count)
    }
}

@c @implementation
public func rf_run_get_usage(_ run: OpaquePointer!, _ outUsage: UnsafeMutablePointer<rf_token_usage>!) -> rf_status {
    apiCall("rf_run_get_usage") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let outUsage = try required(outUsage, "out_usage")
        let usage = entry.execution?.usage ?? entry.run.recordedUsage ?? TokenUsage()
        try OptionsStruct.write(usage.cStruct, to: outUsage, name: "out_usage", firstVersionSize: Int(RF_TOKEN_USAGE_SIZE_V1))
    }
}

@c @implementation
public func rf_run_cancel(_ run: OpaquePointer!, _ reason: UnsafePointer<CChar>!) -> rf_status {
    apiCall("rf_run_cancel") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let reason = reason == nil ? "cancelled" : try CStrings.text(reason, "reason")
        if let execution = entry.execution {
            guard execution.cancel(reason: reason) else { throw APIFailure(RF_E_STATE, "the run has already ended (\(entry.run.status))") }
        } else {
            try engineCall { () throws(RillflowError) in
                try entry.run.endByEngine(.runCancelled, detail: Array(reason.utf8)) { $0.field("reason", string: reason) }
            }
        }
    }
}

@c @implementation
public func rf_run_resume(_ run: OpaquePointer!, _ answer: UnsafeRawPointer!, _ answerLength: UInt32) -> rf_status {
    apiCall("rf_run_resume") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let answer = try CStrings.data(answer, answerLength, "answer")
        guard let execution = entry.execution else { throw APIFailure(RF_E_STATE, "a manual run has no steps waiting for input") }
        try engineCall { () throws(RillflowError) in try execution.resume(answer: Array(answer)) }
    }
}
