/* The event catalogue (issue 10): which event types an org's endpoints can
 * subscribe to. GET /v1/event-types?org_id= lists the declared types
 * (HOOKQ_EVENT_TYPES for every org, plus those registered per org with
 * POST /v1/event-types) and the types seen in published events
 * (hookq_publish adds each to <tag>org:<org>:seen). */
#ifndef HQ_PRODUCER_EVENTTYPES_H
#define HQ_PRODUCER_EVENTTYPES_H
#include "producer.h"

/* HOOKQ_EVENT_TYPES: comma-separated types ("" = none). Set by main.c's option table. */
extern char *producer_event_types_env;

/* Parses and validates HOOKQ_EVENT_TYPES at start (each entry a valid event
 * type, no empty entries). 0, or -1 with a sentence naming the variable in err. */
int producer_event_types_check(char *err, size_t errlen);
/* Frees what producer_event_types_check kept. */
void producer_event_types_free(void);

/* Answers and returns 1 when path is /v1/event-types (the caller has checked
 * the bearer token); returns 0 without answering otherwise. */
int producer_event_types_route(struct producer *p, hq_http_req *req, const char *path);

#endif
