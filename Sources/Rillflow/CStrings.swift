import CRillflow
import CSystem
import RillflowCore

#if canImport(Glibc)
import Glibc
#endif

/// Reading C strings and byte ranges passed to the API, with the checks every caller needs.
enum CStrings {
    /// The bytes of an optional NUL-terminated string (NULL reads as empty), at most `limit`.
    @inline(__always)
    static func bytes(_ string: UnsafePointer<CChar>?, _ name: String, limit: Int = EventRecord.maximumNameLength) throws(APIFailure) -> UnsafeRawBufferPointer {
        guard let string else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let length = rf_sys_bounded_length(string, limit)
        guard length <= limit else { throw tooLong(name, limit) }
        return UnsafeRawBufferPointer(start: string, count: length)
    }

    /// Copies `text` into a struct's fixed char array (such as a `last_error` field),
    /// NUL-terminated, cut to fit.
    static func fill<CharArray>(_ field: inout CharArray, with text: String) {
        withUnsafeMutableBytes(of: &field) { buffer in
            let bytes = text.utf8.prefix(buffer.count - 1)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
    }

    // Failures are built out of line: the checks above sit on the emit path.
    @inline(never)
    private static func tooLong(_ name: String, _ limit: Int) -> APIFailure {
        .invalidArgument("\(name) is longer than \(limit) bytes")
    }

    /// A required NUL-terminated UTF-8 string, copied: a name, a topic, a key, a path. Invalid
    /// UTF-8 is refused, not repaired: a repaired name would no longer match the bytes the
    /// caller filters on, and each bad byte would grow by two, past the length just checked.
    static func string(_ string: UnsafePointer<CChar>?, _ name: String, limit: Int = EventRecord.maximumNameLength) throws(APIFailure) -> String {
        guard let string else { throw .invalidArgument("\(name) is NULL") }
        let bytes = try bytes(string, name, limit: limit)
        // ASCII (nearly every name) is valid as it is; validating takes the slow road.
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument("\(name) is not valid UTF-8")
        }
        return decoded
    }

    /// A required NUL-terminated text meant for people (an error message, a status, a reason),
    /// copied; invalid UTF-8 sequences become U+FFFD rather than fail the call.
    static func text(_ string: UnsafePointer<CChar>?, _ name: String, limit: Int = EventRecord.maximumNameLength) throws(APIFailure) -> String {
        guard let string else { throw .invalidArgument("\(name) is NULL") }
        return String(decoding: try bytes(string, name, limit: limit), as: UTF8.self)
    }

    /// `length` bytes at `pointer`; NULL is allowed only for 0 bytes.
    @inline(__always)
    static func data(_ pointer: UnsafeRawPointer?, _ length: UInt32, _ name: String) throws(APIFailure) -> UnsafeRawBufferPointer {
        guard pointer != nil || length == 0 else { throw nullData(name, length) }
        return UnsafeRawBufferPointer(start: pointer, count: Int(length))
    }

    @inline(never)
    private static func nullData(_ name: String, _ length: UInt32) -> APIFailure {
        .invalidArgument("\(name) is NULL but its length is \(length)")
    }
}
