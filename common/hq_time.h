/* Time: clocks, RFC 3339 and durations. All parsers are strict: the whole
 * string must be consumed, and they return 0 or -1. */
#ifndef HQ_TIME_H
#define HQ_TIME_H
#include <stdint.h>
#include <stddef.h>

int64_t hq_now_ms(void);        /* wall clock, ms since the epoch */
uint64_t hq_mono_ns(void);      /* monotonic clock */

/* "2026-04-12T15:32:11Z" into out (>= 21 bytes). */
void hq_rfc3339(int64_t ms, char *out);
/* "2026-04-12T15:32:11.000Z" into out (>= 25 bytes). */
void hq_rfc3339_ms(int64_t ms, char *out);
/* Parses RFC 3339 (date 'T' time, optional fraction, 'Z' or +hh:mm/-hh:mm;
 * 't'/'z' accepted) into ms since the epoch; *has_frac set when a fraction
 * was given. Returns 0 or -1. */
int hq_parse_rfc3339(const char *s, int64_t *ms, int *has_frac);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12). */
int64_t hq_days_from_civil(int64_t y, int m, int d);

/* Durations: an integer followed by ms, s, m, h or d ("500ms", "10s", "1m",
 * "2h", "7d"); a bare integer is seconds. Returns 0 and sets *ms, or -1. */
int hq_parse_duration(const char *s, int64_t *ms);
/* "1m5s"-style compact rendering for --help and docs: "1m", "10s", "500ms". */
void hq_format_duration(int64_t ms, char *out, size_t outlen);

#define HQ_SCHEDULE_MAX 32
/* A retry schedule: comma-separated durations, 1..HQ_SCHEDULE_MAX entries,
 * each > 0 ("1m,5m,30m,2h,6h"). Attempts = n + 1. */
typedef struct hq_schedule {
    int n;
    int64_t delay_ms[HQ_SCHEDULE_MAX];
} hq_schedule;
int hq_parse_schedule(const char *s, hq_schedule *out);
/* Renders back to the canonical "1m,5m,30m,2h,6h" form. */
void hq_format_schedule(const hq_schedule *s, char *out, size_t outlen);

/* Strict integer parse of the whole string (no sign unless allowed, no spaces). */
int hq_parse_ll(const char *s, long long *out);

#endif
