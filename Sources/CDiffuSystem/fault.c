// A SIGBUS handler for programs that read memory-mapped model files (the diffu CLI installs it). A mapped
// file truncated by another process makes the next read of a page past the new end raise SIGBUS; by
// default the process then dies with no word of why. The handler writes one line naming the likely cause
// to standard error and exits with status 135 (128 + SIGBUS). It uses only write(2) and _exit(2), which
// are async-signal-safe.
#include "CDiffuSystem.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char mapped_file_fault_message[] =
    "\nerror: bus error reading a memory-mapped file: a model file was probably truncated or replaced "
    "in place while in use (replace model files by rename, then run `diffu verify`)\n";

static void diffu_mapped_file_fault(int signal_number) {
    (void)signal_number;
    ssize_t ignored = write(STDERR_FILENO, mapped_file_fault_message, sizeof(mapped_file_fault_message) - 1);
    (void)ignored;
    _exit(128 + SIGBUS);
}

int diffu_install_mapped_file_fault_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = diffu_mapped_file_fault;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGBUS, &action, NULL);
}
