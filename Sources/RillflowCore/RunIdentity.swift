/// Who emitted an event: the run, its parent and root, and its workflow's name.
///
/// Every event names its source by index into its log's source table, so a child run's events
/// can sit in its parent's log and still say which run they came from.
public final class RunIdentity: Sendable {
    public let runId: UInt64
    /// 0 when the run has no parent.
    public let parentRunId: UInt64
    public let rootRunId: UInt64
    public let workflowName: String
    /// The workflow name as a NUL-terminated C string, alive as long as this object.
    public var workflowNameCString: UnsafePointer<CChar> { UnsafePointer(nameStorage) }
    private nonisolated(unsafe) let nameStorage: UnsafeMutablePointer<CChar>

    /// Stands in where a record is read before its run is known; never freed.
    static let unknown = RunIdentity(runId: 0, workflowName: "")

    public init(runId: UInt64, parentRunId: UInt64 = 0, rootRunId: UInt64 = 0, workflowName: String) {
        self.runId = runId
        self.parentRunId = parentRunId
        self.rootRunId = rootRunId == 0 ? runId : rootRunId
        self.workflowName = workflowName
        let bytes = Array(workflowName.utf8)
        nameStorage = .allocate(capacity: bytes.count + 1)
        for (i, byte) in bytes.enumerated() { nameStorage[i] = CChar(bitPattern: byte) }
        nameStorage[bytes.count] = 0
    }

    deinit { nameStorage.deallocate() }
}
