import CJitexecSystem

/// The shared objects this process has loaded (its libraries, PAM's modules and theirs).
public enum LoadedObjects {
    /// Keeps PAM's modules, and so the libraries they loaded, mapped until the process exits: a
    /// later `dlclose` (`pam_end` closing them) no longer unmaps them. Loads nothing. jitexec ends
    /// right after `pam_end`, so the unmapping is left to its exit (`jitexec_exit`'s holder), not
    /// done in between.
    public static func keepMapped() { jx_keep_loaded_objects() }
}
