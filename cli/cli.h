/* The hookq admin CLI: shared declarations between its files. The CLI is a
 * thin client of the producer's HTTP API (SPEC 3, 5, 6): each command turns
 * its flags into one or a few HTTP requests, prints the answer as an aligned
 * table (or the API's JSON as is with --json) and exits with a documented
 * code. Files: main.c (global options, command table, help, dispatch),
 * args.c (strict flag parsing), api.c (libcurl requests, error reporting),
 * table.c (aligned tables), output.c (value formatting, detail views, JSON
 * fallback), endpoints.c, events.c, deliveries.c, stats.c (the commands).
 * Nothing here is used outside cli/, so names are cli_ rather than hq_. */
#ifndef HQ_CLI_H
#define HQ_CLI_H
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "hq_buf.h"

/* Exit codes (documented in --help and docs/cli.md). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_API 1          /* the API answered with an error status */
#define CLI_EXIT_USAGE 2        /* bad flag, missing argument, bad config */
#define CLI_EXIT_UNREACHABLE 3  /* no HTTP answer: connect/DNS/TLS/timeout */

#define CLI_NAME "hookq"

/* ---- flags (args.c) ---- */

typedef struct cli_flag {
    const char *name;     /* long name without dashes: "org" for --org */
    const char *metavar;  /* NULL for a boolean flag, else the value's name ("ORG") */
    int repeat;           /* may be given more than once (values accumulate) */
    const char *help;
} cli_flag;

#define CLI_MAX_FLAGS 48
#define CLI_MAX_POS 8

/* The result of parsing one command line. Values point into argv. */
typedef struct cli_args {
    const cli_flag *flags[CLI_MAX_FLAGS]; /* the accepted flags (command + global) */
    int nflags;
    int count[CLI_MAX_FLAGS];             /* times each flag was given */
    char **vals[CLI_MAX_FLAGS];           /* values of flags with a metavar (hq_malloc'ed array) */
    char *pos[CLI_MAX_POS];               /* positional arguments */
    int npos;
} cli_args;

/* Parses argv[0..argc-1] (the words after the command name) against the
 * NULL-name-terminated tables cmd and global. Accepts --flag value,
 * --flag=value and "--" to end flags. Returns 0, or -1 with a one-line
 * message in err (unknown flag, missing value, repeated non-repeatable flag,
 * too many positional arguments beyond max_pos). */
int cli_args_parse(cli_args *a, const cli_flag *cmd, const cli_flag *global, int argc, char **argv,
                   int max_pos, char *err, size_t errlen);
void cli_args_free(cli_args *a);
/* The last value of a flag, or NULL when it was not given. */
const char *cli_arg(const cli_args *a, const char *name);
/* How many times a flag was given (booleans and valued flags). */
int cli_has(const cli_args *a, const char *name);
/* All values of a repeatable flag; *n gets the count. */
char **cli_arg_all(const cli_args *a, const char *name, int *n);
/* Prints the flags table for help ("  --org ORG   the tenant"). */
void cli_flags_help(FILE *f, const cli_flag *flags);

/* ---- global context (main.c) ---- */

typedef struct cli_ctx {
    char *api;            /* base URL without trailing '/' */
    char *token;          /* bearer token */
    int json;             /* --json: print the API's JSON as is */
    const char *cmdname;  /* "endpoints create", for messages */
} cli_ctx;

/* Prints "hookq: <msg>" and a hint to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- HTTP (api.c) ---- */

typedef struct cli_resp {
    long status;        /* HTTP status */
    char *body;         /* NUL-terminated (hq_free), "" when empty */
    size_t len;
    json_t *json;       /* parsed body, NULL when empty or not JSON */
} cli_resp;

/* Performs one request: method, path (already escaped, "/v1/..."), optional
 * JSON body. Returns CLI_EXIT_OK for a 2xx answer (resp filled; caller
 * frees with cli_resp_free), CLI_EXIT_API after printing "hookq: <status>
 * <code>: <message>" for an error status, CLI_EXIT_UNREACHABLE after
 * printing why the API could not be reached. With --json, an error answer's
 * body is also printed on stdout as is. resp is always safe to free. */
int cli_call(const cli_ctx *c, const char *method, const char *path, const json_t *body,
             cli_resp *resp);
void cli_resp_free(cli_resp *r);
/* cli_call on a path built in a buffer, which it frees. */
int cli_call_path(const cli_ctx *c, const char *method, hq_buf *path, const json_t *body,
                  cli_resp *resp);
/* The list in a 2xx answer (a bare array or the "data" of an object), to be
 * shown as a table; NULL when it was already printed: as is with --json, or
 * as JSON when the answer holds no list. */
json_t *cli_list_of(const cli_ctx *c, const cli_resp *r);
/* Sets the flag cli_call's transfers poll: when non-zero they abort (Ctrl-C
 * during stats --watch). */
void cli_api_set_abort_flag(volatile int *flag);
/* Appends s percent-encoded (RFC 3986 unreserved kept) to b. */
void cli_url_escape(hq_buf *b, const char *s);
/* Appends "?k=v" or "&k=v" (escaped) to a path when v is non-NULL. */
void cli_query(hq_buf *b, const char *k, const char *v);

/* ---- tables (table.c) ---- */

typedef struct cli_table cli_table;
/* A table with n columns titled by the given headers (copied). */
cli_table *cli_table_new(int n, const char *const *headers);
/* Appends a row of n cells (copied; NULL prints "-"). */
void cli_table_row(cli_table *t, const char *const *cells);
int cli_table_rows(const cli_table *t);
/* Prints the header and the rows, columns padded to their widest cell
 * (counted in UTF-8 characters), two spaces apart; the last column is not
 * padded. Frees the table. */
void cli_table_print(cli_table *t, FILE *f);
/* Frees a table without printing it. */
void cli_table_free(cli_table *t);

/* ---- output (output.c) ---- */

/* Looks up the first of the '|'-separated keys present (and not null) in
 * obj. NULL when obj is not an object or none is present. */
json_t *cli_field(const json_t *obj, const char *keys);
/* Renders a JSON value for a table cell or detail line into out: strings
 * as is, integers and reals plainly, booleans true/false, null "-", arrays
 * of scalars joined with ",", anything else compact JSON. A key ending in
 * "_ms"/"_at"/"due" whose value is a plausible epoch-ms integer is shown as
 * RFC 3339. */
void cli_format(hq_buf *out, const char *key, const json_t *v);
/* cli_format into a fresh string (hq_free), or NULL for a missing value. */
char *cli_fmt(const char *key, const json_t *v);
/* Prints s with control characters (newlines, escape sequences from a
 * receiver's response body) shown as '?', so they can neither break the
 * layout nor drive the terminal. */
void cli_puts_safe(FILE *f, const char *s);
/* Prints an object as aligned "key: value" lines, skipping the keys in
 * skip ('|'-separated, may be NULL). */
void cli_print_detail(FILE *f, const json_t *obj, const char *skip);
/* Prints an array of objects as a table whose columns are the union of
 * their scalar-or-short keys, in first-seen order, titled upper-case.
 * Prints "(none)" for an empty array. */
void cli_print_generic_table(FILE *f, const json_t *arr);
/* Pretty JSON (2-space indent) of v on f with a trailing newline. */
void cli_print_json(FILE *f, const json_t *v);
/* The --json output: the API's body as is, newline-terminated (nothing for
 * an empty body). */
void cli_print_raw(const cli_resp *r);
/* json_string(v) for the value of --flag, or NULL after a usage error when
 * v is not valid UTF-8 (JSON cannot carry it; it must not silently drop). */
json_t *cli_json_str(const cli_ctx *c, const char *flag, const char *v);
/* Reads --data's value: "@path" reads a file, "-" reads stdin, anything else
 * is the text itself. Parses it as JSON; requires an object when
 * want_object. Returns a new reference, or NULL after printing a usage
 * error naming flag. */
json_t *cli_read_json_arg(const char *flag, const char *text, int want_object);

/* ---- commands (endpoints.c, events.c, deliveries.c, stats.c) ---- */

/* Every command: gets the parsed args, returns an exit code. */
typedef int (*cli_run_fn)(cli_ctx *c, cli_args *a);

int cli_endpoints_create(cli_ctx *c, cli_args *a);
int cli_endpoints_list(cli_ctx *c, cli_args *a);
int cli_endpoints_get(cli_ctx *c, cli_args *a);
int cli_endpoints_update(cli_ctx *c, cli_args *a);
int cli_endpoints_delete(cli_ctx *c, cli_args *a);
int cli_endpoints_rotate(cli_ctx *c, cli_args *a);
int cli_endpoints_test(cli_ctx *c, cli_args *a);
extern const cli_flag cli_endpoint_body_flags[];

int cli_send(cli_ctx *c, cli_args *a);
int cli_events_get(cli_ctx *c, cli_args *a);

/* The attempts table (TIME, DELIVERY, #, RESULT, HTTP, LATENCY, ERROR),
 * shared by deliveries list and events get. delivery_id names the delivery
 * when the attempt object doesn't (may be NULL). */
cli_table *cli_attempts_table_new(void);
void cli_attempts_add(cli_table *t, const json_t *attempt, const char *delivery_id);

int cli_deliveries_list(cli_ctx *c, cli_args *a);
int cli_resend(cli_ctx *c, cli_args *a);
int cli_recover(cli_ctx *c, cli_args *a);

int cli_stats(cli_ctx *c, cli_args *a);

#endif
