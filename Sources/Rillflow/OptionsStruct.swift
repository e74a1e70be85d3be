import CRillflow

/// Reading and writing the size-prefixed options structs of the C API.
///
/// Every such struct starts with `uint32_t struct_size`. A caller built against an older,
/// smaller version gets zeros (meaning "default") for the fields it does not know; a caller
/// built against a newer header is accepted only if every byte this library does not know is 0.
enum OptionsStruct {
    /// Reads `*pointer`; nil gives a zeroed struct (all defaults).
    @inline(__always)
    static func read<T>(_ pointer: UnsafePointer<T>?, name: String, firstVersionSize: Int) throws(APIFailure) -> T {
        // The common case, a caller built against this header: a plain copy.
        if let pointer, UnsafeRawPointer(pointer).load(as: UInt32.self) == MemoryLayout<T>.size { return pointer.pointee }
        var value = zeroed(T.self)
        guard let pointer else { return value }
        let size = try checkedSize(UnsafeRawPointer(pointer), name: name, firstVersionSize: firstVersionSize)
        let known = MemoryLayout<T>.size
        if size > known {
            let extra = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer) + known, count: size - known)
            if let offset = extra.firstIndex(where: { $0 != 0 }) {
                throw APIFailure(RF_E_STRUCT_SIZE, "\(name)->struct_size is \(size) but this library knows \(known) bytes, and byte \(known + offset) is not 0: a field from a newer header is set")
            }
        }
        withUnsafeMutableBytes(of: &value) { bytes in
            bytes.baseAddress!.copyMemory(from: UnsafeRawPointer(pointer), byteCount: min(size, known))
        }
        return value
    }

    /// Writes `value` into the caller's struct: only as many bytes as its struct_size says,
    /// zeroing any bytes beyond the fields this library knows. struct_size itself is kept.
    static func write<T>(_ value: T, to pointer: UnsafeMutablePointer<T>, name: String, firstVersionSize: Int) throws(APIFailure) {
        let raw = UnsafeMutableRawPointer(pointer)
        let size = try checkedSize(UnsafeRawPointer(raw), name: name, firstVersionSize: firstVersionSize)
        let known = MemoryLayout<T>.size
        withUnsafeBytes(of: value) { bytes in
            // Skip the leading struct_size: the caller's stays as it was.
            let count = min(size, known) - 4
            (raw + 4).copyMemory(from: bytes.baseAddress! + 4, byteCount: count)
        }
        if size > known { (raw + known).initializeMemory(as: UInt8.self, repeating: 0, count: size - known) }
    }

    /// The *_init functions: zeroes the caller's `size` bytes and sets struct_size to `size`,
    /// never writing more than the caller says its struct holds.
    static func initialize<T>(_ pointer: UnsafeMutablePointer<T>?, size: UInt32, name: String,
                              firstVersionSize: Int) throws(APIFailure) {
        guard let pointer else { throw .invalidArgument("\(name) is NULL") }
        guard Int(size) >= firstVersionSize else {
            throw APIFailure(RF_E_STRUCT_SIZE, "struct_size is \(size), smaller than the first published size \(firstVersionSize)")
        }
        let raw = UnsafeMutableRawPointer(pointer)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
        raw.storeBytes(of: size, as: UInt32.self)
    }

    /// A zeroed struct whose struct_size is its full size.
    static func zeroed<T>(_ type: T.Type) -> T {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        raw.storeBytes(of: UInt32(MemoryLayout<T>.size), as: UInt32.self)
        return raw.load(as: T.self)
    }

    private static func checkedSize(_ raw: UnsafeRawPointer, name: String, firstVersionSize: Int) throws(APIFailure) -> Int {
        let size = Int(raw.load(as: UInt32.self))
        guard size != 0 else {
            throw APIFailure(RF_E_STRUCT_SIZE, "\(name)->struct_size is 0; set it to sizeof the struct (the *_options_init function does)")
        }
        guard size >= firstVersionSize else {
            throw APIFailure(RF_E_STRUCT_SIZE, "\(name)->struct_size is \(size), smaller than the first published size \(firstVersionSize)")
        }
        return size
    }
}
