/// A small JSON writer: the library renders JSON, it never parses it.
public struct JSONText {
    public private(set) var bytes: [UInt8] = []
    /// The most UTF-8 bytes a string member keeps (longer ones are cut, ending in "…"), and
    /// a string array's members together; set by `fitted`.
    private var textLimit = Int.max

    public init() { bytes.reserveCapacity(128) }

    /// The JSON `build` writes, its strings cut shorter and shorter until it fits in `limit`
    /// bytes; `{}` (or nothing, under 2 bytes) when even empty strings do not fit. For the
    /// engine's own events, which must be written whatever the limits: a run that could not
    /// write its terminal event would never end. `build` may be called several times.
    public static func fitted(limit: Int, _ build: (inout JSONText) -> Void) -> JSONText {
        for textLimit in textLimits {
            var json = JSONText()
            json.textLimit = textLimit
            build(&json)
            if json.bytes.count <= limit { return json }
        }
        var json = JSONText()
        if limit >= 2 { json.bytes = Array("{}".utf8) }
        return json
    }

    /// What `fitted` tries, in turn (one array for all calls: engine events are frequent).
    private static let textLimits = [Int.max, 1024, 256, 64, 0]

    /// `value` cut to at most `limit` UTF-8 bytes at a character boundary, "…" included.
    static func cut(_ value: String, toBytes limit: Int) -> String {
        guard value.utf8.count > limit else { return value }
        let ellipsis = "…"
        var kept = String.UnicodeScalarView()
        var used = ellipsis.utf8.count
        for scalar in value.unicodeScalars {
            used += UTF8.width(scalar)
            if used > limit { break }
            kept.append(scalar)
        }
        return limit >= ellipsis.utf8.count ? String(kept) + ellipsis : ""
    }

    public mutating func object(_ body: (inout ObjectWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var writer = ObjectWriter(text: self)
        body(&writer)
        self = writer.text
        bytes.append(UInt8(ascii: "}"))
    }

    /// Calls `body` with the text's bytes. The error is carried out in a variable: the array's
    /// `withUnsafeBytes` only rethrows untyped errors.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var outcome: R?
        var failure: E?
        bytes.withUnsafeBytes { raw in
            do throws(E) { outcome = try body(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return outcome!
    }

    /// Writes `{"<name>":<number>}` at the start of `buffer` and returns its length, or nil if
    /// it does not fit. The data of a step's start and completion events, the engine's most
    /// frequent: written where the caller wants it (on the stack), with no array to allocate.
    /// `name` is written as it is: it must need no JSON escaping.
    public static func numberObject(_ name: StaticString, _ number: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        withDecimal(negative: number < 0, magnitude: number.magnitude) { digits -> Int? in
            let nameLength = name.utf8CodeUnitCount
            let length = nameLength + digits.count + 5  // {"name":number}
            guard length <= buffer.count, let base = buffer.baseAddress else { return nil }
            base.storeBytes(of: UInt8(ascii: "{"), as: UInt8.self)
            base.storeBytes(of: UInt8(ascii: "\""), toByteOffset: 1, as: UInt8.self)
            (base + 2).copyMemory(from: name.utf8Start, byteCount: nameLength)
            base.storeBytes(of: UInt8(ascii: "\""), toByteOffset: 2 + nameLength, as: UInt8.self)
            base.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 3 + nameLength, as: UInt8.self)
            (base + 4 + nameLength).copyMemory(from: digits.baseAddress!, byteCount: digits.count)
            base.storeBytes(of: UInt8(ascii: "}"), toByteOffset: length - 1, as: UInt8.self)
            return length
        }
    }

    /// Appends an integer's decimal digits without building a String.
    mutating func appendDecimal<T: BinaryInteger>(_ number: T) {
        // The magnitude of the most negative value does not fit in T: go through UInt64.
        Self.withDecimal(negative: number < 0, magnitude: UInt64(number.magnitude)) { bytes.append(contentsOf: $0) }
    }

    /// Calls `body` with a number's decimal text ("-" first if `negative`), built on the stack.
    private static func withDecimal<R>(negative: Bool, magnitude: UInt64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: a sign and 20 digits fit
        return withUnsafeMutableBytes(of: &digits) { scratch in
            var first = scratch.count
            var rest = magnitude
            repeat {
                first -= 1
                scratch[first] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            if negative {
                first -= 1
                scratch[first] = UInt8(ascii: "-")
            }
            return body(UnsafeRawBufferPointer(rebasing: scratch[first...]))
        }
    }

    public struct ObjectWriter {
        var text: JSONText
        var first = true

        mutating func key(_ name: StaticString) {
            if !first { text.bytes.append(UInt8(ascii: ",")) }
            first = false
            text.bytes.append(UInt8(ascii: "\""))
            text.bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            text.bytes.append(UInt8(ascii: "\""))
            text.bytes.append(UInt8(ascii: ":"))
        }

        public mutating func field(_ name: StaticString, string: String?) {
            key(name)
            guard var value = string else { return text.bytes.append(contentsOf: Array("null".utf8)) }
            value = JSONText.cut(value, toBytes: text.textLimit)
            value.withUTF8 { JSONEscaping.appendString(UnsafeRawBufferPointer($0), to: &text.bytes) }
        }

        /// A member whose value is JSON the caller provides, or null when it is empty.
        public mutating func field(_ name: StaticString, json value: [UInt8]) {
            key(name)
            if value.isEmpty { text.bytes.append(contentsOf: Array("null".utf8)) } else { text.bytes.append(contentsOf: value) }
        }

        /// A member whose value is a nested object.
        public mutating func field(_ name: StaticString, object body: (inout ObjectWriter) -> Void) {
            key(name)
            text.object(body)
        }

        /// A member whose value is an array of strings.
        public mutating func field(_ name: StaticString, strings: [String]) {
            key(name)
            text.bytes.append(UInt8(ascii: "["))
            var used = 0
            for (index, var string) in strings.enumerated() {
                used += string.utf8.count
                if used > text.textLimit { break }  // as many whole members as fit
                if index > 0 { text.bytes.append(UInt8(ascii: ",")) }
                string.withUTF8 { JSONEscaping.appendString(UnsafeRawBufferPointer($0), to: &text.bytes) }
            }
            text.bytes.append(UInt8(ascii: "]"))
        }

        public mutating func field<T: BinaryInteger>(_ name: StaticString, number: T) {
            key(name)
            text.appendDecimal(number)
        }
    }
}

/// JSON string escaping shared by the writer above and the event envelope renderer.
public enum JSONEscaping {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `bytes` as a quoted JSON string. Invalid UTF-8 becomes U+FFFD, so the output is
    /// always valid JSON whatever the input.
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte < 0x80 {
                switch byte {
                case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0..<0x20, 0x7F:
                    output.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                default: output.append(byte)
                }
                index += 1
                continue
            }
            let length = validUTF8SequenceLength(bytes, at: index)
            if length == 0 {
                output.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD
                index += 1
            } else {
                for i in 0..<length { output.append(bytes[index + i]) }
                index += length
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Length of the well-formed UTF-8 sequence starting at `index`, or 0 if it is not one.
    static func validUTF8SequenceLength(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        for i in 1..<length {
            let byte = bytes[index + i]
            let (lo, hi) = i == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= lo && byte <= hi else { return 0 }
        }
        return length
    }
}
