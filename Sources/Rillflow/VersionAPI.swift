import CRillflow

/// The library's version; equal to the header's RF_VERSION_* it was built with.
let libraryVersionString: StaticString = "1.4.0"

@c @implementation
public func rf_version() -> UInt32 {
    UInt32(RF_VERSION_MAJOR * 10000 + RF_VERSION_MINOR * 100 + RF_VERSION_PATCH)
}

@c @implementation
public func rf_version_string() -> UnsafePointer<CChar>! {
    staticCString(libraryVersionString)
}

/// A static string as a C string: StaticString literals are NUL-terminated and never freed.
func staticCString(_ string: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
}
