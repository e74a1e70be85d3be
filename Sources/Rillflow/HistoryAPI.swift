import CRillflow
import RillflowCore

extension HistoryInfo {
    var cStruct: rf_history_info {
        var info = OptionsStruct.zeroed(rf_history_info.self)
        info.first_seq = firstSeq
        info.last_seq = lastSeq
        info.synced_seq = syncedSeq
        info.records = records
        info.bytes = bytes
        info.segments = segments
        info.corrupt_records = corruptRecords
        info.torn_bytes = tornBytes
        info.write_failures = writeFailures
        CStrings.fill(&info.last_error, with: lastError)
        return info
    }
}

@c @implementation
public func rf_engine_open_run(_ engine: OpaquePointer!, _ runId: UInt64, _ outRun: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_engine_open_run") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        let outRun = try required(outRun, "out_run")
        outRun.pointee = try engineCall { () throws(RillflowError) in
            let run = try engine.openRun(id: runId)
            return try HandleRegistry.shared.register(RunEntry(run: run), kind: .run)
        }
    }
}

@c @implementation
public func rf_run_get_history_info(_ run: OpaquePointer!, _ outInfo: UnsafeMutablePointer<rf_history_info>!) -> rf_status {
    apiCall("rf_run_get_history_info") { () throws(APIFailure) in
        let entry = try HandleRegistry.shared.run(run)
        let outInfo = try required(outInfo, "out_info")
        guard let durable = entry.run.log.durable else {
            throw APIFailure(RF_E_NOT_FOUND, "run \(entry.run.id) has no durable history (its engine has no history_dir, or it is a sub-workflow)")
        }
        try OptionsStruct.write(durable.info.cStruct, to: outInfo, name: "out_info", firstVersionSize: Int(RF_HISTORY_INFO_SIZE_V1))
    }
}
