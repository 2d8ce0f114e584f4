/* hq_match: event type and subscription pattern rules. A type is 1..128
 * chars of non-empty [A-Za-z0-9_] segments separated by single dots. A
 * pattern is a type, "prefix.*" (every type starting with "prefix.") or "*".
 * The Lua fan-out in hookq.lua implements the same rule. */
#include "hq_fmacros.h"
#include <string.h>
#include "hq_match.h"

static int seg_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Checks n bytes of s as a dotted type (without the 128 limit). */
static int dotted_valid(const char *s, size_t n)
{
    if (n == 0) return 0;
    int seglen = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (seglen == 0) return 0;
            seglen = 0;
        } else if (seg_char(s[i])) {
            seglen++;
        } else {
            return 0;
        }
    }
    return seglen > 0;
}

int hq_type_valid(const char *type)
{
    if (!type) return 0;
    size_t n = strlen(type);
    return n >= 1 && n <= 128 && dotted_valid(type, n);
}

int hq_pattern_valid(const char *pattern)
{
    if (!pattern) return 0;
    size_t n = strlen(pattern);
    if (n == 0 || n > 128) return 0;
    if (strcmp(pattern, "*") == 0) return 1;
    if (n >= 3 && pattern[n - 1] == '*' && pattern[n - 2] == '.') return dotted_valid(pattern, n - 2);
    return dotted_valid(pattern, n);
}

/* 1 when type matches pattern: "*" matches all, "p.*" matches types that
 * start with "p." (at least one more segment), anything else is exact. */
int hq_pattern_match(const char *pattern, const char *type)
{
    if (!pattern || !type) return 0;
    size_t n = strlen(pattern);
    if (n == 1 && pattern[0] == '*') return 1;
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.') {
        size_t pl = n - 1; /* includes the dot */
        return strlen(type) > pl && strncmp(type, pattern, pl) == 0;
    }
    return strcmp(pattern, type) == 0;
}

int hq_event_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}
