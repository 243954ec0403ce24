/// Sizes as people read them. The one size formatter of the program.
public enum ByteSize {
    /// A configured size, exactly: `64 MiB`, `1 GiB`, `65 KiB`, or `65537 bytes` when it is not a
    /// whole number of KiB.
    public static func exact(_ bytes: Int64) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return bytes == 1 ? "1 byte" : "\(bytes) bytes"
    }

    /// A measured size, to a tenth of its unit: `1.5 MiB`, `12 KiB`, `300 B`.
    public static func approximate(_ bytes: Int64) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift {
            let tenths = bytes * 10 >> shift
            return tenths % 10 == 0 ? "\(tenths / 10) \(unit)" : "\(tenths / 10).\(tenths % 10) \(unit)"
        }
        return "\(bytes) B"
    }
}
