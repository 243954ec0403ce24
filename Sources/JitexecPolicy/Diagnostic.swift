import JitexecBase

/// One finding of the policy loader, shown as `FILE:LINE: error: message`.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// Errors make the policy unusable; warnings do not.
    public enum Severity: String, Sendable {
        case error, warning
    }

    public var location: SourceLocation
    public var severity: Severity
    public var message: String

    public init(location: SourceLocation, severity: Severity, message: String) {
        self.location = location
        self.severity = severity
        self.message = message
    }

    public static func error(_ location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(location: location, severity: .error, message: message)
    }

    public static func warning(_ location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(location: location, severity: .warning, message: message)
    }

    public var description: String { "\(location.file):\(location.line): \(severity.rawValue): \(message)" }
}

/// Policy text quoted for a message: in double quotes, with control and invisible characters escaped.
package func quoted(_ text: String) -> String { "\"" + Escape.text(text) + "\"" }

/// A name quoted for a message: in single quotes, escaped.
package func named(_ text: String) -> String { "'" + Escape.text(text) + "'" }
