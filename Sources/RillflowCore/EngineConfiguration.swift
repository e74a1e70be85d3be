/// An engine's limits and defaults, validated. Every run of the engine uses them.
public struct EngineConfiguration: Sendable, Equatable {
    public static let defaultLogCapacity = 2 << 20
    public static let minimumLogCapacity = 64 << 10
    public static let maximumLogCapacity = 1 << 30
    public static let defaultMaxEventBytes = 1 << 20
    public static let minimumMaxEventBytes = RunLog.terminalDataReserve
    public static let maximumMaxEventBytes = 64 << 20
    public static let defaultHistoryBytes: UInt64 = 4 << 20
    public static let maximumWorkerThreads = 1024

    /// Threads that run callback steps.
    public var workerThreads: Int
    /// Bytes of each run's in-memory event log, a power of two.
    public var logCapacity: Int
    /// Largest data payload of one event.
    public var maxEventBytes: Int
    /// Bytes of older events each run retains beyond its log; `UInt64.max` keeps everything.
    public var historyBytes: UInt64
    /// How long an emit waits for room in a full log; `nil` waits without limit.
    public var emitTimeoutMilliseconds: UInt32?
    /// How long releasing the engine waits for its sinks to take what was emitted.
    public var sinkDrainTimeoutMilliseconds: UInt32
    public static let defaultSinkDrainTimeoutMilliseconds: UInt32 = 5_000

    /// Resolves requested values (0 or `nil` meaning "the default") into a checked configuration.
    public init(
        workerThreads: Int = 0,
        logCapacity: Int = 0,
        maxEventBytes: Int = 0,
        historyBytes: UInt64 = 0,
        emitTimeoutMilliseconds: UInt32? = nil,
        sinkDrainTimeoutMilliseconds: UInt32 = 0,
        processorCount: Int = SystemInfo.processorCount
    ) throws(RillflowError) {
        guard workerThreads >= 0, workerThreads <= Self.maximumWorkerThreads else {
            throw RillflowError(.invalidArgument, "worker_threads is \(workerThreads); it must be 0 (one per CPU core) to \(Self.maximumWorkerThreads)")
        }
        guard logCapacity == 0 || (Self.minimumLogCapacity...Self.maximumLogCapacity).contains(logCapacity) else {
            throw RillflowError(.invalidArgument, "log_capacity is \(logCapacity); it must be 0 (2 MiB) or \(Self.minimumLogCapacity) to \(Self.maximumLogCapacity) bytes")
        }
        // Below a terminal event's room the engine's own events (run_started, a failure)
        // would be cut to nothing, or not fit at all.
        guard maxEventBytes == 0 || (Self.minimumMaxEventBytes...Self.maximumMaxEventBytes).contains(maxEventBytes) else {
            throw RillflowError(.invalidArgument, "max_event_bytes is \(maxEventBytes); it must be 0 (1 MiB) or \(Self.minimumMaxEventBytes) to \(Self.maximumMaxEventBytes)")
        }
        self.workerThreads = workerThreads == 0 ? max(1, processorCount) : workerThreads
        self.logCapacity = Self.nextPowerOfTwo(logCapacity == 0 ? Self.defaultLogCapacity : logCapacity)
        self.maxEventBytes = maxEventBytes == 0 ? Self.defaultMaxEventBytes : maxEventBytes
        self.historyBytes = historyBytes == 0 ? Self.defaultHistoryBytes : historyBytes
        // The largest record (data, names, header) must fit in the log, or its emit could never finish.
        let largestRecord = EventRecord.size(stepLength: EventRecord.maximumNameLength, topicLength: EventRecord.maximumNameLength, dataLength: self.maxEventBytes)
        guard largestRecord <= self.logCapacity else {
            throw RillflowError(.invalidArgument, "log_capacity (\(self.logCapacity) bytes) cannot hold the largest event (max_event_bytes \(self.maxEventBytes) plus \(largestRecord - self.maxEventBytes) bytes of envelope); raise log_capacity or lower max_event_bytes")
        }
        self.emitTimeoutMilliseconds = emitTimeoutMilliseconds == 0 ? nil : emitTimeoutMilliseconds
        self.sinkDrainTimeoutMilliseconds = sinkDrainTimeoutMilliseconds == 0 ? Self.defaultSinkDrainTimeoutMilliseconds : sinkDrainTimeoutMilliseconds
    }

    static func nextPowerOfTwo(_ value: Int) -> Int {
        value <= 1 ? 1 : 1 << (Int.bitWidth - (value - 1).leadingZeroBitCount)
    }
}
