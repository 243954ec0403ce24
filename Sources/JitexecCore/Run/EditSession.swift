import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec -e FILE...`, sudoedit: root-owned files edited without running an editor as root.
///
/// After the policy allowed `sudoedit FILE...` (canonical paths) and a grant covers it, jitexec
/// opens each file as the target (walking from `/` without following a link, refusing links and
/// files under a directory the caller may write), copies it into a fresh folder under /var/tmp
/// that it then gives to the caller, and runs the caller's editor *as the caller* on the copies.
/// Afterwards it reads each copy back (only a regular file of the caller's, never through a link)
/// and writes a changed one into the file it opened at the start, through that same descriptor:
/// which files are written is decided here, never by the editor's arguments (sudo's CVE-2023-22809).
/// `exec.end` records every file with its SHA-256 before and after.
final class EditSession {
    /// What the policy matches: `sudoedit` followed by the canonical paths.
    static let command = CommandPattern.sudoedit
    /// The largest file that can be edited.
    static let maxBytes = 16 << 20
    /// Where the folder of copies is made.
    static let folderParent = "/var/tmp"

    struct File {
        /// The canonical path the policy matched.
        var path: String
        /// Its directory, opened from `/` without following links.
        var parent: Int32
        var name: String
        /// The file as found at the start (an O_PATH handle: it reads and writes nothing by itself);
        /// nil when it does not exist yet (created if edited).
        var fd: Int32?
        /// Its bytes when opened (empty for a new file), and their SHA-256 (nil for a new file).
        var content: [UInt8]
        var before: String?
        /// Its copy's name in the folder.
        var copy: String
    }

    let files: [File]
    /// The folder of copies (the caller's), and a descriptor that keeps naming it if renamed.
    let folder: String
    let folderFD: Int32
    let caller: Account
    let target: Account

    private init(files: [File], folder: String, folderFD: Int32, caller: Account, target: Account) {
        self.files = files
        self.folder = folder
        self.folderFD = folderFD
        self.caller = caller
        self.target = target
    }

    deinit {
        for f in files {
            close(f.parent)
            if let fd = f.fd { close(fd) }
        }
        close(folderFD)
    }

    // MARK: The paths the policy sees

    /// FILE as an absolute path with `.`, `..` and repeated slashes taken out (against the
    /// caller's working directory when relative). Links are refused when the file is opened, so
    /// this is the path that is opened.
    static func canonicalPath(_ word: UserText, cwd: String?) throws(JitError) -> String {
        guard let text = word.string, !text.isEmpty, !word.containsNUL else {
            throw .usage("-e takes file names; \(word.escaped) is not one")
        }
        let absolute: String
        if text.hasPrefix("/") {
            absolute = text
        } else {
            guard let cwd else { throw .usage("cannot tell where \(word.escaped) is: give its absolute path") }
            absolute = cwd + "/" + text
        }
        // Bytes, not characters: a `/` followed by a combining mark is one Swift Character, but
        // two path components to the kernel and to fnmatch.
        var parts: [ArraySlice<UInt8>] = []
        for part in Array(absolute.utf8).split(separator: slash) where part != [dot] {
            if part == [dot, dot] {
                if !parts.isEmpty { parts.removeLast() }
            } else {
                parts.append(part)
            }
        }
        guard !parts.isEmpty else { throw .usage("-e edits files; / is a directory") }
        return String(decoding: parts.flatMap { [slash] + $0 }, as: UTF8.self)
    }

    /// The components of a canonical path, split on the byte `/`; each is a name of one
    /// directory entry (never empty, `.` or `..`, never holding a `/`), or nil.
    static func components(_ path: String) -> [String]? {
        let parts = Array(path.utf8).split(separator: slash, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].isEmpty else { return nil }
        let names = parts.dropFirst()
        guard names.allSatisfy({ !$0.isEmpty && $0 != [dot] && $0 != [dot, dot] }) else { return nil }
        return names.map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Opening

    /// Opens and reads every file and makes the (still root-only, empty) folder for the copies;
    /// nothing is left behind when it throws. The caller gets the copies from `handOver`, once
    /// `exec.start` is recorded and the grant found in force: not a byte of a file before that.
    static func open(paths: [String], caller: Account, target: Account) throws(JitError) -> EditSession {
        var opened: [File] = []
        func closeOpened() {
            for f in opened {
                close(f.parent)
                if let fd = f.fd { close(fd) }
            }
        }
        var names: Set<String> = []
        do throws(JitError) {
            for path in paths {
                guard !opened.contains(where: { $0.path == path }) else {
                    throw .usage("\(Escape.text(path)) is named twice; name each file once")
                }
                var file = try openFile(path, caller: caller, target: target)
                // Copies keep the file's name (editors pick a syntax from it); a second file of the
                // same name gets a number in front.
                var copy = file.name
                var n = 2
                while names.contains(copy) {
                    copy = "\(n)-\(file.name)"
                    n += 1
                }
                names.insert(copy)
                file.copy = copy
                opened.append(file)
            }
        } catch {
            closeOpened()
            throw error
        }
        var template = Array("\(folderParent)/jitexec-edit.XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            closeOpened()
            throw .execFailed("cannot make a folder for the copies in \(folderParent): \(errnoText())", status: 1)
        }
        let folder = String(nulTerminated: template)
        let folderFD = Glibc.open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folderFD >= 0 else {
            rmdir(folder)
            closeOpened()
            throw .execFailed("cannot open \(folder): \(errnoText())", status: 1)
        }
        return EditSession(files: opened, folder: folder, folderFD: folderFD, caller: caller, target: target)
    }

    /// Writes the copies and gives them and their folder to the caller. The copies are made while
    /// the folder is still root's (0700), so nothing of the caller's can stand in their place.
    func handOver() throws(JitError) {
        for f in files {
            let fd = openat(folderFD, f.copy, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0, FileSystem.writeAll(fd, f.content), fchown(fd, caller.uid, caller.gid) == 0 else {
                let why = errnoText()
                if fd >= 0 { close(fd) }
                removeCopies()
                throw .execFailed(
                    "cannot copy \(Escape.text(f.path)) for editing: \(why); nothing was changed", status: 1)
            }
            close(fd)
        }
        guard fchown(folderFD, caller.uid, caller.gid) == 0 else {
            removeCopies()
            throw .execFailed("cannot give \(folder) to \(caller.name): \(errnoText()); nothing was changed", status: 1)
        }
    }

    /// Opens `path` as the target would: every directory from `/` without following a link, none
    /// of them one the caller may write (they could swap the file), then the file itself without
    /// following a link, a regular file the target may read and write.
    static func openFile(_ path: String, caller: Account, target: Account) throws(JitError) -> File {
        let shown = Escape.text(path)
        guard let components = components(path) else {
            throw .usage("\(shown) is not a canonical path (empty, '.' or '..' components)")
        }
        var dir = Glibc.open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw .execFailed("cannot open /: \(errnoText())", status: 1) }
        var walked = ""
        for (index, component) in components.dropLast().enumerated() {
            let next = openat(dir, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let why = errno
            close(dir)
            walked += "/" + component
            guard next >= 0 else {
                switch why {
                case ELOOP, ENOTDIR:
                    throw .notPermitted(
                        "\(Escape.text(walked)) is a symbolic link or not a directory; jitexec -e follows no links: name the file by its real path"
                    )
                case ENOENT: throw .usage("\(shown): the directory \(Escape.text(walked)) does not exist")
                default:
                    throw .notPermitted(
                        "\(shown): cannot open \(Escape.text(walked)): \(errnoText(why))")
                }
            }
            dir = next
            var st = stat()
            guard fstat(dir, &st) == 0 else {
                close(dir)
                throw .notPermitted("\(shown): cannot check \(Escape.text(walked)): \(errnoText())")
            }
            let isParent = index == components.count - 2
            if writable(dir, st, by: caller) && (isParent || !(st.st_mode & S_ISVTX != 0 && st.st_uid == 0)) {
                close(dir)
                throw .notPermitted(
                    "\(shown) is in \(Escape.text(walked)), which you may write: edit it without jitexec (sudoedit refuses these too)"
                )
            }
        }
        let name = components[components.count - 1]
        // First a descriptor that opens nothing (O_PATH): a link, a device or a FIFO is refused
        // before it is ever opened for reading or writing.
        let handle = openat(dir, name, openPathOnly | O_NOFOLLOW | O_CLOEXEC)
        let why = errno
        guard handle >= 0 else {
            guard why == ENOENT else {
                close(dir)
                throw .notPermitted("cannot open \(shown): \(errnoText(why))")
            }
            // A new file, created when the copy comes back with something in it; the target must be able to.
            var st = stat()
            guard fstat(dir, &st) == 0, target.uid == 0 || mayAccess(st, target, bits: 0o3) else {
                close(dir)
                throw .notPermitted("\(shown) does not exist and \(target.name) may not create it")
            }
            return File(path: path, parent: dir, name: name, fd: nil, content: [], before: nil, copy: name)
        }
        var st = stat()
        let statted = fstat(handle, &st) == 0
        let kind = st.st_mode & S_IFMT
        var problem: String? =
            !statted
            ? "cannot check \(shown): \(errnoText())"
            : kind == S_IFLNK
                ? "\(shown) is a symbolic link; jitexec -e follows no links: name the file by its real path"
                : kind != S_IFREG
                    ? "\(shown) is not a regular file"
                    : st.st_size > maxBytes
                        ? "\(shown) is larger than \(ByteSize.exact(Int64(maxBytes))); jitexec -e edits smaller files"
                        : st.st_nlink != 1
                            ? "\(shown) has \(st.st_nlink) hard links; jitexec -e edits files with one name only"
                            : st.st_mode & (S_ISUID | S_ISGID) != 0
                                ? "\(shown) is setuid or setgid; jitexec -e does not edit those"
                                : target.uid != 0 && !mayAccess(st, target, bits: 0o6)
                                    ? "\(target.name) may not read and write \(shown)" : nil
        var fd: Int32 = -1
        if problem == nil {
            // The same file, opened for reading only through the handle: held open for writing
            // during the edit, it could not be executed meanwhile (ETXTBSY).
            fd = Glibc.open("/proc/self/fd/\(handle)", O_RDONLY | O_NOCTTY | O_CLOEXEC)
            if fd < 0 { problem = "cannot open \(shown): \(errnoText())" }
        }
        if let problem {
            close(handle)
            close(dir)
            throw .notPermitted(problem)
        }
        defer { close(fd) }
        let content: [UInt8]
        do {
            content = try readAll(fd)
        } catch {
            close(handle)
            close(dir)
            throw .notPermitted("cannot read \(shown): \(error)")
        }
        return File(
            path: path, parent: dir, name: name, fd: handle, content: content, before: FileDigest.sha256(content),
            copy: name)
    }

    /// Whether `account` (the caller) may write in directory `dir`: it owns it (and so may chmod
    /// it), or the kernel says so with the caller's own ids and session groups (ACLs included), as
    /// sudo's `dir_is_writable` asks. A check that cannot be made counts as writable. Root is never
    /// stopped by this check.
    static func writable(_ dir: Int32, _ st: stat, by account: Account) -> Bool {
        guard account.uid != 0 else { return false }
        if st.st_uid == account.uid { return true }
        let allowed = Privileges.asCallerEffective { faccessat(dir, ".", W_OK, AT_EACCESS) == 0 }
        return allowed ?? true
    }

    /// Whether the mode bits give `account` every one of `bits` (4 read, 2 write, 1 search) in the
    /// class it falls in (owner, group, other), as the kernel checks them.
    static func mayAccess(_ st: stat, _ account: Account, bits: mode_t) -> Bool {
        let mode = st.st_mode
        if st.st_uid == account.uid { return (mode >> 6) & bits == bits }
        if account.groupIDs.contains(st.st_gid) { return (mode >> 3) & bits == bits }
        return mode & bits == bits
    }

    /// A file just opened, read whole (at most `maxBytes`).
    static func readAll(_ fd: Int32) throws -> [UInt8] {
        guard let bytes = FileSystem.readAll(fd, limit: maxBytes) else {
            throw JitError.execFailed(errno == EFBIG ? "the file grew too large" : errnoText(), status: 1)
        }
        return bytes
    }

    // MARK: The editor

    /// The caller's editor (`SUDO_EDITOR`, `VISUAL`, `EDITOR`, else the system's), run as the
    /// caller with their own environment on the copies, through `env` so that the caller's PATH
    /// finds it as the caller (jitexec never looks at a path the caller names with root's eyes). An
    /// editor value holding a `--` word is refused: with sudo it once ended the options and named
    /// more files (CVE-2023-22809). Here no argument of the editor can add a file anyway; the
    /// refusal makes the mistake visible.
    func editorSpec(environment: [UserText], cwd: String?, usePTY: Bool) throws(JitError) -> ExecSpec {
        let words = try Self.editor(environment: environment)
        let argv =
            [UserText("env"), UserText("--")] + words.map { UserText($0) }
            + files.map { UserText(folder + "/" + $0.copy) }
        return ExecSpec(
            path: Self.env, argv: argv, environment: environment, identity: caller, umask: 0o077,
            cwd: cwd ?? caller.home, usePTY: usePTY)
    }

    static let env = "/usr/bin/env"
    static let defaultEditors = ["/usr/bin/editor", "/usr/bin/vi", "/usr/bin/nano"]

    /// The editor's words: the first of `SUDO_EDITOR`, `VISUAL`, `EDITOR` that has any, split at
    /// blanks (no quoting, as sudo does), else the first of `defaultEditors` that exists.
    static func editor(environment: [UserText]) throws(JitError) -> [String] {
        func value(_ name: String) -> String? {
            let prefix = name + "="
            for entry in environment {
                if let text = entry.string, text.hasPrefix(prefix) { return String(text.dropFirst(prefix.count)) }
            }
            return nil
        }
        for variable in ["SUDO_EDITOR", "VISUAL", "EDITOR"] {
            guard let text = value(variable) else { continue }
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !words.isEmpty else { continue }
            if words.contains("--") {
                throw .usage(
                    "\(variable) ('\(Escape.text(text))') contains '--', which could name more files to edit (as in sudo's CVE-2023-22809); set it to the editor and its options only"
                )
            }
            return words
        }
        guard let fallback = defaultEditors.first(where: { LiveSystem().fileKind($0) == .regularExecutable }) else {
            throw .usage("no editor: set EDITOR (none of \(defaultEditors.joined(separator: ", ")) exists)")
        }
        return [fallback]
    }

    // MARK: Writing back

    /// What became of one file.
    struct Outcome {
        var path: String
        var before: String?
        var after: String?
        var written: Bool
        /// Why it was not written when it changed, or was not read back.
        var problem: String?

        var json: JSONValue {
            .object([
                "path": .string(path), "before_sha256": before.map(JSONValue.string) ?? .null,
                "after_sha256": after.map(JSONValue.string) ?? .null, "written": .bool(written),
                "error": problem.map(JSONValue.string) ?? .null,
            ])
        }
    }

    /// Reads each copy back and writes a changed one into its file (only when the editor
    /// succeeded); the copies are removed unless the editor failed or something could not be
    /// written (`kept`).
    func finish(editorSucceeded: Bool) -> (outcomes: [Outcome], kept: Bool) {
        var outcomes: [Outcome] = []
        var keep = !editorSucceeded
        for f in files {
            var outcome = Outcome(path: f.path, before: f.before, after: nil, written: false, problem: nil)
            defer { outcomes.append(outcome) }
            let content: [UInt8]
            switch readCopy(f) {
            case .bytes(let bytes): content = bytes
            case .problem(let why):
                outcome.problem = why
                continue
            }
            outcome.after = FileDigest.sha256(content)
            let changed = f.fd == nil ? !content.isEmpty : content != f.content
            guard changed, editorSucceeded else { continue }
            if let why = write(content, into: f) {
                outcome.problem = why
                keep = true
            } else {
                outcome.written = true
            }
        }
        if !keep { removeCopies() }
        return (outcomes, keep)
    }

    /// The copy's bytes: a regular file of the caller's, opened without following a link
    /// (the caller owns the folder and may have put anything there).
    private enum Copy {
        case bytes([UInt8])
        case problem(String)
    }

    private func readCopy(_ f: File) -> Copy {
        let fd = openat(folderFD, f.copy, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let why =
                errno == ELOOP ? "a symbolic link, not a regular file of \(caller.name)'s" : "gone (\(errnoText()))"
            return .problem("its copy is \(why); \(f.path) is unchanged")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == caller.uid else {
            return .problem("its copy is not a regular file of \(caller.name)'s; \(f.path) is unchanged")
        }
        guard st.st_size <= Self.maxBytes, let bytes = try? Self.readAll(fd) else {
            return .problem("its copy cannot be read or is too large; \(f.path) is unchanged")
        }
        return .bytes(bytes)
    }

    /// Writes `content` into the file opened at the start (or creates it in its directory, no
    /// link followed, for a new one); nil when done and synced, else why not.
    private func write(_ content: [UInt8], into f: File) -> String? {
        var fd: Int32 = -1
        if let handle = f.fd {
            // The very file found at the start, whatever was renamed meanwhile: no path is looked up.
            fd = Glibc.open("/proc/self/fd/\(handle)", O_WRONLY | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { return "cannot open it for writing: \(errnoText())" }
        } else {
            fd = openat(f.parent, f.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return "cannot create it: \(errnoText())" }
            // 0644 whatever jitexec's own umask, owned by the target and its (-g) group.
            guard fchmod(fd, 0o644) == 0, fchown(fd, target.uid, target.gid) == 0 else {
                let why = errnoText()
                close(fd)
                unlinkat(f.parent, f.name, 0)
                return "cannot give it to \(target.name): \(why)"
            }
        }
        defer { close(fd) }
        var written = 0
        while written < content.count {
            let n = content[written...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(written)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return "cannot write it: \(errnoText())" }
            written += n
        }
        guard ftruncate(fd, off_t(content.count)) == 0, fsync(fd) == 0 else { return "cannot write it: \(errnoText())" }
        return nil
    }

    /// Removes the copies and the folder (what else the caller put in their folder stays theirs).
    func removeCopies() {
        for f in files { unlinkat(folderFD, f.copy, 0) }
        rmdir(folder)
    }

}

/// `O_PATH` (asm-generic/fcntl.h), which Glibc's Swift module leaves out: a descriptor that names a
/// file without opening it for reading or writing.
private let openPathOnly: Int32 = 0o10_000_000

private let slash = UInt8(ascii: "/")
private let dot = UInt8(ascii: ".")
