/* Inspection routes of the producer (SPEC 5, 6): GET /v1/events/{id},
 * GET /v1/endpoints/{id}/deliveries, POST /v1/deliveries/{id}/resend,
 * POST /v1/endpoints/{id}/recover, GET /v1/stats. The router in api.c calls
 * producer_inspect_route after authenticating the request and after its own
 * routes did not match. */
#ifndef HQ_PRODUCER_INSPECT_H
#define HQ_PRODUCER_INSPECT_H
#include "producer.h"

/* Answers the request and returns 1 if path is one of the inspection routes
 * (405 with Allow for a wrong method); returns 0 without answering if not. */
int producer_inspect_route(struct producer *p, hq_http_req *req, const char *path);

#endif
