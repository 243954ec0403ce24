/* The process's arguments for Swift's CommandLine, as the kernel passed them to the program.
 *
 * The Swift runtime finds them on Linux with a static initialiser (ArgvGrabber, in the standard
 * library's CommandLine.cpp) that runs at every start: it reads /proc/self/maps line by line with
 * fgets and sscanf to find the stack, then walks back from environ to argv. The kernel builds that
 * file's text for every mapping of the process (about 50 in jitexec before main), so every run of
 * jitexec and jitctl paid for it (0.05-0.10 ms in the smallest static Swift program, hyperfine).
 *
 * The runtime reaches those arguments through two functions only, both defined in that one object
 * of libswiftCore.a. Defined here, in the executable, the linker takes these and never pulls that
 * object (with its initialiser) out of the archive; were it pulled anyway, the link would fail on
 * the duplicate symbols rather than run two copies. The arguments are those the program's
 * .preinit_array entry receives (the same argc and argv main gets, before any initialiser runs),
 * which is what the runtime's own walk finds. Like the runtime's, an override (Swift's JIT mode
 * sets one) comes first, and no arguments at all read as an empty argv. */
#include <stddef.h>

static char **initial_argv;
static int initial_argc;
static char **override_argv;
static int override_argc;

static void jitexec_capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    initial_argc = argc;
    initial_argv = argv;
}

__attribute__((section(".preinit_array"), used))
static void (*const jitexec_preinit_arguments)(int, char **, char **) = jitexec_capture_arguments;

/* Swift's calling convention (SWIFT_CC(swift) in the runtime's declarations). */
__attribute__((swiftcall)) char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen);
__attribute__((swiftcall)) void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc);

__attribute__((swiftcall)) char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
    static char *empty[] = {NULL};
    if (override_argv != NULL) {
        *outArgLen = override_argc;
        return override_argv;
    }
    if (initial_argv == NULL) {
        *outArgLen = 0;
        return empty;
    }
    *outArgLen = initial_argc;
    return initial_argv;
}

__attribute__((swiftcall)) void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc) {
    override_argv = argv;
    override_argc = argc;
}
