#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// The few file-system calls the durable history makes, with errors as `RillflowError`s that
/// name the path and the system's reason.
enum Files {
    static func failure(_ what: String, _ path: String, errno code: Int32 = rf_sys_errno()) -> RillflowError {
        RillflowError(.system, "\(what) \(path): \(String(cString: strerror(code)))")
    }

    /// Creates `path` (one level) unless it exists as a directory.
    static func makeDirectory(_ path: String) throws(RillflowError) {
        if mkdir(path, 0o755) == 0 { return }
        let code = rf_sys_errno()
        guard code == EEXIST, isDirectory(path) else { throw failure("cannot create directory", path, errno: code) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The names in a directory (without "." and ".."); nil if it cannot be opened.
    static func list(_ path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Size and modification time (ns since the epoch), or nil when the file is gone.
    static func status(_ path: String) -> (size: Int, modified: Int64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        // Clamped: a file time set far in the past or future must not overflow the nanoseconds.
        let seconds = max(min(Int64(info.st_mtim.tv_sec), Int64.max / 1_000_000_000 - 1), Int64.min / 1_000_000_000 + 1)
        return (Int(info.st_size), seconds * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    /// Makes a directory's entries (files created or removed in it) durable.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Writes all of `length` bytes; on failure the system's errno.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ length: Int) -> Int32? {
        var done = 0
        while done < length {
            let written = write(fd, bytes + done, length - done)
            if written < 0 {
                let code = rf_sys_errno()
                if code == EINTR { continue }
                return code
            }
            done += written
        }
        return nil
    }

    /// A decimal number zero-padded to 20 digits, so names sort in numeric order.
    static func paddedNumber(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
