import CJitexecConfig

/// Where jitexec reads policy and keeps state. Fixed when the binary is built
/// (`make PREFIX=... SYSCONFDIR=... LOCALSTATEDIR=... RUNDIR=... PAM_SERVICE=...`); no environment
/// variable, flag or working directory changes them at run time.
public struct Paths: Sendable, Equatable {
    public var prefix: String
    public var sysconfdir: String
    public var localstatedir: String
    public var rundir: String
    public var pamService: String
    public var version: String

    public var policyFile: String { "\(sysconfdir)/jitexec/policy.toml" }
    public var policyDir: String { "\(sysconfdir)/jitexec/policy.d" }
    public var stateDir: String { "\(localstatedir)/lib/jitexec" }
    public var database: String { "\(stateDir)/jitexec.db" }
    public var credentialDir: String { "\(rundir)/jitexec" }
    /// An installed program (`jitexec`, `jitctl`): `PREFIX/bin/NAME`.
    public func binary(_ name: String) -> String { "\(prefix)/bin/\(name)" }

    /// The paths compiled into this binary.
    public static let builtIn = Paths(
        prefix: String(cString: jitexec_prefix),
        sysconfdir: String(cString: jitexec_sysconfdir),
        localstatedir: String(cString: jitexec_localstatedir),
        rundir: String(cString: jitexec_rundir),
        pamService: String(cString: jitexec_pam_service),
        version: String(cString: jitexec_version))
}
