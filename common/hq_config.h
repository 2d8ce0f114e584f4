/* Configuration is a table: one row per option, each read from an environment
 * variable and a matching long flag (--flag=value or --flag value; the flag
 * wins). --help prints the table with defaults. Parsing is strict; an error
 * names the variable and the value: "hookq-worker: HOOKQ_TIMEOUT: invalid
 * duration 'abc' (use e.g. 500ms, 10s, 1m)". The caller prints it and exits 2. */
#ifndef HQ_CONFIG_H
#define HQ_CONFIG_H
#include <stddef.h>
#include "hq_time.h"

enum hq_opt_type {
    HQ_OPT_STR,      /* dst: char ** (hq_strdup'ed; default copied) */
    HQ_OPT_INT,      /* dst: long long *; bounds min..max */
    HQ_OPT_BOOL,     /* dst: int *; accepts 0/1/true/false/yes/no/on/off */
    HQ_OPT_DURATION, /* dst: int64_t * (ms); bounds min..max in ms */
    HQ_OPT_SIZE,     /* dst: long long * (bytes); "256KiB", "1MiB", "4096"; bounds */
    HQ_OPT_SCHEDULE, /* dst: hq_schedule * */
    HQ_OPT_ENUM,     /* dst: char ** ; value must be one of choices ("json|text") */
};

typedef struct hq_opt {
    const char *env;      /* "HOOKQ_TIMEOUT" */
    const char *flag;     /* "timeout" (used as --timeout) */
    enum hq_opt_type type;
    const char *def;      /* default as text, NULL = unset (NULL / 0) */
    int required;         /* unset and no default -> error */
    long long min, max;   /* bounds for INT/DURATION(ms)/SIZE; min == max == 0 means none */
    const char *choices;  /* ENUM: "a|b|c" */
    const char *help;
    void *dst;
} hq_opt;

/* Parses env then argv into the table's destinations.
 * Returns 0 on success, 1 if --help or --version was printed (exit 0), or -1
 * with a one-line message in err (exit 2). Unknown flags and positional
 * arguments are errors unless `rest` is non-NULL, in which case the index of
 * the first positional argument is stored there and parsing stops. */
int hq_config_parse(const hq_opt *opts, int argc, char **argv, const char *prog,
                    const char *summary, int *rest, char *err, size_t errlen);
/* Frees the strings the table's STR/ENUM destinations hold. */
void hq_config_free(const hq_opt *opts);
/* Parses a size such as "256KiB", "1MiB", "65536". Returns 0 or -1. */
int hq_parse_size(const char *s, long long *out);

#endif
