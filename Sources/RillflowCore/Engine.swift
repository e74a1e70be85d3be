/// The root object: limits and defaults shared by every workflow and run it hosts, and the
/// threads that run workflows, started on first use.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    private let started = Lock<EngineRuntime?>(nil)

    public init(configuration: EngineConfiguration) {
        self.configuration = configuration
    }

    /// The worker threads, timer thread and host task queue, created the first time a
    /// workflow needs them (an engine used only for manual runs starts no thread).
    public func runtime() throws(RillflowError) -> EngineRuntime {
        try started.withLock { runtime throws(RillflowError) -> EngineRuntime in
            if let runtime { return runtime }
            let created = try EngineRuntime(workerThreads: configuration.workerThreads)
            runtime = created
            return created
        }
    }

    /// The engine's owner let it go: nobody can take host-run tasks any more, so the queue is
    /// closed and the steps waiting in it fail. Threads live on while runs still use them.
    public func close() {
        let waiting = started.withLock { $0 }?.tasks.close() ?? []
        for task in waiting { try? task.complete(.failed("the engine was released before a host took this step")) }
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
