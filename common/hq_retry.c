/* hq_retry: retry policy arithmetic: the jittered delay of a schedule step,
 * Retry-After parsing (delta seconds or IMF-fixdate, RFC 9110 10.2.3) and
 * combining the two (never earlier than the server asks, capped at the
 * schedule's last step; SPEC 4). */
#include "hq_fmacros.h"
#include <math.h>
#include <string.h>
#include <limits.h>
#include "hq_retry.h"

/* schedule[step-1] * (0.9 + 0.2*rnd), rounded to ms; -1 when step > n.
 * step < 1 is treated as 1; rnd is clamped into [0,1). */
int64_t hq_retry_delay(const hq_schedule *s, int step, double rnd)
{
    if (step < 1) step = 1;
    if (step > s->n) return -1;
    if (!(rnd >= 0)) rnd = 0;   /* also catches NaN */
    if (rnd >= 1) rnd = 0.999999999;
    double d = (double)s->delay_ms[step - 1] * (0.9 + 0.2 * rnd);
    if (d >= 9.2e18) return INT64_MAX / 2;
    return (int64_t)llround(d);
}

static int num(const char *p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return 0;
}

/* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 chars) into ms. */
static int parse_imf(const char *s, size_t n, int64_t *ms)
{
    static const char *days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    static const int dim[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (n != 29) return -1;
    int ok = 0;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, days[i], 3) == 0) ok = 1;
    if (!ok || memcmp(s + 3, ", ", 2) || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || memcmp(s + 25, " GMT", 4))
        return -1;
    int d, y, h, mi, sec, mo = -1;
    if (num(s + 5, 2, &d) || num(s + 12, 4, &y) || num(s + 17, 2, &h) || num(s + 20, 2, &mi) ||
        num(s + 23, 2, &sec))
        return -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, mons[i], 3) == 0) mo = i + 1;
    if (mo < 0 || d < 1 || d > dim[mo - 1] || h > 23 || mi > 59 || sec > 60) return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    if (sec == 60) sec = 59;
    *ms = (((hq_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec) * 1000;
    return 0;
}

/* Retry-After value relative to now_ms: delay in ms (>= 0), or -1 when the
 * value is neither delta-seconds nor an IMF-fixdate. Surrounding spaces and
 * tabs are ignored; a date in the past gives 0; huge deltas saturate. */
int64_t hq_retry_after_parse(const char *v, int64_t now_ms)
{
    if (!v) return -1;
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n == 0) return -1;
    if (v[0] >= '0' && v[0] <= '9') {
        int64_t secs = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9') return -1;
            if (secs < INT64_MAX / 10000) secs = secs * 10 + (v[i] - '0');
        }
        if (secs > INT64_MAX / 10000) secs = INT64_MAX / 10000;
        return secs * 1000;
    }
    int64_t at;
    if (parse_imf(v, n, &at)) return -1;
    return at > now_ms ? at - now_ms : 0;
}

/* No Retry-After: the scheduled delay. Otherwise max(scheduled, retry_after)
 * where retry_after is first capped at the schedule's last step. */
int64_t hq_retry_combine(const hq_schedule *s, int64_t scheduled, int64_t retry_after)
{
    if (retry_after < 0) return scheduled;
    if (s->n > 0 && retry_after > s->delay_ms[s->n - 1]) retry_after = s->delay_ms[s->n - 1];
    return retry_after > scheduled ? retry_after : scheduled;
}
