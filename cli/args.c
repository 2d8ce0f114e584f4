/* cli_args: strict parsing of one command's flags. Each command accepts its
 * own flag table plus the global one (--api, --token, --json, --help), in
 * any order and mixed with positional arguments. "--flag value" and
 * "--flag=value" are both accepted; "--" ends the flags. Anything unknown,
 * a missing value, a value given to a boolean flag, a non-repeatable flag
 * given twice or too many positional arguments is a usage error (exit 2):
 * a typo must never be silently ignored by an admin tool. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_alloc.h"
#include "cli.h"

/* Index of the flag called name (n bytes), or -1. */
static int find_flag(const cli_args *a, const char *name, size_t n)
{
    for (int i = 0; i < a->nflags; i++)
        if (strlen(a->flags[i]->name) == n && strncmp(a->flags[i]->name, name, n) == 0) return i;
    return -1;
}

static int add_table(cli_args *a, const cli_flag *t, char *err, size_t errlen)
{
    for (; t && t->name; t++) {
        if (a->nflags == CLI_MAX_FLAGS) {
            snprintf(err, errlen, "internal error: too many flags");
            return -1;
        }
        a->flags[a->nflags++] = t;
    }
    return 0;
}

static void add_value(cli_args *a, int i, char *v)
{
    a->vals[i] = hq_realloc(a->vals[i], sizeof(char *) * (size_t)(a->count[i] + 1));
    a->vals[i][a->count[i]] = v;
}

int cli_args_parse(cli_args *a, const cli_flag *cmd, const cli_flag *global, int argc, char **argv,
                   int max_pos, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (add_table(a, cmd, err, errlen) < 0 || add_table(a, global, err, errlen) < 0) return -1;
    int flags_done = 0;
    for (int k = 0; k < argc; k++) {
        char *w = argv[k];
        if (flags_done || w[0] != '-' || strcmp(w, "-") == 0) {
            if (a->npos >= max_pos || a->npos >= CLI_MAX_POS) {
                snprintf(err, errlen, "unexpected argument '%s'", w);
                return -1;
            }
            a->pos[a->npos++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            flags_done = 1;
            continue;
        }
        if (w[1] != '-') {
            /* the only short flag is -h */
            if (strcmp(w, "-h") == 0) {
                int i = find_flag(a, "help", 4);
                if (i >= 0) {
                    a->count[i]++;
                    continue;
                }
            }
            snprintf(err, errlen, "unknown flag '%s'", w);
            return -1;
        }
        const char *name = w + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int i = find_flag(a, name, nlen);
        if (i < 0) {
            snprintf(err, errlen, "unknown flag '--%.*s'", (int)nlen, name);
            return -1;
        }
        const cli_flag *f = a->flags[i];
        if (a->count[i] > 0 && !f->repeat && strcmp(f->name, "help") != 0) {
            snprintf(err, errlen, "--%s given more than once", f->name);
            return -1;
        }
        if (!f->metavar) {
            if (eq) {
                snprintf(err, errlen, "--%s takes no value", f->name);
                return -1;
            }
            a->count[i]++;
            continue;
        }
        char *v;
        if (eq) {
            v = (char *)eq + 1;
        } else {
            if (k + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value (%s)", f->name, f->metavar);
                return -1;
            }
            v = argv[++k];
        }
        add_value(a, i, v);
        a->count[i]++;
    }
    return 0;
}

void cli_args_free(cli_args *a)
{
    for (int i = 0; i < a->nflags; i++) hq_free(a->vals[i]);
    memset(a, 0, sizeof *a);
}

const char *cli_arg(const cli_args *a, const char *name)
{
    int i = find_flag(a, name, strlen(name));
    if (i < 0 || a->count[i] == 0 || !a->vals[i]) return NULL;
    return a->vals[i][a->count[i] - 1];
}

int cli_has(const cli_args *a, const char *name)
{
    int i = find_flag(a, name, strlen(name));
    return i < 0 ? 0 : a->count[i];
}

char **cli_arg_all(const cli_args *a, const char *name, int *n)
{
    int i = find_flag(a, name, strlen(name));
    if (i < 0 || !a->vals[i]) {
        *n = 0;
        return NULL;
    }
    *n = a->count[i];
    return a->vals[i];
}

void cli_flags_help(FILE *f, const cli_flag *flags)
{
    int w = 0;
    char buf[96];
    for (const cli_flag *t = flags; t && t->name; t++) {
        int n = snprintf(buf, sizeof buf, "--%s%s%s", t->name, t->metavar ? " " : "",
                         t->metavar ? t->metavar : "");
        if (n > w) w = n;
    }
    for (const cli_flag *t = flags; t && t->name; t++) {
        snprintf(buf, sizeof buf, "--%s%s%s", t->name, t->metavar ? " " : "", t->metavar ? t->metavar : "");
        fprintf(f, "  %-*s  %s%s\n", w, buf, t->help, t->repeat ? " (repeatable)" : "");
    }
}
