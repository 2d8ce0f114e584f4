/* Event types and subscription patterns.
 * A type is 1..128 chars of dot-separated non-empty segments of [A-Za-z0-9_].
 * A pattern is a type, "prefix.*" (matches every type that starts with
 * "prefix.") or "*" (everything). The Lua fan-out implements the same rule. */
#ifndef HQ_MATCH_H
#define HQ_MATCH_H

int hq_type_valid(const char *type);
/* An event id: 1..128 chars of [A-Za-z0-9_.:-]. */
int hq_event_id_valid(const char *id);
int hq_pattern_valid(const char *pattern);
int hq_pattern_match(const char *pattern, const char *type);

#endif
