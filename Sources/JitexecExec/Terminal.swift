import CJitexecSystem
import Glibc

/// True when `fd` is open on a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// A terminal's window size (TIOCGWINSZ / TIOCSWINSZ).
public struct WindowSize: Equatable, Sendable {
    public var rows: UInt16
    public var columns: UInt16

    /// The size of the terminal on `fd`, nil when it is not a terminal.
    public static func of(_ fd: Int32) -> WindowSize? {
        var size = winsize()
        guard jx_get_winsize(fd, &size) == 0 else { return nil }
        return WindowSize(rows: size.ws_row, columns: size.ws_col)
    }

    /// Sets this size on the terminal `fd`; a pty master's foreground group then gets SIGWINCH.
    @discardableResult
    func apply(to fd: Int32) -> Bool {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        return jx_set_winsize(fd, &size) == 0
    }
}

/// The caller's terminal settings, saved once so they can be put back on every path.
struct TerminalMode {
    let fd: Int32
    let saved: termios

    /// Saves the current settings of `fd`; nil when it is not a terminal.
    init?(fd: Int32) {
        var current = termios()
        guard tcgetattr(fd, &current) == 0 else { return nil }
        self.fd = fd
        self.saved = current
    }

    /// True unless `fd` is this process's controlling terminal and another process group owns
    /// it: changing a background job's terminal would stop it with SIGTTOU.
    var mayTakeOver: Bool {
        let owner = tcgetpgrp(fd)
        return owner == -1 || owner == getpgrp()
    }

    /// Raw mode: every byte goes to the command's pty, whose own line discipline does echo,
    /// line editing and signal keys.
    func makeRaw() {
        var raw = saved
        cfmakeraw(&raw)
        _ = tcsetattr(fd, TCSADRAIN, &raw)
    }

    /// Puts the saved settings back.
    func restore() {
        var original = saved
        while tcsetattr(fd, TCSADRAIN, &original) != 0 && errno == EINTR {}
    }
}
