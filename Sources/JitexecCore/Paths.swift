import CJitexecConfig

/// Where jitexec reads policy and keeps state. Fixed when the binary is built
/// (`make PREFIX=... SYSCONFDIR=... LOCALSTATEDIR=... RUNDIR=... PAM_SERVICE=...`); no environment
/// variable, flag or working directory changes them at run time.
public struct Paths: Sendable, Equatable {
    var prefix: String
    var sysconfdir: String
    var localstatedir: String
    var rundir: String
    var pamService: String
    public var version: String

    /// The folder of the installed policy: policy.toml and policy.d.
    var policyFolder: String { "\(sysconfdir)/jitexec" }
    var policyFile: String { "\(policyFolder)/\(Self.policyFileName)" }
    var policyDir: String { "\(policyFolder)/\(Self.dropInFolderName)" }
    static var policyFileName: String { "policy.toml" }
    static var dropInFolderName: String { "policy.d" }
    var stateDir: String { "\(localstatedir)/lib/jitexec" }
    var database: String { "\(stateDir)/\(Self.databaseName)" }
    /// The SQLite store's file name in the state directory.
    static var databaseName: String { "jitexec.db" }
    var credentialDir: String { "\(rundir)/jitexec" }
    /// Session recordings (asciicast v2), root-only.
    var sessionsDir: String { "\(localstatedir)/log/jitexec/sessions" }
    /// The recording of session `id`: named by the id alone, never by a path read from elsewhere.
    func recording(session id: Int64) -> String { "\(sessionsDir)/\(id).cast" }
    /// An installed program (`jitexec`, `jitctl`): `PREFIX/bin/NAME`.
    func binary(_ name: String) -> String { "\(prefix)/bin/\(name)" }

    /// The paths compiled into this binary.
    public static let builtIn = Paths(
        prefix: String(cString: jitexec_prefix),
        sysconfdir: String(cString: jitexec_sysconfdir),
        localstatedir: String(cString: jitexec_localstatedir),
        rundir: String(cString: jitexec_rundir),
        pamService: String(cString: jitexec_pam_service),
        version: String(cString: jitexec_version))
}
