import CRillflow
import RillflowCore

#if canImport(Glibc)
import Glibc
#endif

/// Writing events as packed entries (rf_packed_event, then the names and data) for
/// rf_subscription_read_packed: one buffer a binding copies out in one go.
enum PackedEvent {
    static let headerSize = MemoryLayout<rf_packed_event>.size

    /// RF_PACKED_EVENT_MAX_SIZE: the largest entry for events of at most `maxDataBytes` of data.
    static func largestEntry(maxDataBytes: Int) -> Int {
        headerSize + 3 * EventRecord.maximumNameLength + maxDataBytes + 7
    }

    /// The size of `view`'s entry.
    static func entrySize(_ view: EventView) -> Int {
        let workflowLength = view.withSource { strlen($0.workflowNameCString) }
        return (headerSize + workflowLength + view.stepLength + view.topicLength + view.dataLength + 7) & ~7
    }

    /// Writes `view` at `destination` (8-byte aligned); returns the entry's size.
    @inline(__always)
    static func write(_ view: EventView, to destination: UnsafeMutableRawPointer) -> Int {
        view.withSource { source in write(view, source: source, to: destination) }
    }

    @inline(__always)
    private static func write(_ view: EventView, source: RunIdentity, to destination: UnsafeMutableRawPointer) -> Int {
        let workflowLength = strlen(source.workflowNameCString)
        let stepLength = view.stepLength, topicLength = view.topicLength, dataLength = view.dataLength
        let size = (headerSize + workflowLength + stepLength + topicLength + dataLength + 7) & ~7
        destination.storeBytes(of: rf_packed_event(
            size: UInt32(size), kind: UInt32(view.rawKind), seq: view.seq, timestamp_ns: view.timestamp,
            run_id: source.runId, parent_run_id: source.parentRunId, root_run_id: source.rootRunId,
            token_index: view.tokenIndex, attempt: view.attempt, data_len: UInt32(dataLength),
            workflow_len: UInt16(workflowLength), step_len: UInt16(stepLength), topic_len: UInt16(topicLength),
            reserved0: 0), as: rf_packed_event.self)
        var at = destination + headerSize
        at.copyMemory(from: source.workflowNameCString, byteCount: workflowLength)
        at += workflowLength
        at.copyMemory(from: view.step, byteCount: stepLength)
        at += stepLength
        at.copyMemory(from: view.topic, byteCount: topicLength)
        at += topicLength
        at.copyMemory(from: view.data, byteCount: dataLength)
        return size
    }
}
