/* The web console (ui/, issue 10) as served by the producer: GET /ui/ and
 * /ui/<file> from the copy embedded at build time (CMakeLists.txt turns every
 * ui/ file into a C array with scripts/embed.cmake and lists them in a
 * generated table), or from HOOKQ_UI_DIR when that is set (to edit the
 * console without rebuilding). GET / redirects to /ui/. No auth: the pages
 * are static; their API calls carry the bearer token. */
#ifndef HQ_PRODUCER_UI_H
#define HQ_PRODUCER_UI_H
#include "producer.h"

/* HOOKQ_UI_DIR: "" = serve the embedded copy. Set by main.c's option table. */
extern char *producer_ui_dir;

/* Checks HOOKQ_UI_DIR at start: "" or a readable directory holding
 * index.html. 0, or -1 with a sentence in err. */
int producer_ui_check(char *err, size_t errlen);

/* Answers and returns 1 when path is "/", "/ui" or under "/ui/" (405 for
 * methods other than GET and HEAD); returns 0 without answering otherwise. */
int producer_ui_route(struct producer *p, hq_http_req *req);

#endif
