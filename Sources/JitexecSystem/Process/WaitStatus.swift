/// A waitpid(2) status, decoded once, in one place.
public enum WaitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    case stopped(Int32)
    case continued

    public init(_ status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if status & 0xffff == 0xffff {
            self = .continued
        } else if low == 0x7f {
            self = .stopped((status >> 8) & 0xff)
        } else {
            self = .signaled(low)
        }
    }
}
