import Glibc
import JitexecBase

/// The program's clocks. Wall time (`wall`) says when something happened and is what records and
/// grants carry; the monotonic clock measures how long something took or how long is left, and
/// does not jump when someone sets the date.
public enum Clocks {
    /// CLOCK_MONOTONIC as a Duration since an arbitrary origin.
    public static func monotonic() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return .seconds(Int64(now.tv_sec)) + .nanoseconds(Int64(now.tv_nsec))
    }

    /// CLOCK_REALTIME: now, as records carry it.
    public static func wall() -> Instant {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Instant(micros: Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)
    }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
