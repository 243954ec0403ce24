/* The floor of a privileged run, one piece at a time, for `make bench`'s breakdown: what any tool
 * that starts a command as another user must pay at least. Each mode is one process:
 *   floor exit               start and exit (a C process: the cost of the process itself)
 *   floor fsync DIR          write one byte to DIR/floor-fsync and fsync it (one durable record)
 *   floor spawn PATH         fork, exec PATH, wait for it
 *   floor pty PATH           open a pty, fork, make it the child's controlling terminal, exec PATH,
 *                            wait for it (what a relay through a new pty costs at least)
 * and the fleet store's, for its breakdown (bench/fleet.sh), libpq loaded as jitexec loads it:
 *   floor pq-load            dlopen libpq.so.5 and the libraries it needs
 *   floor pq-connect FILE    and connect to the libpq URL in FILE (the first line), then close
 *   floor pq-query FILE      and run one statement (SELECT 1) on the new connection
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int spawn(const char *path, int pty) {
    int master = -1, slave = -1;
    if (pty && openpty(&master, &slave, NULL, NULL, NULL) != 0) return perror("openpty"), 1;
    pid_t pid = fork();
    if (pid < 0) return perror("fork"), 1;
    if (pid == 0) {
        if (pty) {
            setsid();
            ioctl(slave, TIOCSCTTY, 0);
            dup2(slave, 0), dup2(slave, 1), dup2(slave, 2);
            close(master), close(slave);
        }
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    if (pty) close(slave);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {}
    if (pty) close(master);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* libpq through dlopen, as jitexec's CJitexecPQ uses it (no libpq-dev needed to build this). */
static int pq(const char *mode, const char *url_file) {
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return fprintf(stderr, "%s\n", dlerror()), 1;
    if (strcmp(mode, "pq-load") == 0) return 0;
    char url[4096];
    FILE *f = url_file ? fopen(url_file, "r") : NULL;
    if (f == NULL || fgets(url, sizeof url, f) == NULL) return perror(url_file ? url_file : "no URL file"), 1;
    fclose(f);
    url[strcspn(url, "\n")] = '\0';
    void *(*connectdb)(const char *) = (void *(*)(const char *))dlsym(lib, "PQconnectdb");
    int (*status)(const void *) = (int (*)(const void *))dlsym(lib, "PQstatus");
    void (*finish)(void *) = (void (*)(void *))dlsym(lib, "PQfinish");
    void *(*exec)(void *, const char *) = (void *(*)(void *, const char *))dlsym(lib, "PQexec");
    int (*result_status)(const void *) = (int (*)(const void *))dlsym(lib, "PQresultStatus");
    void (*clear)(void *) = (void (*)(void *))dlsym(lib, "PQclear");
    if (!connectdb || !status || !finish || !exec || !result_status || !clear) return fprintf(stderr, "libpq?\n"), 1;
    void *conn = connectdb(url);
    int failed = status(conn) != 0; /* CONNECTION_OK */
    if (!failed && strcmp(mode, "pq-query") == 0) {
        void *result = exec(conn, "SELECT 1");
        failed = result_status(result) != 2; /* PGRES_TUPLES_OK */
        clear(result);
    }
    finish(conn);
    if (failed) fprintf(stderr, "%s: the connection or its statement failed\n", mode);
    return failed;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "exit") == 0) return 0;
    if (argc >= 3 && strcmp(argv[1], "fsync") == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/floor-fsync", argv[2]);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) != 0) return perror(path), 1;
        return close(fd);
    }
    if (argc >= 3 && strcmp(argv[1], "spawn") == 0) return spawn(argv[2], 0);
    if (argc >= 3 && strcmp(argv[1], "pty") == 0) return spawn(argv[2], 1);
    if (argc >= 2 && strncmp(argv[1], "pq-", 3) == 0) return pq(argv[1], argc >= 3 ? argv[2] : NULL);
    fprintf(stderr, "usage: floor exit | fsync DIR | spawn PATH | pty PATH | pq-load | pq-connect FILE | pq-query FILE\n");
    return 2;
}
