import CJitexecSystem

/// The shared objects this process has loaded (its libraries, PAM's modules and theirs).
public enum LoadedObjects {
    /// Keeps every loaded object mapped until the process exits: a later `dlclose` (`pam_end`
    /// closing PAM's modules) no longer unmaps them. Loads nothing. jitexec ends right after
    /// `pam_end`, so the unmapping is left to its exit (`jitexec_exit`'s holder), not done in
    /// between.
    public static func keepMapped() { jx_keep_loaded_objects() }
}
