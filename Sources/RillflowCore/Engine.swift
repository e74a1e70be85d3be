/// The root object: limits and defaults shared by every workflow and run it hosts, and the
/// threads that run workflows, started on first use.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    private let started = Lock(Started())

    private struct Started {
        var runtime: EngineRuntime?
        /// Set by `close`: a runtime made later (a workflow still adding a host-run step, a
        /// take racing the release) starts with its task queue closed.
        var closed = false
    }

    private let sinks = Lock(Sinks())

    private struct Sinks {
        /// Made by the first sink: the engine's sink thread.
        var dispatcher: SinkDispatcher?
        /// Set by `close`, which stops the dispatcher: a sink added later would start another
        /// thread that nothing stops until the last run lets the engine go.
        var closed = false
    }
    /// The durable history directory, when the engine has one.
    public let history: HistoryStore?

    public init(configuration: EngineConfiguration) {
        self.configuration = configuration
        history = nil
    }

    /// An engine with a durable history in `history.directory`: unless read-only, it locks the
    /// directory and every root run's events are written there by a sink of the engine's own.
    public init(configuration: EngineConfiguration, history options: HistoryOptions) throws(RillflowError) {
        self.configuration = configuration
        let store = try HistoryStore(options: options)
        history = store
        if !options.readOnly {
            _ = try addSink(HistoryWriter(store: store), options: SinkOptions(lossy: false, kinds: .all, maxFailures: 0))
        }
    }

    /// Where new root runs record their history (nil: nowhere, or read-only).
    var historyWriterStore: HistoryStore? { history.flatMap { $0.isWritable ? $0 : nil } }

    /// Opens a run from the durable history by id, as a finished run whose stream is what the
    /// history holds. Throws `invalidState` without a history or while this engine still
    /// writes the run, `notFound` when the history has no such run.
    public func openRun(id runId: UInt64) throws(RillflowError) -> Run {
        guard let history else {
            throw RillflowError(.invalidState, "the engine has no durable history: set history_dir when creating it")
        }
        guard !history.isLive(runId) else {
            throw RillflowError(.invalidState, "run \(runId) is being written by this engine: read it through its own handle")
        }
        let recovered = try RecoveredRun(store: history, runId: runId)
        return Run(reopened: recovered, store: history, configuration: configuration)
    }

    deinit {
        sinks.withLock { $0.dispatcher }?.shutdown()
    }

    /// Registers a sink: from now on every new run's events (and its sub-workflows') reach it.
    /// Refused once the engine is closed (a release racing the add).
    public func addSink(_ target: any SinkTarget, options: SinkOptions) throws(RillflowError) -> Sink {
        let dispatcher = try sinks.withLock { sinks throws(RillflowError) -> SinkDispatcher in
            guard !sinks.closed else { throw RillflowError(.invalidState, "the engine was released") }
            if let dispatcher = sinks.dispatcher { return dispatcher }
            let created = try SinkDispatcher()
            sinks.dispatcher = created
            return created
        }
        let sink = Sink(target: target, options: options)
        dispatcher.add(sink)
        return sink
    }

    /// Delivers what is ready to `sink`, then detaches it. Refused on the engine's sink thread
    /// (from a sink's callback), which the removal would wait for.
    public func removeSink(_ sink: Sink, timeoutMilliseconds: Int64) throws(RillflowError) -> SinkRemoval {
        guard let dispatcher = sinks.withLock({ $0.dispatcher }) else { return SinkRemoval(drained: true, detached: false) }
        guard !dispatcher.isDispatcherThread else { throw Self.onSinkThread("a sink") }
        return dispatcher.remove(sink, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Whether the caller runs on this engine's sink thread: in a sink's callback, or a
    /// destroy that sink thread caused.
    public var isSinkThread: Bool { sinks.withLock { $0.dispatcher }?.isDispatcherThread ?? false }

    public static func onSinkThread(_ what: String) -> RillflowError {
        RillflowError(.invalidState, "called on the engine's sink thread (from a sink callback): releasing \(what) there would wait for that very thread; release it from another thread")
    }

    /// Called by every new root run: its events go to the sinks.
    func runCreated(_ run: Run) {
        sinks.withLock { $0.dispatcher }?.attach(run)
    }

    /// The worker threads, timer thread and host task queue, created the first time a
    /// workflow needs them (an engine used only for manual runs starts no thread).
    public func runtime() throws(RillflowError) -> EngineRuntime {
        try started.withLock { started throws(RillflowError) -> EngineRuntime in
            if let runtime = started.runtime { return runtime }
            let created = try EngineRuntime(workerThreads: configuration.workerThreads)
            if started.closed { created.tasks.close() }
            started.runtime = created
            return created
        }
    }

    /// The engine's owner let it go: nobody can take host-run tasks any more, so the queue is
    /// closed and the steps waiting in it fail. Threads live on while runs still use them.
    public func close() {
        let runtime = started.withLock { started in
            started.closed = true
            return started.runtime
        }
        let waiting = runtime?.tasks.close() ?? []
        for task in waiting { try? task.complete(.failed("the engine was released before a host took this step")) }
        // Sinks get everything emitted so far (within the drain timeout), then stop.
        let dispatcher = sinks.withLock { sinks in
            defer { sinks = Sinks(dispatcher: nil, closed: true) }
            return sinks.dispatcher
        }
        if let dispatcher {
            dispatcher.drain(timeoutMilliseconds: Int64(configuration.sinkDrainTimeoutMilliseconds))
            dispatcher.shutdown()
        }
        // The history writer was one of the sinks: nothing more is written, so the directory
        // is free for the next engine (which may be in this process).
        history?.close()
    }
}

/// What runs workflows: worker threads for callback steps, one timer thread for backoffs and
/// timeouts, and the queue of host-run step invocations. Every run of the engine holds it;
/// when the last one lets go, the threads stop.
public final class EngineRuntime: Sendable {
    public let pool: WorkerPool
    public let delays: DelayQueue
    public let tasks: HostTaskQueue

    init(workerThreads: Int) throws(RillflowError) {
        tasks = try HostTaskQueue()
        delays = try DelayQueue()
        do {
            pool = try WorkerPool(threads: workerThreads)
        } catch {
            delays.shutdown()
            throw error
        }
    }

    deinit {
        pool.shutdown()
        delays.shutdown()
    }
}
