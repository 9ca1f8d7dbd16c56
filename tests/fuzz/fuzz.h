/*
 * tests/fuzz/fuzz.h: what every fuzz target shares.
 *
 * A target defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize); it is linked either with libFuzzer (clang,
 * `make fuzz`) or with replay.c (gcc with ASan+UBSan, `make test`), which
 * runs every file of the target's corpus once.
 */
#ifndef CDC_FUZZ_H
#define CDC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The agent logs every error it finds to stderr: with hostile input that is
 * most inputs, and the fuzzer would spend its time writing them.  Points the
 * stdio stream the agent writes to at /dev/null unless FUZZ_VERBOSE is set;
 * the sanitizers and libFuzzer write to file descriptor 2 (or their own copy
 * of the stream) and still report. */
void fuzz_quiet_logs(void);

/* An invariant of the code under test does not hold: prints what and aborts,
 * so libFuzzer saves the input as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define FUZZ_CHECK(cond, ...) do { if (!(cond)) fuzz_fail(__VA_ARGS__); } while (0)

#endif
