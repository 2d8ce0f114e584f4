/* cli_table: aligned plain-text tables for human output. Cells are copied
 * strings; widths are counted in UTF-8 characters so non-ASCII names keep
 * the columns straight. Control characters in cells (a newline in an error
 * text, an escape sequence in a response body) are printed as '?' so a cell
 * can neither break the layout nor drive the terminal. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_alloc.h"
#include "cli.h"

struct cli_table {
    int ncols;
    char **headers;   /* ncols strings */
    char ***rows;     /* nrows arrays of ncols strings */
    int nrows, caprows;
};

cli_table *cli_table_new(int n, const char *const *headers)
{
    cli_table *t = hq_calloc(1, sizeof *t);
    t->ncols = n;
    t->headers = hq_calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++) t->headers[i] = hq_strdup(headers[i]);
    return t;
}

void cli_table_row(cli_table *t, const char *const *cells)
{
    if (t->nrows == t->caprows) {
        t->caprows = t->caprows ? t->caprows * 2 : 16;
        t->rows = hq_realloc(t->rows, sizeof(char **) * (size_t)t->caprows);
    }
    char **r = hq_calloc((size_t)t->ncols, sizeof(char *));
    for (int i = 0; i < t->ncols; i++) r[i] = hq_strdup(cells[i] ? cells[i] : "-");
    t->rows[t->nrows++] = r;
}

int cli_table_rows(const cli_table *t)
{
    return t->nrows;
}

/* Display width of s: UTF-8 continuation bytes do not count. */
static int width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) w++;
    return w;
}

/* Prints s with control characters replaced, then pad spaces. */
static void cell(FILE *f, const char *s, int pad)
{
    cli_puts_safe(f, s);
    for (int i = 0; i < pad; i++) fputc(' ', f);
}

static void print_row(FILE *f, const cli_table *t, char **r, const int *w)
{
    for (int i = 0; i < t->ncols; i++) {
        int last = i == t->ncols - 1;
        cell(f, r[i], last ? 0 : w[i] - width(r[i]) + 2);
    }
    fputc('\n', f);
}

void cli_table_print(cli_table *t, FILE *f)
{
    int *w = hq_calloc((size_t)t->ncols, sizeof(int));
    for (int i = 0; i < t->ncols; i++) {
        w[i] = width(t->headers[i]);
        for (int r = 0; r < t->nrows; r++) {
            int cw = width(t->rows[r][i]);
            if (cw > w[i]) w[i] = cw;
        }
    }
    print_row(f, t, t->headers, w);
    for (int r = 0; r < t->nrows; r++) print_row(f, t, t->rows[r], w);
    hq_free(w);
    cli_table_free(t);
}

void cli_table_free(cli_table *t)
{
    for (int r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) hq_free(t->rows[r][i]);
        hq_free(t->rows[r]);
    }
    for (int i = 0; i < t->ncols; i++) hq_free(t->headers[i]);
    hq_free(t->rows);
    hq_free(t->headers);
    hq_free(t);
}
