/* Inspection routes (stub): recognises the five inspection routes and answers
 * 501 not_implemented until the real implementation lands. See inspect.h. */
#include "hq_fmacros.h"
#include <string.h>
#include "inspect.h"

/* 1 if path is prefix + one non-empty segment + suffix (suffix may be ""). */
static int match_id(const char *path, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path);
    if (n <= pl + sl || strncmp(path, prefix, pl) != 0 || strcmp(path + n - sl, suffix) != 0) return 0;
    const char *id = path + pl;
    size_t idl = n - pl - sl;
    return memchr(id, '/', idl) == NULL;
}

int producer_inspect_route(struct producer *p, hq_http_req *req, const char *path)
{
    const char *allow;
    if (strcmp(path, "/v1/stats") == 0) allow = "GET";
    else if (match_id(path, "/v1/endpoints/", "/deliveries")) allow = "GET";
    else if (match_id(path, "/v1/endpoints/", "/recover")) allow = "POST";
    else if (match_id(path, "/v1/deliveries/", "/resend")) allow = "POST";
    else if (match_id(path, "/v1/events/", "")) allow = "GET";
    else return 0;
    if (strcmp(req->method, allow) != 0 && !(strcmp(allow, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
        producer_method_not_allowed(p, req, allow);
        return 1;
    }
    producer_error(p, req, 501, "not_implemented", "this route is not implemented yet", NULL);
    return 1;
}
