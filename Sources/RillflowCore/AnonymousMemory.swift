#if canImport(Glibc)
import Glibc
#endif

/// Zero-filled memory mapped straight from the kernel, for a run's large buffers (its log,
/// its history's chunks): a page costs nothing until it is first written, and unmapping gives
/// the memory back to the system at once.
///
/// malloc and calloc make no such promise for blocks of this size: once glibc has freed one,
/// it raises its mmap threshold and serves the next from its heap, where calloc must clear
/// every byte. A new run's 2 MiB log then cost a 2 MiB memset (tens of microseconds) and was
/// resident in full before its first event; freed history chunks stayed resident too.
enum AnonymousMemory {
    /// `byteCount` zeroed bytes, page-aligned; nil if the system refuses the mapping.
    static func map(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { return nil }
        return mapped
    }

    /// Gives back memory `map` returned, with the same `byteCount`.
    static func unmap(_ memory: UnsafeMutableRawPointer, _ byteCount: Int) {
        munmap(memory, byteCount)
    }
}
