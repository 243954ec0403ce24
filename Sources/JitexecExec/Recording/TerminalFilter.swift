/// Makes recorded terminal output safe to print on a watcher's terminal (`jitctl replay`,
/// `attach`). The recorded command chose every byte, so nothing may reach the watcher's terminal
/// that makes it answer (a report typed into the watcher's shell), write the clipboard, set the
/// title, change its character encoding or reset it. What stays is text and the sequences that only
/// draw: an allowlist, not a list of known attacks.
///
/// In `.safe` mode (replay, attach) text stays with `\n`, `\r`, `\t` and `\b`; CSI sequences stay
/// when `isDrawing` allows them (cursor, erase, colours, scrolling, modes) and go whole otherwise
/// (device reports `c` `n` `x`, window operations and title reports `t`, mode queries `$p`,
/// media copy `i`, ...); two-byte escapes stay for cursor save and restore, keypad modes, index and
/// reverse index, and character set designations (`ESC ( B`); OSC, DCS, SOS, PM and APC strings go
/// whole up to their BEL or ST (or to the end, when they never end); every other C0 control, DEL,
/// and C1 control (U+0080–U+009F) goes. In `.plain` mode (`replay --cat`) every escape sequence
/// and control goes; text stays with `\n` and `\t` (a `\r` goes, so `\r\n` becomes `\n`).
///
/// A sequence may be cut between two `feed` calls (output arrives in chunks): the filter holds
/// the part it has seen until the sequence ends. A sequence unfinished at the end is dropped.
public struct TerminalFilter: Sendable {
    public enum Mode: Sendable {
        case safe
        case plain
    }

    private enum State {
        case ground
        /// After ESC.
        case escape
        /// After ESC and intermediate bytes (0x20–0x2F).
        case escapeIntermediate
        /// After ESC [.
        case csi
        /// Inside a CSI too long to be a drawing one: dropped up to its final byte.
        case csiDropped
        /// Inside an OSC, DCS, SOS, PM or APC string: dropped up to BEL, ST, CAN or SUB.
        case controlString
    }

    /// The longest CSI or escape sequence held back; a longer one is dropped.
    static let maxSequence = 64

    public let mode: Mode
    private var state = State.ground
    /// The sequence seen so far (in the escape and CSI states).
    private var sequence = String.UnicodeScalarView()

    public init(_ mode: Mode = .safe) {
        self.mode = mode
    }

    /// `text` filtered in `.safe` mode, an unfinished sequence at the end dropped.
    public static func safe(_ text: String) -> String {
        var filter = TerminalFilter(.safe)
        return filter.feed(text)
    }

    /// `text` filtered in `.plain` mode.
    public static func plain(_ text: String) -> String {
        var filter = TerminalFilter(.plain)
        return filter.feed(text)
    }

    /// The part of `text` (following what was fed before) that may be printed now.
    public mutating func feed(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { step(scalar, into: &out) }
        return String(out)
    }

    private mutating func step(_ scalar: Unicode.Scalar, into out: inout String.UnicodeScalarView) {
        let value = scalar.value
        switch state {
        case .ground:
            ground(scalar, into: &out)
        case .escape:
            switch value {
            case 0x5B:  // [
                state = .csi
                sequence.append(scalar)
            case 0x5D, 0x50, 0x58, 0x5E, 0x5F:  // ] P X ^ _
                enterGround()
                state = .controlString
            case 0x20...0x2F:
                state = .escapeIntermediate
                sequence.append(scalar)
            case 0x30...0x7E:
                if Self.keptEscapes.contains(value) { emit(scalar, into: &out) }
                enterGround()
            default:
                abandon(scalar, into: &out)
            }
        case .escapeIntermediate:
            switch value {
            case 0x20...0x2F where sequence.count < Self.maxSequence:
                sequence.append(scalar)
            case 0x30...0x7E:
                let designation = sequence.count == 2 && Self.charsetIntermediates.contains(sequence.last!.value)
                if designation { emit(scalar, into: &out) }
                enterGround()
            default:
                abandon(scalar, into: &out)
            }
        case .csi:
            switch value {
            case 0x20...0x3F where sequence.count < Self.maxSequence:
                sequence.append(scalar)
            case 0x20...0x3F:
                enterGround()
                state = .csiDropped
            case 0x40...0x7E:
                sequence.append(scalar)
                if Self.isDrawing(csi: sequence) { emit(nil, into: &out) }
                enterGround()
            default:
                abandon(scalar, into: &out)
            }
        case .csiDropped:
            switch value {
            case 0x20...0x3F: break
            case 0x40...0x7E: state = .ground
            default: abandon(scalar, into: &out)
            }
        case .controlString:
            switch value {
            case 0x07, 0x18, 0x1A, 0x9C: state = .ground  // BEL, CAN, SUB, ST
            case 0x1B: enterEscape()  // ESC \ is ST; ESC anything else starts the next sequence
            default: break
            }
        }
    }

    /// Text and the controls the mode keeps.
    private mutating func ground(_ scalar: Unicode.Scalar, into out: inout String.UnicodeScalarView) {
        switch scalar.value {
        case 0x1B: enterEscape()
        case 0x0A, 0x09: out.append(scalar)
        case 0x0D, 0x08: if mode == .safe { out.append(scalar) }
        case 0x00..<0x20, 0x7F...0x9F: break
        default: out.append(scalar)
        }
    }

    /// A sequence interrupted by something that cannot continue it: the sequence goes, and the
    /// scalar counts on its own (ESC starts a new sequence; CAN and SUB only cancel).
    private mutating func abandon(_ scalar: Unicode.Scalar, into out: inout String.UnicodeScalarView) {
        enterGround()
        ground(scalar, into: &out)
    }

    private mutating func enterEscape() {
        state = .escape
        sequence = String.UnicodeScalarView()
        sequence.append("\u{1B}")
    }

    private mutating func enterGround() {
        state = .ground
        sequence = String.UnicodeScalarView()
    }

    /// The held sequence (and `last`) when the mode keeps sequences.
    private func emit(_ last: Unicode.Scalar?, into out: inout String.UnicodeScalarView) {
        guard mode == .safe else { return }
        out.append(contentsOf: sequence)
        if let last { out.append(last) }
    }

    /// ESC 7 / 8 (save, restore cursor), ESC = / > (keypad modes), ESC D, E, M (index, next line,
    /// reverse index), ESC H (tab set). ESC c (full reset), ESC Z (identify) and the rest go.
    static let keptEscapes: Set<UInt32> = Set("78=>DEMH".unicodeScalars.map(\.value))

    /// ESC ( ) * + - . / then a final byte: which character set G0–G3 use (line drawing).
    /// ESC % (leaving UTF-8), ESC # and ESC SP sequences go.
    static let charsetIntermediates: Set<UInt32> = Set("()*+-./".unicodeScalars.map(\.value))

    /// CSI final bytes that only move the cursor, erase, insert, delete, scroll, set colours and
    /// attributes, tabs, margins, or modes, with no prefix or intermediate byte: `@ A–H I J K L M
    /// P S T X Z ` a b d e f g h l m r s u`.
    static let drawingFinals: Set<UInt32> = Set("@ABCDEFGHIJKLMPSTXZ`abdefghlmrsu".unicodeScalars.map(\.value))

    /// With the `?` prefix: DEC private modes set, reset, saved and restored (`h l r s`), and
    /// selective erase (`J K`).
    static let privateFinals: Set<UInt32> = Set("hlrsJK".unicodeScalars.map(\.value))

    /// Whether the CSI sequence `ESC [ ... final` only draws. Everything that asks the terminal to
    /// answer (`c`, `n`, `x`, `$p`, `>q`, `?u`, ...), to report or change its window (`t`), or to
    /// print (`i`) is outside the allowlist.
    static func isDrawing(csi sequence: String.UnicodeScalarView) -> Bool {
        let body = Array(sequence.dropFirst(2).dropLast().map(\.value))
        let final = sequence.last!.value
        let intermediates = body.filter { (0x20...0x2F).contains($0) }
        let parameters = body.filter { (0x30...0x3F).contains($0) }
        // Parameters come before intermediates; `< = > ?` only first.
        guard body == parameters + intermediates, !parameters.dropFirst().contains(where: { $0 >= 0x3C }) else {
            return false
        }
        switch (parameters.first.map { $0 >= 0x3C ? $0 : 0 } ?? 0, intermediates) {
        case (0, []): return drawingFinals.contains(final)
        case (0x3F, []): return privateFinals.contains(final)  // ?
        case (0, [0x20]): return final == 0x71  // SP q: cursor style
        case (0, [0x21]): return final == 0x70  // ! p: soft reset
        default: return false
        }
    }
}
