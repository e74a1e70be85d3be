import CRillflow
import RillflowCore

#if canImport(Glibc)
import Glibc
#endif

/// Reading C strings and byte ranges passed to the API, with the checks every caller needs.
enum CStrings {
    /// The bytes of an optional NUL-terminated string (NULL reads as empty), at most `limit`.
    static func bytes(_ string: UnsafePointer<CChar>?, _ name: String, limit: Int = EventRecord.maximumNameLength) throws(APIFailure) -> UnsafeRawBufferPointer {
        guard let string else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let length = strnlen(string, limit + 1)
        guard length <= limit else { throw .invalidArgument("\(name) is longer than \(limit) bytes") }
        return UnsafeRawBufferPointer(start: string, count: length)
    }

    /// A required NUL-terminated string, copied.
    static func string(_ string: UnsafePointer<CChar>?, _ name: String, limit: Int = EventRecord.maximumNameLength) throws(APIFailure) -> String {
        guard let string else { throw .invalidArgument("\(name) is NULL") }
        return String(decoding: try bytes(string, name, limit: limit), as: UTF8.self)
    }

    /// `length` bytes at `pointer`; NULL is allowed only for 0 bytes.
    static func data(_ pointer: UnsafeRawPointer?, _ length: UInt32, _ name: String) throws(APIFailure) -> UnsafeRawBufferPointer {
        guard pointer != nil || length == 0 else { throw .invalidArgument("\(name) is NULL but its length is \(length)") }
        return UnsafeRawBufferPointer(start: pointer, count: Int(length))
    }
}
