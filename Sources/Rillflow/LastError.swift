#if canImport(Glibc)
import Glibc
#endif

/// The per-thread message behind `rf_last_error()`.
///
/// Each thread that ever fails a call gets one fixed buffer (freed when the thread exits), so
/// setting a message never allocates after the first time and the pointer handed out stays
/// valid until the next failing call on that thread.
enum LastError {
    static let capacity = 1024

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { buffer in free(buffer) }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    private static let empty: StaticString = ""

    /// The calling thread's message, or "" if no call on this thread has failed.
    static var current: UnsafePointer<CChar> {
        if let buffer = pthread_getspecific(key) {
            return UnsafePointer(buffer.assumingMemoryBound(to: CChar.self))
        }
        return UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// Replaces the calling thread's message; a message longer than the buffer is cut at a
    /// UTF-8 character boundary.
    static func set(_ message: String) {
        var raw = pthread_getspecific(key)
        if raw == nil {
            guard let fresh = malloc(capacity) else { return }
            pthread_setspecific(key, fresh)
            raw = fresh
        }
        let buffer = raw!.assumingMemoryBound(to: UInt8.self)
        let bytes = Array(message.utf8)
        var length = min(bytes.count, capacity - 1)
        // Never end inside a multi-byte character: back up to the start of the cut one.
        while length < bytes.count && length > 0 && bytes[length] & 0xC0 == 0x80 { length -= 1 }
        for i in 0..<length { buffer[i] = bytes[i] }
        buffer[length] = 0
    }
}
