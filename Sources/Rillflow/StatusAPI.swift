import CRillflow

/// Names and descriptions of every status code, in one table so they cannot drift apart.
private func statusText(_ status: rf_status) -> (name: StaticString, description: StaticString) {
    switch status {
    case RF_OK: ("RF_OK", "success")
    case RF_E_INVALID_ARGUMENT: ("RF_E_INVALID_ARGUMENT", "a pointer argument is NULL or a value is outside its documented range")
    case RF_E_STRUCT_SIZE: ("RF_E_STRUCT_SIZE", "an options struct's struct_size is 0, too small, or larger with unknown fields set")
    case RF_E_INVALID_HANDLE: ("RF_E_INVALID_HANDLE", "the handle is NULL, released, stale, foreign or of the wrong type")
    case RF_E_NO_MEMORY: ("RF_E_NO_MEMORY", "out of memory, or a handle table is full")
    case RF_E_STATE: ("RF_E_STATE", "the object is not in a state that allows this call")
    case RF_E_TIMEOUT: ("RF_E_TIMEOUT", "the timeout expired before the call could complete")
    case RF_E_AGAIN: ("RF_E_AGAIN", "nothing is ready and the call was asked not to wait")
    case RF_E_CLOSED: ("RF_E_CLOSED", "the object was released while the call was waiting on it")
    case RF_E_END_OF_STREAM: ("RF_E_END_OF_STREAM", "the stream has ended: every event has been read")
    case RF_E_TOO_LARGE: ("RF_E_TOO_LARGE", "a payload is larger than the configured limit")
    case RF_E_NOT_FOUND: ("RF_E_NOT_FOUND", "the named item does not exist")
    case RF_E_SEQ_UNAVAILABLE: ("RF_E_SEQ_UNAVAILABLE", "the requested event sequence number is no longer retained")
    case RF_E_SYSTEM: ("RF_E_SYSTEM", "the operating system refused a request")
    case RF_E_INTERNAL: ("RF_E_INTERNAL", "an internal error in Rillflow")
    case RF_E_CANCELLED: ("RF_E_CANCELLED", "the step's run has ended or its try timed out: stop working")
    case RF_E_CORRUPT: ("RF_E_CORRUPT", "bytes of the durable history are damaged")
    default: ("RF_UNKNOWN_STATUS", "a status code this library does not define")
    }
}

/// A status code's name, for messages.
func statusName(_ status: rf_status) -> String { "\(statusText(status).name)" }

@c @implementation
public func rf_status_name(_ status: rf_status) -> UnsafePointer<CChar>! {
    staticCString(statusText(status).name)
}

@c @implementation
public func rf_status_describe(_ status: rf_status) -> UnsafePointer<CChar>! {
    staticCString(statusText(status).description)
}

@c @implementation
public func rf_last_error() -> UnsafePointer<CChar>! {
    LastError.current
}
