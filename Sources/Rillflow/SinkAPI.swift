import CRillflow
import RillflowCore
import Synchronization

/// The object behind an `rf_sink`: the core sink and the engine it belongs to.
final class SinkEntry: Sendable {
    let sink: Sink
    let engine: Engine

    init(sink: Sink, engine: Engine) {
        self.sink = sink
        self.engine = engine
    }
}

/// A C sink: its callbacks and user data, called on the engine's sink thread. Destroys the
/// user data once: when the release is confirmed (on the releasing thread, before
/// rf_sink_release returns), or else when the last reference goes (the engine stopped first).
final class CallbackSink: SinkTarget, @unchecked Sendable {
    // @unchecked: `batch` is only used on the sink thread, one call at a time; the rest is
    // immutable or atomic.
    private let function: rf_sink_fn
    private let runEndedFunction: rf_sink_run_ended_fn?
    private let userData: UnsafeMutableRawPointer?
    private let destroy: rf_destructor?
    private var batch: [rf_event] = []
    /// Whether destroy is still to be called: cleared by the first of `removed`, `disown` and deinit.
    private let owesDestroy = Atomic(true)

    init(function: rf_sink_fn, runEnded: rf_sink_run_ended_fn?, userData: UnsafeMutableRawPointer?, destroy: rf_destructor?) {
        self.function = function
        runEndedFunction = runEnded
        self.userData = userData
        self.destroy = destroy
    }

    deinit { destroyOnce() }

    func removed() { destroyOnce() }

    /// The sink was never handed to the caller (its registration failed): user_data stays theirs.
    func disown() { owesDestroy.store(false, ordering: .relaxed) }

    private func destroyOnce() {
        if owesDestroy.exchange(false, ordering: .acquiringAndReleasing) { destroy?(userData) }
    }

    func deliver(_ events: [EventView], from log: RunLog) -> String? {
        if batch.count < events.count { batch = [rf_event](repeating: OptionsStruct.zeroed(rf_event.self), count: events.count) }
        let status = batch.withUnsafeMutableBufferPointer { buffer -> rf_status in
            for (index, view) in events.enumerated() {
                EventFill.fill(UnsafeMutableRawPointer(buffer.baseAddress! + index), size: MemoryLayout<rf_event>.size, from: view)
            }
            return function(userData, buffer.baseAddress, UInt32(events.count))
        }
        return status == RF_OK ? nil : "the sink returned \(statusName(status))"
    }

    func runEnded(runId: UInt64) { runEndedFunction?(userData, runId) }
}

private let sinkFlags = RF_SINK_LOSSY

@c @implementation
public func rf_sink_options_init(_ options: UnsafeMutablePointer<rf_sink_options>!, _ structSize: UInt32) -> rf_status {
    apiCall("rf_sink_options_init") { () throws(APIFailure) in
        try OptionsStruct.initialize(options, size: structSize, name: "options", firstVersionSize: Int(RF_SINK_OPTIONS_SIZE_V1))
    }
}

@c @implementation
public func rf_engine_add_sink(_ engine: OpaquePointer!, _ fn: rf_sink_fn!, _ userData: UnsafeMutableRawPointer!,
                               _ destroy: rf_destructor!, _ options: UnsafePointer<rf_sink_options>!,
                               _ outSink: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_engine_add_sink") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        guard let fn else { throw .invalidArgument("fn is NULL") }
        let outSink = try required(outSink, "out_sink")
        let requested = try OptionsStruct.read(options, name: "options", firstVersionSize: Int(RF_SINK_OPTIONS_SIZE_V1))
        guard requested.flags & ~sinkFlags == 0 else {
            throw .invalidArgument("options->flags has unknown bits: 0x\(String(requested.flags & ~sinkFlags, radix: 16))")
        }
        guard requested.kinds & ~KindSet.all.mask == 0 else {
            throw .invalidArgument("options->kinds has bits of undefined kinds: 0x\(String(requested.kinds & ~KindSet.all.mask, radix: 16))")
        }
        guard requested.reserved0 == 0 else { throw .invalidArgument("options->reserved0 must be 0") }
        let sinkOptions = SinkOptions(
            lossy: requested.flags & RF_SINK_LOSSY != 0,
            kinds: requested.kinds == 0 ? .all : KindSet(mask: requested.kinds),
            maxFailures: Int(requested.max_failures),
            retryBackoffNanoseconds: Int64(requested.retry_backoff_ms == 0 ? 100 : requested.retry_backoff_ms) * 1_000_000)
        // The callback object owes the destroy of user_data only once the caller has the
        // handle: on every failure below it is disowned first.
        let target = CallbackSink(function: fn, runEnded: requested.run_ended, userData: userData, destroy: destroy)
        do throws(RillflowError) {
            let sink = try engine.addSink(target, options: sinkOptions)
            do throws(RillflowError) {
                outSink.pointee = try HandleRegistry.shared.register(SinkEntry(sink: sink, engine: engine), kind: .sink)
            } catch {
                target.disown()
                _ = try? engine.removeSink(sink, timeoutMilliseconds: 0)
                throw error
            }
        } catch {
            target.disown()  // on every error user_data stays the caller's
            throw APIFailure(error)
        }
    }
}

@c @implementation
public func rf_sink_get_stats(_ sink: OpaquePointer!, _ outStats: UnsafeMutablePointer<rf_sink_stats>!) -> rf_status {
    apiCall("rf_sink_get_stats") { () throws(APIFailure) in
        guard let object = HandleRegistry.shared.object(for: sink, kind: .sink) else { throw .invalidHandle(.sink, "sink") }
        let outStats = try required(outStats, "out_stats")
        let stats = unsafeDowncast(object, to: SinkEntry.self).sink.currentStats
        var result = OptionsStruct.zeroed(rf_sink_stats.self)
        result.disabled = stats.disabled ? 1 : 0
        result.delivered = stats.delivered
        result.dropped = stats.dropped
        result.failures = stats.failures
        result.runs = stats.runs
        CStrings.fill(&result.last_error, with: stats.lastError)
        try OptionsStruct.write(result, to: outStats, name: "out_stats", firstVersionSize: Int(RF_SINK_STATS_SIZE_V1))
    }
}

@c @implementation
public func rf_sink_release(_ sink: OpaquePointer!, _ timeoutMs: Int32) -> rf_status {
    apiCall("rf_sink_release") { () throws(APIFailure) in
        guard timeoutMs >= -1 else { throw .invalidArgument("timeout_ms is \(timeoutMs); use -1 (no limit), 0 or milliseconds") }
        // Checked before the handle is retired: refused, the sink stays the caller's.
        guard let live = HandleRegistry.shared.object(for: sink, kind: .sink) else { throw .invalidHandle(.sink, "sink") }
        guard !unsafeDowncast(live, to: SinkEntry.self).engine.isSinkThread else {
            throw APIFailure(Engine.onSinkThread("a sink"))
        }
        guard let object = HandleRegistry.shared.retire(sink, kind: .sink) else { throw .invalidHandle(.sink, "sink") }
        let entry = unsafeDowncast(object, to: SinkEntry.self)
        let removal = try engineCall { () throws(RillflowError) in
            try entry.engine.removeSink(entry.sink, timeoutMilliseconds: Int64(timeoutMs))
        }
        guard removal.drained else {
            throw APIFailure(RF_E_TIMEOUT, "the sink had not taken every event within \(timeoutMs) ms; it was released anyway")
        }
    }
}
