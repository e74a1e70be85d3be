import CRillflow
import RillflowCore

extension HandleRegistry {
    func engine(_ handle: OpaquePointer?, _ parameter: String = "engine") throws(APIFailure) -> Engine {
        guard let object = object(for: handle, kind: .engine) else { throw .invalidHandle(.engine, parameter) }
        return unsafeDowncast(object, to: Engine.self)
    }
}

extension EngineConfiguration {
    init(_ options: rf_engine_options) throws(APIFailure) {
        guard options.reserved0 == 0, options.reserved1 == 0, options.reserved2 == 0 else {
            throw .invalidArgument("options->reserved0, reserved1 and reserved2 must be 0")
        }
        self = try engineCall { () throws(RillflowError) in
            try EngineConfiguration(
                workerThreads: Int(options.worker_threads),
                logCapacity: Int(options.log_capacity),
                maxEventBytes: Int(options.max_event_bytes),
                historyBytes: options.history_bytes,
                emitTimeoutMilliseconds: options.emit_timeout_ms,
                sinkDrainTimeoutMilliseconds: options.sink_drain_timeout_ms)
        }
    }

    var options: rf_engine_options {
        var options = OptionsStruct.zeroed(rf_engine_options.self)
        options.worker_threads = UInt32(workerThreads)
        options.log_capacity = UInt32(logCapacity)
        options.max_event_bytes = UInt32(maxEventBytes)
        options.history_bytes = historyBytes
        options.emit_timeout_ms = emitTimeoutMilliseconds ?? 0
        options.sink_drain_timeout_ms = sinkDrainTimeoutMilliseconds
        return options
    }
}

private let historyFlags = RF_HISTORY_READ_ONLY

extension HistoryOptions {
    /// The history fields of `options`; nil when history_dir is NULL (then the others must be 0).
    static func from(_ options: rf_engine_options) throws(APIFailure) -> HistoryOptions? {
        guard let directory = options.history_dir else {
            guard options.history_max_bytes == 0, options.history_max_age_ms == 0, options.history_segment_bytes == 0,
                  options.history_fsync == 0, options.history_flags == 0 else {
                throw .invalidArgument("options->history_* fields are set but history_dir is NULL")
            }
            return nil
        }
        guard let fsync = FsyncPolicy(rawValue: options.history_fsync) else {
            throw .invalidArgument("options->history_fsync is \(options.history_fsync); it must be an RF_HISTORY_FSYNC_* value")
        }
        guard options.history_flags & ~historyFlags == 0 else {
            throw .invalidArgument("options->history_flags has unknown bits: 0x\(String(options.history_flags & ~historyFlags, radix: 16))")
        }
        let path = try CStrings.string(directory, "options->history_dir", limit: 4095)
        return try engineCall { () throws(RillflowError) in
            try HistoryOptions(directory: path, fsync: fsync, segmentBytes: Int(options.history_segment_bytes),
                               maxBytes: options.history_max_bytes, maxAgeMilliseconds: options.history_max_age_ms,
                               readOnly: options.history_flags & RF_HISTORY_READ_ONLY != 0)
        }
    }
}

extension Engine {
    var options: rf_engine_options {
        var options = configuration.options
        if let history {
            options.history_dir = history.directoryCString
            options.history_max_bytes = history.options.maxBytes
            options.history_max_age_ms = UInt64(history.options.maxAgeNanoseconds / 1_000_000)
            options.history_segment_bytes = UInt32(history.options.segmentBytes)
            options.history_fsync = history.options.fsync.rawValue
            options.history_flags = history.options.readOnly ? RF_HISTORY_READ_ONLY : 0
        }
        return options
    }
}

private let engineOptionsV1 = Int(RF_ENGINE_OPTIONS_SIZE_V1)

@c @implementation
public func rf_engine_options_init_v2(_ options: UnsafeMutablePointer<rf_engine_options>!, _ structSize: UInt32) -> rf_status {
    apiCall("rf_engine_options_init_v2") { () throws(APIFailure) in
        try OptionsStruct.initialize(options, size: structSize, name: "options", firstVersionSize: engineOptionsV1)
    }
}

@c @implementation
public func rf_engine_options_init(_ options: UnsafeMutablePointer<rf_engine_options>!) -> rf_status {
    apiCall("rf_engine_options_init") { () throws(APIFailure) in
        try OptionsStruct.initialize(options, size: UInt32(engineOptionsV1), name: "options", firstVersionSize: engineOptionsV1)
    }
}

@c @implementation
public func rf_engine_create(_ options: UnsafePointer<rf_engine_options>!, _ outEngine: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_engine_create") { () throws(APIFailure) in
        let outEngine = try required(outEngine, "out_engine")
        let requested = try OptionsStruct.read(options, name: "options", firstVersionSize: engineOptionsV1)
        let configuration = try EngineConfiguration(requested)
        let engine: Engine
        if let history = try HistoryOptions.from(requested) {
            engine = try engineCall { () throws(RillflowError) in try Engine(configuration: configuration, history: history) }
        } else {
            engine = Engine(configuration: configuration)
        }
        outEngine.pointee = try engineCall { () throws(RillflowError) in
            try HandleRegistry.shared.register(engine, kind: .engine)
        }
    }
}

@c @implementation
public func rf_engine_get_options(_ engine: OpaquePointer!, _ outOptions: UnsafeMutablePointer<rf_engine_options>!) -> rf_status {
    apiCall("rf_engine_get_options") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        let outOptions = try required(outOptions, "out_options")
        try OptionsStruct.write(engine.options, to: outOptions, name: "out_options", firstVersionSize: engineOptionsV1)
    }
}

@c @implementation
public func rf_engine_release(_ engine: OpaquePointer!) -> rf_status {
    apiCall("rf_engine_release") { () throws(APIFailure) in
        // Checked before the handle is retired: refused, the engine stays the caller's.
        if let live = HandleRegistry.shared.object(for: engine, kind: .engine), unsafeDowncast(live, to: Engine.self).isSinkThread {
            throw APIFailure(Engine.onSinkThread("the engine"))
        }
        guard let object = HandleRegistry.shared.retire(engine, kind: .engine) else {
            throw .invalidHandle(.engine, "engine")
        }
        unsafeDowncast(object, to: Engine.self).close()
    }
}
