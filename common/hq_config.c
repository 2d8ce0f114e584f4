/* hq_config: table-driven configuration (Redis config.c style). Each row
 * names an environment variable, a long flag, a type, a default, bounds and
 * help text. hq_config_parse resolves each option as flag > env > default
 * (an empty environment variable counts as unset), parses it strictly, and
 * reports the first problem as one line naming the variable. --help and
 * --version are generated here from the same table. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include "hq_alloc.h"
#include "hq_config.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

/* The name used in messages: "ENV", "ENV (--flag)" for a command-line
 * value, or "--flag" for a flag-only option. */
static void opt_name(const hq_opt *o, int from_flag, char *out, size_t n)
{
    if (o->env && from_flag && o->flag) snprintf(out, n, "%s (--%s)", o->env, o->flag);
    else if (o->env) snprintf(out, n, "%s", o->env);
    else snprintf(out, n, "--%s", o->flag ? o->flag : "?");
}

/* Case-insensitive suffix multiplier of a size, or -1. */
static long long size_unit(const char *u)
{
    static const struct { const char *s; long long mul; } units[] = {
        { "", 1 }, { "B", 1 },
        { "K", 1024LL }, { "KB", 1024LL }, { "KiB", 1024LL },
        { "M", 1024LL * 1024 }, { "MB", 1024LL * 1024 }, { "MiB", 1024LL * 1024 },
        { "G", 1024LL * 1024 * 1024 }, { "GB", 1024LL * 1024 * 1024 }, { "GiB", 1024LL * 1024 * 1024 },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(u, units[i].s) == 0) return units[i].mul;
    return -1;
}

/* "4096", "4096B", "256KB"/"256KiB" (x1024), "1MB"/"1MiB", "1GB"/"1GiB".
 * No sign, no spaces, no fractions; overflow rejected. 0 or -1. */
int hq_parse_size(const char *s, long long *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    long long v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9') {
        int d = *p - '0';
        if (v > (LLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
        p++;
    }
    long long mul = size_unit(p);
    if (mul < 0 || v > LLONG_MAX / mul) return -1;
    *out = v * mul;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = { "1", "true", "yes", "on" };
    static const char *no[] = { "0", "false", "no", "off" };
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* 1 when v is one of the '|'-separated choices. */
static int enum_ok(const char *choices, const char *v)
{
    if (!choices) return 0;
    size_t vl = strlen(v);
    const char *p = choices;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && vl > 0 && strncmp(p, v, l) == 0) return 1;
        if (!bar) return 0;
        p = bar + 1;
    }
}

static int has_bounds(const hq_opt *o)
{
    return !(o->min == 0 && o->max == 0);
}

/* Parses value v for option o into its destination. On error writes the
 * reason (without the name) into why and returns -1. */
static int set_value(const hq_opt *o, const char *v, char *why, size_t wn)
{
    switch (o->type) {
    case HQ_OPT_STR:
    case HQ_OPT_ENUM: {
        if (o->type == HQ_OPT_ENUM && !enum_ok(o->choices, v)) {
            snprintf(why, wn, "must be one of %s", o->choices ? o->choices : "(none)");
            return -1;
        }
        /* Overwritten, not freed: the destination may be uninitialised. */
        *(char **)o->dst = hq_strdup(v);
        return 0;
    }
    case HQ_OPT_INT: {
        long long x;
        if (hq_parse_ll(v, &x)) { snprintf(why, wn, "expected an integer"); return -1; }
        if (has_bounds(o) && (x < o->min || x > o->max)) {
            snprintf(why, wn, "must be between %lld and %lld", o->min, o->max);
            return -1;
        }
        *(long long *)o->dst = x;
        return 0;
    }
    case HQ_OPT_BOOL:
        if (parse_bool(v, (int *)o->dst)) {
            snprintf(why, wn, "expected true/false, yes/no, on/off or 1/0");
            return -1;
        }
        return 0;
    case HQ_OPT_DURATION: {
        int64_t ms;
        if (hq_parse_duration(v, &ms)) {
            snprintf(why, wn, "expected a duration such as 500ms, 10s, 1m, 2h, 7d");
            return -1;
        }
        if (has_bounds(o) && (ms < o->min || ms > o->max)) {
            char a[32], b[32];
            hq_format_duration(o->min, a, sizeof a);
            hq_format_duration(o->max, b, sizeof b);
            snprintf(why, wn, "must be between %s and %s", a, b);
            return -1;
        }
        *(int64_t *)o->dst = ms;
        return 0;
    }
    case HQ_OPT_SIZE: {
        long long x;
        if (hq_parse_size(v, &x)) {
            snprintf(why, wn, "expected a size such as 65536, 256KiB, 1MiB");
            return -1;
        }
        if (has_bounds(o) && (x < o->min || x > o->max)) {
            snprintf(why, wn, "must be between %lld and %lld bytes", o->min, o->max);
            return -1;
        }
        *(long long *)o->dst = x;
        return 0;
    }
    case HQ_OPT_SCHEDULE:
        if (hq_parse_schedule(v, (hq_schedule *)o->dst)) {
            snprintf(why, wn, "expected 1 to %d comma-separated durations > 0, such as 1m,5m,30m,2h,6h",
                     HQ_SCHEDULE_MAX);
            return -1;
        }
        return 0;
    }
    snprintf(why, wn, "unknown option type");
    return -1;
}

/* The zero value of an unset option without default. */
static void set_unset(const hq_opt *o)
{
    switch (o->type) {
    case HQ_OPT_STR:
    case HQ_OPT_ENUM: *(char **)o->dst = NULL; break;
    case HQ_OPT_INT:
    case HQ_OPT_SIZE: *(long long *)o->dst = 0; break;
    case HQ_OPT_BOOL: *(int *)o->dst = 0; break;
    case HQ_OPT_DURATION: *(int64_t *)o->dst = 0; break;
    case HQ_OPT_SCHEDULE: memset(o->dst, 0, sizeof(hq_schedule)); break;
    }
}

static void print_help(const hq_opt *opts, const char *prog, const char *summary)
{
    size_t wf = 0, we = 0, nopts = 0;
    for (const hq_opt *o = opts; o->env || o->flag; o++, nopts++) {
        size_t l = o->flag ? strlen(o->flag) + 8 : 0; /* "--" + "=VALUE" */
        if (l > wf) wf = l;
        l = o->env ? strlen(o->env) : 0;
        if (l > we) we = l;
    }
    printf("Usage: %s [options]\n%s\n\n", prog, summary ? summary : "");
    for (const hq_opt *o = opts; o->env || o->flag; o++) {
        char fl[160], def[200];
        if (o->flag) snprintf(fl, sizeof fl, "--%s=VALUE", o->flag);
        else fl[0] = '\0';
        if (o->def) snprintf(def, sizeof def, "(default: %s)", o->def);
        else if (o->required) snprintf(def, sizeof def, "(required)");
        else snprintf(def, sizeof def, "(default: none)");
        printf("  %-*s  %-*s  %s  %s\n", (int)wf, fl, (int)we, o->env ? o->env : "", def,
               o->help ? o->help : "");
    }
    printf("\n  --help  print this help\n  --version  print the version\n");
    fflush(stdout);
}

/* Finds the option with the given flag (name of nlen bytes). */
static const hq_opt *find_flag(const hq_opt *opts, const char *name, size_t nlen)
{
    for (const hq_opt *o = opts; o->env || o->flag; o++)
        if (o->flag && strlen(o->flag) == nlen && strncmp(o->flag, name, nlen) == 0) return o;
    return NULL;
}

/* See hq_config.h. The table ends with a row whose env and flag are NULL.
 * STR/ENUM destinations are overwritten without being freed (call
 * hq_config_free before parsing the same table again).
 * Flag values are only collected in the first pass, so a bad value later on
 * the command line is reported even when an earlier option is also bad. */
int hq_config_parse(const hq_opt *opts, int argc, char **argv, const char *prog,
                    const char *summary, int *rest, char *err, size_t errlen)
{
    size_t n = 0;
    while (opts[n].env || opts[n].flag) n++;
    const char **fval = hq_calloc(n ? n : 1, sizeof *fval);
    int rc = 0;
    if (err && errlen) err[0] = '\0';
    if (rest) *rest = argc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (rest) { *rest = i + 1; break; }
            if (i + 1 < argc) {
                snprintf(err, errlen, "unexpected argument '%s'", argv[i + 1]);
                rc = -1;
                goto done;
            }
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(opts, prog, summary);
            rc = 1;
            goto done;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s hookq/%s\n", prog, HOOKQ_VERSION);
            fflush(stdout);
            rc = 1;
            goto done;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (rest) { *rest = i; break; }
            snprintf(err, errlen, "unexpected argument '%s'", a);
            rc = -1;
            goto done;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const hq_opt *o = find_flag(opts, name, nlen);
        if (!o) {
            snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)nlen, name);
            rc = -1;
            goto done;
        }
        const char *v;
        if (eq) v = eq + 1;
        else if (o->type == HQ_OPT_BOOL) v = "true";
        else if (i + 1 < argc) v = argv[++i];
        else {
            snprintf(err, errlen, "option '--%s' requires a value", o->flag);
            rc = -1;
            goto done;
        }
        fval[o - opts] = v;
    }

    for (size_t k = 0; k < n; k++) {
        const hq_opt *o = &opts[k];
        const char *v = fval[k];
        int from_flag = v != NULL;
        if (!v && o->env) {
            v = getenv(o->env);
            if (v && !*v) v = NULL;
        }
        if (!v) {
            if (o->required && !o->def) {
                char nm[160];
                opt_name(o, 0, nm, sizeof nm);
                snprintf(err, errlen, "%s is required: %s", nm, o->help ? o->help : "");
                rc = -1;
                goto done;
            }
            if (!o->def) { set_unset(o); continue; }
            v = o->def;
        }
        char why[200];
        if (set_value(o, v, why, sizeof why)) {
            char nm[160];
            opt_name(o, from_flag, nm, sizeof nm);
            snprintf(err, errlen, "%s: invalid value '%s': %s", nm, v, why);
            rc = -1;
            goto done;
        }
    }
done:
    hq_free(fval);
    return rc;
}

/* Frees the STR/ENUM strings and sets them to NULL; safe to call twice. */
void hq_config_free(const hq_opt *opts)
{
    for (const hq_opt *o = opts; o->env || o->flag; o++) {
        if ((o->type == HQ_OPT_STR || o->type == HQ_OPT_ENUM) && o->dst) {
            char **dst = o->dst;
            hq_free(*dst);
            *dst = NULL;
        }
    }
}
