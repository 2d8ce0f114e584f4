/* Serves the web console (issue 10): GET /ui/<file> with a strict
 * Content-Security-Policy and no-sniff / no-referrer headers, GET /ui/ as
 * index.html, GET /ui -> /ui/ and GET / -> /ui/. Files come from the table
 * generated at build time (every ui/ file embedded as a C array, see
 * CMakeLists.txt) or, when HOOKQ_UI_DIR is set, are read from that directory
 * on each request. A file name is one path segment of [A-Za-z0-9_.-] that
 * does not start with a dot and has a known extension; anything else
 * (sub-paths, "..", encoded slashes, dot files) is 404, so no request can
 * reach outside the console's files. */
#include "hq_fmacros.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hq_alloc.h"
#include "hq_log.h"
#include "ui.h"

#define UI_NAME_MAX 100
#define UI_FILE_MAX (8 * 1024 * 1024)

/* The generated table (build/ui/producer_ui_table.c): name, bytes, length;
 * ends with a NULL name. */
struct producer_ui_file {
    const char *name;
    const char *data;
    const size_t *len;
};
extern const struct producer_ui_file producer_ui_files[];

char *producer_ui_dir;

static const char UI_HEADERS[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "Cache-Control: no-cache\r\n";

static const struct {
    const char *ext;
    const char *ctype;
} TYPES[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".json", "application/json" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".txt", "text/plain; charset=utf-8" },
    { NULL, NULL },
};

/* The Content-Type for a file name by its extension, or NULL if unknown. */
static const char *ctype_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    for (int i = 0; TYPES[i].ext; i++)
        if (strcmp(dot, TYPES[i].ext) == 0) return TYPES[i].ctype;
    return NULL;
}

/* 1 if name is a servable file name: one segment, [A-Za-z0-9_.-], no leading
 * dot, no "..", a known extension. */
static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > UI_NAME_MAX || name[0] == '.' || strstr(name, "..")) return 0;
    for (const char *s = name; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return ctype_of(name) != NULL;
}

int producer_ui_check(char *err, size_t errlen)
{
    if (!producer_ui_dir || !producer_ui_dir[0]) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", producer_ui_dir);
    struct stat st;
    if (stat(producer_ui_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "HOOKQ_UI_DIR: '%s' is not a directory", producer_ui_dir);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "HOOKQ_UI_DIR: '%s' has no readable index.html", producer_ui_dir);
        return -1;
    }
    return 0;
}

/* Reads dir/name (a regular file of at most UI_FILE_MAX bytes) into a new
 * buffer. 0 with *out (hq_free) and *len; -ENOENT when absent; other -errno. */
static int read_file(const char *dir, const char *name, char **out, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > UI_FILE_MAX) {
        close(fd);
        return -ENOENT;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = hq_malloc(n + 1);
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        hq_free(buf);
        return -EIO;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* A plain-text answer with the console's security headers. */
static void answer_text(struct producer *p, hq_http_req *req, int status, const char *extra, const char *text)
{
    char hdrs[sizeof UI_HEADERS + 256];
    snprintf(hdrs, sizeof hdrs, "%s%s", UI_HEADERS, extra ? extra : "");
    producer_respond(p, req, status, "text/plain; charset=utf-8", hdrs, text, strlen(text));
}

static void serve(struct producer *p, hq_http_req *req, const char *name)
{
    if (!name_ok(name)) {
        answer_text(p, req, 404, NULL, "not found\n");
        return;
    }
    const char *ctype = ctype_of(name);
    if (producer_ui_dir && producer_ui_dir[0]) {
        char *buf = NULL;
        size_t len = 0;
        int rc = read_file(producer_ui_dir, name, &buf, &len);
        if (rc == -ENOENT || rc == -ELOOP || rc == -ENOTDIR) {
            answer_text(p, req, 404, NULL, "not found\n");
        } else if (rc != 0) {
            hq_warn("console file unreadable", "file", name, "error", strerror(-rc));
            answer_text(p, req, 500, NULL, "cannot read the file\n");
        } else {
            producer_respond(p, req, 200, ctype, UI_HEADERS, buf, len);
            hq_free(buf);
        }
        return;
    }
    for (int i = 0; producer_ui_files[i].name; i++) {
        if (strcmp(producer_ui_files[i].name, name) == 0) {
            producer_respond(p, req, 200, ctype, UI_HEADERS, producer_ui_files[i].data, *producer_ui_files[i].len);
            return;
        }
    }
    answer_text(p, req, 404, NULL, "not found\n");
}

int producer_ui_route(struct producer *p, hq_http_req *req)
{
    const char *path = req->path;
    int root = strcmp(path, "/") == 0, bare = strcmp(path, "/ui") == 0;
    if (!root && !bare && strncmp(path, "/ui/", 4) != 0) return 0;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        producer_method_not_allowed(p, req, "GET, HEAD");
        return 1;
    }
    if (root || bare) {
        answer_text(p, req, root ? 302 : 301, "Location: /ui/\r\n", "see /ui/\n");
        return 1;
    }
    const char *name = path + 4;
    serve(p, req, *name ? name : "index.html");
    return 1;
}
