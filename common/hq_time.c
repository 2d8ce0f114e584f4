/* hq_time: clocks, RFC 3339 formatting/parsing, durations and retry schedules.
 * Calendar arithmetic is done by hand (Howard Hinnant's days_from_civil and
 * civil_from_days), never through mktime/TZ, so results do not depend on the
 * process's time zone. Every parser is strict: the whole string must be
 * consumed, no spaces, no signs where none make sense, overflow rejected. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include "hq_time.h"

int64_t hq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t hq_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12). */
int64_t hq_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Splits ms since the epoch into calendar fields (floor division, so
 * negative times render correctly). */
static void split(int64_t ms, int64_t *y, int *mo, int *d, int *h, int *mi, int *s, int *milli)
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) { rem += 1000; secs--; }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) { sod += 86400; days--; }
    civil_from_days(days, y, mo, d);
    *h = (int)(sod / 3600);
    *mi = (int)(sod / 60 % 60);
    *s = (int)(sod % 60);
    *milli = (int)rem;
}

/* "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes). */
void hq_rfc3339(int64_t ms, char *out)
{
    int64_t y; int mo, d, h, mi, s, milli;
    split(ms, &y, &mo, &d, &h, &mi, &s, &milli);
    snprintf(out, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)(y % 10000 + 10000) % 10000, mo, d, h, mi, s);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 25 bytes). */
void hq_rfc3339_ms(int64_t ms, char *out)
{
    int64_t y; int mo, d, h, mi, s, milli;
    split(ms, &y, &mo, &d, &h, &mi, &s, &milli);
    snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)(y % 10000 + 10000) % 10000, mo, d, h, mi, s,
             milli);
}

/* Reads exactly n ASCII digits at *p into *v and advances. 0 or -1. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

/* Strict RFC 3339 date-time into ms since the epoch (UTC). Fractions of any
 * length are accepted and truncated to milliseconds. Offsets are applied so
 * the result is UTC. Invalid dates and times (Feb 30, month 13, hour 24,
 * second 60) are rejected. */
int hq_parse_rfc3339(const char *s, int64_t *ms, int *has_frac)
{
    if (!s) return -1;
    const char *p = s;
    int y, mo, d, h, mi, sec, frac = 0, hf = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't') return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59) return -1;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3) frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0) return -1;
        for (int i = n; i < 3; i++) frac *= 10;
        hf = 1;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om)) return -1;
        if (oh > 23 || om > 59) return -1;
        off = sign * (int64_t)(oh * 60 + om) * 60000;
    } else {
        return -1;
    }
    if (*p != '\0') return -1;
    int64_t days = hq_days_from_civil(y, mo, d);
    int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec;
    *ms = t * 1000 + frac - off;
    if (has_frac) *has_frac = hf;
    return 0;
}

/* Strict non-negative decimal of at least one digit; sets *end after it. */
static int parse_u63(const char *s, const char **end, long long *out)
{
    const char *p = s;
    long long v = 0;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9') {
        int dg = *p - '0';
        if (v > (LLONG_MAX - dg) / 10) return -1;
        v = v * 10 + dg;
        p++;
    }
    *end = p;
    *out = v;
    return 0;
}

/* Whole-string integer: optional '-', digits, nothing else. 0 or -1. */
int hq_parse_ll(const char *s, long long *out)
{
    if (!s) return -1;
    int neg = 0;
    const char *p = s, *end;
    if (*p == '-') { neg = 1; p++; }
    long long v;
    if (parse_u63(p, &end, &v) || *end) return -1;
    *out = neg ? -v : v;
    return 0;
}

/* "<int>(ms|s|m|h|d)?"; a bare integer is seconds. Rejects signs, spaces,
 * empty strings, unknown units and results that overflow int64 ms. */
int hq_parse_duration(const char *s, int64_t *ms)
{
    if (!s) return -1;
    const char *end;
    long long v;
    if (parse_u63(s, &end, &v)) return -1;
    long long mul;
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0) mul = 1000;
    else if (strcmp(end, "ms") == 0) mul = 1;
    else if (strcmp(end, "m") == 0) mul = 60000;
    else if (strcmp(end, "h") == 0) mul = 3600000;
    else if (strcmp(end, "d") == 0) mul = 86400000;
    else return -1;
    if (v > LLONG_MAX / mul) return -1;
    *ms = (int64_t)(v * mul);
    return 0;
}

/* Renders ms with the largest unit that divides it exactly ("1m", "90s",
 * "500ms", "2h", "7d"), so the text parses back with hq_parse_duration. */
void hq_format_duration(int64_t ms, char *out, size_t outlen)
{
    static const struct { int64_t mul; const char *unit; } units[] = {
        { 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
    };
    if (ms == 0) { snprintf(out, outlen, "0s"); return; }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].mul == 0) {
            snprintf(out, outlen, "%lld%s", (long long)(ms / units[i].mul), units[i].unit);
            return;
        }
    }
    snprintf(out, outlen, "%lldms", (long long)ms);
}

/* Comma-separated durations, 1..HQ_SCHEDULE_MAX, each > 0, no spaces and no
 * empty entries. 0 or -1 (out untouched on error). */
int hq_parse_schedule(const char *s, hq_schedule *out)
{
    if (!s || !*s) return -1;
    hq_schedule tmp;
    tmp.n = 0;
    const char *p = s;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item || tmp.n >= HQ_SCHEDULE_MAX) return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        int64_t ms;
        if (hq_parse_duration(item, &ms) || ms <= 0) return -1;
        tmp.delay_ms[tmp.n++] = ms;
        if (!c) break;
        p = c + 1;
    }
    *out = tmp;
    return 0;
}

/* "1m,5m,30m,2h,6h"; truncated to outlen. */
void hq_format_schedule(const hq_schedule *s, char *out, size_t outlen)
{
    if (outlen == 0) return;
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < s->n; i++) {
        char d[32];
        hq_format_duration(s->delay_ms[i], d, sizeof d);
        int n = snprintf(out + used, outlen - used, "%s%s", i ? "," : "", d);
        if (n < 0 || (size_t)n >= outlen - used) return;
        used += (size_t)n;
    }
}
