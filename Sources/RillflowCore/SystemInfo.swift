#if canImport(Glibc)
import Glibc
#endif

/// Facts about the machine the engine runs on.
public enum SystemInfo {
    /// Online CPU cores, at least 1.
    public static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
