import CRillflow
import RillflowCore

@c @implementation
public func rf_run_emit_batch(_ run: OpaquePointer!, _ events: UnsafePointer<rf_emit>!, _ count: UInt32,
                              _ outSeqs: UnsafeMutablePointer<UInt64>!, _ outEmitted: UnsafeMutablePointer<UInt32>!) -> rf_status {
    outEmitted?.pointee = 0
    return apiCall("rf_run_emit_batch") { () throws(APIFailure) in
        let events = try required(events, "events")
        guard count > 0 else { throw .invalidArgument("count is 0") }
        // One lookup and one reference for the whole batch, not one per event.
        let entry = try HandleRegistry.shared.run(run)
        try entry.refuseWorkflowRun("its events come from its steps (rf_step_ctx_*), not rf_run_emit_batch")
        let batch = try EmitBatch(events, count: Int(count), maxDataBytes: entry.run.log.maxDataBytes)
        // Drafts are built a few at a time, on the stack: a batch allocates nothing.
        var drafts = InlineArray<32, EventDraft>(repeating: EventDraft(kind: .token))
        // Every event is checked before the first is appended: a refused one means none is. A
        // batch that fits in one piece is checked as its drafts are built, below.
        if batch.count > drafts.count {
            for index in 0..<batch.count { _ = try batch.draft(at: index) }
        }
        var written = 0
        defer { outEmitted?.pointee = UInt32(written) }
        while written < batch.count {
            let pieceCount = min(drafts.count, batch.count - written)
            for offset in 0..<pieceCount { drafts[offset] = try batch.draft(at: written + offset) }
            let seqs = outSeqs.map { $0 + written }
            try engineCall { () throws(RillflowError) in
                try drafts.span.withUnsafeBufferPointer { buffer throws(RillflowError) in
                    try entry.run.emit(batch: UnsafeBufferPointer(rebasing: buffer[0..<pieceCount]), seqs: seqs, written: &written)
                }
            }
        }
    }
}

/// The caller's array of rf_emit structs: each element checked and read as a draft.
private struct EmitBatch {
    let base: UnsafeRawPointer
    let stride: Int
    let count: Int
    let maxDataBytes: Int

    init(_ events: UnsafePointer<rf_emit>, count: Int, maxDataBytes: Int) throws(APIFailure) {
        base = UnsafeRawPointer(events)
        // The first element's struct_size is every element's size, and the array's stride: a
        // C struct with pointers is a multiple of 8 (checked first, before reading that many bytes).
        stride = Int(base.load(as: UInt32.self))
        guard stride < Int(RF_EMIT_SIZE_V1) || stride % 8 == 0 else {
            throw APIFailure(RF_E_STRUCT_SIZE, "events[0].struct_size is \(stride), not the size of an array element (a multiple of 8)")
        }
        _ = try OptionsStruct.read(events, name: "events[0]", firstVersionSize: Int(RF_EMIT_SIZE_V1))
        self.count = count
        self.maxDataBytes = maxDataBytes
    }

    /// Event `index` as a draft, refused as rf_run_emit refuses it; the message names the index.
    func draft(at index: Int) throws(APIFailure) -> EventDraft {
        let element = base + index * stride
        do throws(APIFailure) {
            guard element.load(as: UInt32.self) == UInt32(stride) else { throw Self.sizeDiffers(element, stride) }
            // A plain copy when the caller's struct is this header's (OptionsStruct's fast path).
            let event = try OptionsStruct.read(element.assumingMemoryBound(to: rf_emit.self), name: "event",
                                               firstVersionSize: Int(RF_EMIT_SIZE_V1))
            let kind = try eventKind(event.kind, "kind")
            guard !KindSet.engineOnly.contains(kind) else {
                throw APIFailure.invalidArgument("\(kind.name) events are emitted by the engine, not by rf_run_emit_batch")
            }
            guard event.data_len <= maxDataBytes else {
                throw APIFailure(RF_E_TOO_LARGE, "the event's data is \(event.data_len) bytes; the limit (max_event_bytes) is \(maxDataBytes)")
            }
            return EventDraft(
                kind: kind,
                step: try CStrings.bytes(event.step_name, "step_name"),
                topic: try CStrings.bytes(event.topic, "topic"),
                data: try CStrings.data(event.data, event.data_len, "data"),
                attempt: event.attempt, tokenIndex: event.token_index)
        } catch {
            throw APIFailure(error.status, "events[\(index)]: \(error.message)")
        }
    }

    @inline(never)
    private static func sizeDiffers(_ element: UnsafeRawPointer, _ stride: Int) -> APIFailure {
        APIFailure(RF_E_STRUCT_SIZE, "struct_size is \(element.load(as: UInt32.self)); every element has events[0]'s (\(stride))")
    }
}
