/// When the durable history asks the kernel to put written records on the disk.
public enum FsyncPolicy: UInt32, Sendable {
    /// Once a run has ended (and when a segment is closed): a finished run survives a machine
    /// crash; a process crash loses nothing written in either case.
    case runEnd = 0
    /// Never: the kernel writes back when it likes. Survives a process crash, not a power cut.
    case never = 1
    /// After every batch the history writes: the most durable and the slowest.
    case batch = 2
}

/// Where and how an engine keeps its runs' durable history.
public struct HistoryOptions: Sendable, Equatable {
    public static let defaultSegmentBytes = 8 << 20
    public static let minimumSegmentBytes = 64 << 10
    public static let maximumSegmentBytes = 1 << 30

    public var directory: String
    public var fsync: FsyncPolicy
    /// A segment file is closed and a new one started when the next record would pass this.
    public var segmentBytes: Int
    /// Retention: segments are deleted, oldest first, while all of them take more; 0 = no limit.
    public var maxBytes: UInt64
    /// Retention: segments not written for this long are deleted; 0 = no limit.
    public var maxAgeNanoseconds: Int64
    /// Only open runs written by another engine: no lock, nothing written or deleted.
    public var readOnly: Bool

    /// Whether old segments are ever deleted.
    var hasRetention: Bool { maxBytes > 0 || maxAgeNanoseconds > 0 }

    public init(directory: String, fsync: FsyncPolicy = .runEnd, segmentBytes: Int = 0, maxBytes: UInt64 = 0,
                maxAgeMilliseconds: UInt64 = 0, readOnly: Bool = false) throws(RillflowError) {
        guard !directory.isEmpty else { throw RillflowError(.invalidArgument, "history_dir is empty") }
        guard !directory.utf8.contains(0) else { throw RillflowError(.invalidArgument, "history_dir contains a NUL byte") }
        guard segmentBytes == 0 || (Self.minimumSegmentBytes...Self.maximumSegmentBytes).contains(segmentBytes) else {
            throw RillflowError(.invalidArgument, "history_segment_bytes is \(segmentBytes); it must be 0 (8 MiB) or \(Self.minimumSegmentBytes) to \(Self.maximumSegmentBytes)")
        }
        guard maxAgeMilliseconds <= UInt64(Int64.max / 1_000_000) else {
            throw RillflowError(.invalidArgument, "history_max_age_ms \(maxAgeMilliseconds) is too large")
        }
        self.directory = directory
        self.fsync = fsync
        self.segmentBytes = segmentBytes == 0 ? Self.defaultSegmentBytes : segmentBytes
        self.maxBytes = maxBytes
        maxAgeNanoseconds = Int64(maxAgeMilliseconds) * 1_000_000
        self.readOnly = readOnly
    }
}
