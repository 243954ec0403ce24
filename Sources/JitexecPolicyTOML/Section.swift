import JitexecPolicy
import TOMLKit

/// A value with the place in a policy file it came from.
struct Located<Value> {
    var value: Value
    var location: SourceLocation
}

/// One key of a policy table with everything needed to point at it in its file.
struct Entry {
    var key: String
    var value: any TOMLValueConvertible
    var file: String
    var table: TableRef
    var locator: LineLocator
    var fallbackLine: Int

    /// The line of `key =`, else the table header.
    var location: SourceLocation {
        SourceLocation(file: file, line: locator.keyLine(table, key) ?? fallbackLine)
    }

    /// The line of one element of an array value.
    func elementLocation(_ element: String) -> SourceLocation {
        SourceLocation(file: file, line: locator.elementLine(table, key, element) ?? fallbackLine)
    }
}

/// One parsed policy file.
struct Document {
    var path: String
    var table: TOMLTable
    var locator: LineLocator

    /// The header of `table`, else the top-level `name =` that defined it inline, else line 1.
    func headerLocation(_ table: TableRef, name: String) -> SourceLocation {
        let line = locator.headerLine(table) ?? locator.keyLine(.root, name) ?? 1
        return SourceLocation(file: path, line: line)
    }
}

/// The keys of one policy table: a `[[rule]]` from one file, or `[settings]` merged over all files.
struct Section {
    var table: TableRef
    /// The (first) header, where a missing key is reported.
    var header: SourceLocation
    private(set) var entries: [String: Entry] = [:]
    /// Keys in the order they were added.
    private(set) var keys: [String] = []

    init(table: TableRef, header: SourceLocation) {
        self.table = table
        self.header = header
    }

    /// A section of all keys of `values`, which lives in `document`.
    init(_ values: TOMLTable, table: TableRef, name: String, in document: Document) {
        self.init(table: table, header: document.headerLocation(table, name: name))
        add(values, in: document)
    }

    subscript(key: String) -> Entry? { entries[key] }

    /// Adds (or overrides) every key of `values`; returns the entries that were overridden.
    @discardableResult
    mutating func add(_ values: TOMLTable, in document: Document) -> [(old: Entry, new: Entry)] {
        var overridden: [(old: Entry, new: Entry)] = []
        for (key, value) in values {
            let entry = Entry(
                key: key, value: value, file: document.path, table: table, locator: document.locator,
                fallbackLine: document.headerLocation(table, name: table.name).line)
            if let old = entries[key] {
                overridden.append((old, entry))
            } else {
                keys.append(key)
            }
            entries[key] = entry
        }
        return overridden
    }
}

extension TableRef {
    /// The table's name without brackets.
    var name: String {
        switch self {
        case .root: return ""
        case .table(let name), .arrayItem(let name, _): return name
        }
    }
}
