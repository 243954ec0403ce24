/* The floor of a privileged run, one piece at a time, for `make bench`'s breakdown: what any tool
 * that starts a command as another user must pay at least. Each mode is one process:
 *   floor exit               start and exit (a C process: the cost of the process itself)
 *   floor fsync DIR          write one byte to DIR/floor-fsync and fsync it (one durable record)
 *   floor spawn PATH         fork, exec PATH, wait for it
 *   floor pty PATH           open a pty, fork, make it the child's controlling terminal, exec PATH,
 *                            wait for it (what a relay through a new pty costs at least)
 */
#define _GNU_SOURCE
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
    fprintf(stderr, "usage: floor exit | fsync DIR | spawn PATH | pty PATH\n");
    return 2;
}
