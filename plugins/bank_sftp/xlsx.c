/* xlsx.c — see xlsx.h. */
#include "xlsx.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "cdc.h"

#define MAX_CELL ((size_t)1 << 20) /* bytes of one cell's text */
/* All shared strings together, and one row's cells: a few kilobytes of
 * zip can inflate to gigabytes, and a row of references to one long
 * shared string multiplies it again. */
#define MAX_SHARED_STRINGS ((size_t)256 << 20)
#define MAX_ROW ((size_t)16 << 20)
#define MAX_COLS 16384             /* XFD, Excel's last column */

/* Local name of a possibly prefixed element ("x:row" -> "row"). */
static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(local(atts[i]), name) == 0)
            return atts[i + 1];
    return NULL;
}

/* Streams one zip member through an expat parser. 0, or -1 with *why, or
 * the parse was stopped by a handler (then *stop holds its code). */
static int parse_member(zip_t *z, const char *name, XML_Parser p, int *stop, char **why)
{
    zip_file_t *f = zip_fopen(z, name, 0);
    /* Zip names are case-sensitive, OPC part names are not: a writer's
     * "xl/SharedStrings.xml" or "Sheet1.xml" is the part asked for. */
    if (!f)
        f = zip_fopen(z, name, ZIP_FL_NOCASE);
    if (!f) {
        *why = cdc_printf("%s: %s", name, zip_strerror(z));
        return -1;
    }
    char buf[65536];
    int rc = 0;
    for (;;) {
        zip_int64_t n = zip_fread(f, buf, sizeof buf);
        if (n < 0) {
            *why = cdc_printf("inflating %s failed: %s", name, zip_file_strerror(f));
            rc = -1;
            break;
        }
        if (XML_Parse(p, buf, (int)n, n == 0) == XML_STATUS_ERROR) {
            if (*stop)
                break;
            *why = cdc_printf("%s is not well-formed XML (line %lu: %s)", name,
                              (unsigned long)XML_GetCurrentLineNumber(p),
                              XML_ErrorString(XML_GetErrorCode(p)));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
    }
    zip_fclose(f);
    return rc;
}

/* ---- workbook.xml and its relationships: which member is the sheet ---- */

/* One <sheet> of xl/workbook.xml, in workbook order (the tab order). */
typedef struct wb_sheet {
    char *name;
    char *rid;
    int hidden; /* state="hidden" or "veryHidden" */
} wb_sheet;

typedef struct wb_state {
    wb_sheet *sheets;
    size_t n, cap;
    int oom;
    cdc_buf names;  /* for "no sheet named X (sheets: ...)" */
    int date1904;
} wb_state;

static void XMLCALL wb_start(void *ud, const char *el, const char **atts)
{
    wb_state *s = ud;
    if (strcmp(local(el), "workbookPr") == 0) {
        /* an xsd:boolean; a workbook saved on an old Mac says "1" or "true",
         * and its date serials are 1462 days short of the 1900 system's */
        const char *v = attr(atts, "date1904");
        s->date1904 = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
        return;
    }
    if (strcmp(local(el), "sheet") != 0)
        return;
    const char *name = attr(atts, "name");
    const char *rid = attr(atts, "id");
    const char *state = attr(atts, "state");
    if (name) {
        if (s->names.len)
            cdc_buf_append(&s->names, ", ", 2);
        cdc_buf_append(&s->names, name, strlen(name));
    }
    if (!rid || s->oom)
        return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        wb_sheet *ns = realloc(s->sheets, nc * sizeof *ns);
        if (!ns) {
            s->oom = 1;
            return;
        }
        s->sheets = ns;
        s->cap = nc;
    }
    wb_sheet *w = &s->sheets[s->n];
    w->name = strdup(name ? name : "");
    w->rid = strdup(rid);
    /* ST_SheetState: visible (the default), hidden, veryHidden */
    w->hidden = state && strcmp(state, "visible") != 0;
    if (!w->name || !w->rid) {
        free(w->name);
        free(w->rid);
        s->oom = 1;
        return;
    }
    s->n++;
}

static void wb_free(wb_state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->sheets[i].name);
        free(s->sheets[i].rid);
    }
    free(s->sheets);
    cdc_buf_free(&s->names);
}

/* xl/_rels/workbook.xml.rels: every relationship's target and whether it
 * is a worksheet (not a chart, macro or dialog sheet). */
typedef struct wb_rel {
    char *id;
    char *target;
    int worksheet;
} wb_rel;

typedef struct rel_state {
    wb_rel *rels;
    size_t n, cap;
    int oom;
    char *sst; /* the shared strings part, when a relationship names it */
} rel_state;

/* A relationship's Target as a zip member name: relative to xl/ (where
 * workbook.xml is), or absolute from the package root. */
static char *rel_target(const char *t)
{
    return t[0] == '/' ? strdup(t + 1) : cdc_printf("xl/%s", t);
}

static int type_is(const char *type, const char *suffix)
{
    size_t tl = type ? strlen(type) : 0, sl = strlen(suffix);
    return tl >= sl && strcmp(type + tl - sl, suffix) == 0;
}

static void XMLCALL rel_start(void *ud, const char *el, const char **atts)
{
    rel_state *s = ud;
    if (strcmp(local(el), "Relationship") != 0 || s->oom)
        return;
    const char *id = attr(atts, "Id");
    const char *t = attr(atts, "Target");
    const char *type = attr(atts, "Type");
    if (!id || !t)
        return;
    if (type_is(type, "/sharedStrings")) {
        if (!s->sst && !(s->sst = rel_target(t)))
            s->oom = 1;
        return;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        wb_rel *nr = realloc(s->rels, nc * sizeof *nr);
        if (!nr) {
            s->oom = 1;
            return;
        }
        s->rels = nr;
        s->cap = nc;
    }
    wb_rel *r = &s->rels[s->n];
    r->id = strdup(id);
    r->target = rel_target(t);
    /* ".../relationships/worksheet" (transitional and strict) */
    r->worksheet = type_is(type, "/worksheet");
    if (!r->id || !r->target) {
        free(r->id);
        free(r->target);
        s->oom = 1;
        return;
    }
    s->n++;
}

static void rel_free(rel_state *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rels[i].id);
        free(s->rels[i].target);
    }
    free(s->rels);
    free(s->sst);
}

static const wb_rel *rel_find(const rel_state *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->rels[i].id, id) == 0)
            return &s->rels[i];
    return NULL;
}

/* The sheet to read: the one named, hidden or not; else the first visible
 * worksheet in tab order. A bank's workbook often keeps a hidden lookup or
 * macro sheet in front, and a chart sheet holds no cells: reading either
 * fails the file on its header, or worse, reads the wrong rows. Only when
 * no sheet is both is the first worksheet (then the first sheet) taken.
 * -1 when there is none; *note (malloc'd) says what was passed over. */
static long pick_sheet(const wb_state *wb, const rel_state *rels, const char *want, char **note)
{
    if (want) {
        /* Excel's sheet names are unique without regard to case: a tab
         * renamed "SETTLEMENT" is still the template's "Settlement" */
        long at = -1;
        for (size_t i = 0; i < wb->n && at < 0; i++)
            if (strcmp(wb->sheets[i].name, want) == 0)
                at = (long)i;
        for (size_t i = 0; i < wb->n && at < 0; i++)
            if (strcasecmp(wb->sheets[i].name, want) == 0)
                at = (long)i;
        if (at >= 0 && wb->sheets[at].hidden && note)
            *note = cdc_printf("sheet \"%s\" (named by the format) is hidden; read as configured",
                               wb->sheets[at].name);
        return at;
    }
    long pick = -1;
    int pass = 0;
    for (; pass < 3 && pick < 0; pass++)
        for (size_t i = 0; i < wb->n && pick < 0; i++) {
            const wb_rel *r = rel_find(rels, wb->sheets[i].rid);
            int ws = r && r->worksheet;
            if ((pass == 0 && ws && !wb->sheets[i].hidden) || (pass == 1 && ws) || pass == 2)
                pick = (long)i;
        }
    pass--; /* the pass that found it */
    if (pick >= 0 && note && (pick > 0 || pass > 0)) {
        /* say what was passed over (the first sheet, and why), or that no
         * sheet is a visible worksheet */
        const wb_sheet *first = &wb->sheets[0];
        const wb_rel *r = rel_find(rels, first->rid);
        const char *what = first->hidden ? "hidden"
                           : !r          ? "missing from the workbook's relationships"
                           : !r->worksheet ? "not a worksheet"
                                           : "";
        if (pass == 0)
            *note = cdc_printf("sheet \"%s\" is %s: reading sheet \"%s\", the first visible "
                               "worksheet (format.sheet names another)",
                               first->name, what, wb->sheets[pick].name);
        else
            *note = cdc_printf("no sheet is a visible worksheet: reading sheet \"%s\"%s "
                               "(format.sheet names another)",
                               wb->sheets[pick].name,
                               wb->sheets[pick].hidden ? ", which is hidden" : "");
    }
    return pick;
}

/* ---- sharedStrings.xml ---- */

typedef struct sst {
    cdc_buf text;     /* all strings, each NUL-terminated */
    size_t *off;
    size_t n, cap;
    int in_si, in_t, in_rph;
    size_t cur_start;
    int oom;
    int too_long;  /* one string over MAX_CELL */
    int too_many;  /* all of them over MAX_SHARED_STRINGS */
} sst;

static void XMLCALL sst_start(void *ud, const char *el, const char **atts)
{
    (void)atts;
    sst *s = ud;
    const char *l = local(el);
    if (strcmp(l, "si") == 0) {
        s->in_si = 1;
        s->cur_start = s->text.len;
    } else if (strcmp(l, "rPh") == 0) {
        s->in_rph = 1;
    } else if (strcmp(l, "t") == 0 && s->in_si && !s->in_rph) {
        s->in_t = 1;
    }
}

static void XMLCALL sst_end(void *ud, const char *el)
{
    sst *s = ud;
    const char *l = local(el);
    if (strcmp(l, "t") == 0) {
        s->in_t = 0;
    } else if (strcmp(l, "rPh") == 0) {
        s->in_rph = 0;
    } else if (strcmp(l, "si") == 0) {
        s->in_si = 0;
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 1024;
            size_t *no = realloc(s->off, nc * sizeof *no);
            if (!no) {
                s->oom = 1;
                return;
            }
            s->off = no;
            s->cap = nc;
        }
        if (cdc_buf_append(&s->text, "", 1) != 0) /* the NUL */
            s->oom = 1;
        s->off[s->n++] = s->cur_start;
    }
}

static void XMLCALL sst_text(void *ud, const char *t, int len)
{
    sst *s = ud;
    if (!s->in_t || s->oom || s->too_long || s->too_many)
        return;
    if (s->text.len - s->cur_start + (size_t)len > MAX_CELL)
        s->too_long = 1;
    else if (s->text.len + (size_t)len > MAX_SHARED_STRINGS)
        s->too_many = 1;
    else if (cdc_buf_append(&s->text, t, (size_t)len) != 0)
        s->oom = 1;
}

/* ---- the sheet ---- */

typedef struct cellrec {
    size_t col;
    size_t off, len;
    unsigned char numeric;
} cellrec;

typedef struct sheet_state {
    XML_Parser p;
    const sst *strings;
    bs_row_fn on_row;
    void *ud;
    int date1904;
    int stop;
    long row_no, next_row;
    cellrec *cells;
    size_t ncells, capcells;
    cdc_buf text;       /* the row's cell texts */
    size_t next_col;
    /* current cell */
    int in_c, in_v, in_t, in_is;
    size_t c_col;
    char c_type[16];
    size_t c_start;
    /* row assembly */
    const char **v;
    size_t *vlen;
    unsigned char *num;
    size_t capv;
    char *err;
} sheet_state;

/* "BC12" -> 54 (0-based column), or (size_t)-1. */
static size_t col_of(const char *ref)
{
    size_t c = 0;
    int n = 0;
    for (; *ref >= 'A' && *ref <= 'Z'; ref++, n++) {
        c = c * 26 + (size_t)(*ref - 'A' + 1);
        if (n > 3)
            return (size_t)-1;
    }
    return n ? c - 1 : (size_t)-1;
}

static void fail(sheet_state *s, char *msg)
{
    if (!s->err)
        s->err = msg;
    else
        free(msg);
    s->stop = -1;
    XML_StopParser(s->p, XML_FALSE);
}

static void XMLCALL sh_start(void *ud, const char *el, const char **atts)
{
    sheet_state *s = ud;
    const char *l = local(el);
    if (strcmp(l, "row") == 0) {
        const char *r = attr(atts, "r");
        s->row_no = r ? atol(r) : s->next_row;
        if (s->row_no < 1)
            s->row_no = s->next_row;
        s->next_row = s->row_no + 1;
        s->ncells = 0;
        s->text.len = 0;
        s->next_col = 0;
    } else if (strcmp(l, "c") == 0) {
        const char *r = attr(atts, "r");
        const char *t = attr(atts, "t");
        size_t col = r ? col_of(r) : s->next_col;
        if (col == (size_t)-1 || col >= MAX_COLS) {
            fail(s, cdc_printf("row %ld: bad cell reference %.20s", s->row_no, r ? r : "?"));
            return;
        }
        s->in_c = 1;
        s->c_col = col;
        s->next_col = col + 1;
        /* (a copy per cell: snprintf here was a measurable share of a sheet) */
        const char *ty = t ? t : "n";
        size_t tn = strnlen(ty, sizeof s->c_type - 1);
        memcpy(s->c_type, ty, tn);
        s->c_type[tn] = '\0';
        s->c_start = s->text.len;
    } else if (s->in_c && strcmp(l, "v") == 0) {
        s->in_v = 1;
    } else if (s->in_c && strcmp(l, "is") == 0) {
        s->in_is = 1;
    } else if (s->in_is && strcmp(l, "t") == 0) {
        s->in_t = 1;
    }
}

static void XMLCALL sh_text(void *ud, const char *t, int len)
{
    sheet_state *s = ud;
    if (!(s->in_v || (s->in_is && s->in_t)))
        return;
    if (s->text.len - s->c_start + (size_t)len > MAX_CELL) {
        fail(s, cdc_printf("row %ld: a cell longer than %zu bytes", s->row_no, MAX_CELL));
        return;
    }
    if (cdc_buf_append(&s->text, t, (size_t)len) != 0)
        fail(s, cdc_printf("out of memory"));
}

static void end_cell(sheet_state *s)
{
    size_t len = s->text.len - s->c_start;
    unsigned char numeric = 0;
    if (strcmp(s->c_type, "s") == 0) {
        /* a shared-string index: replace the digits by the string */
        char idx[24];
        size_t k = len < sizeof idx - 1 ? len : sizeof idx - 1;
        memcpy(idx, s->text.data + s->c_start, k);
        idx[k] = '\0';
        char *end;
        unsigned long i = strtoul(idx, &end, 10);
        s->text.len = s->c_start;
        if (k == 0 || *end || i >= s->strings->n) {
            fail(s, cdc_printf("row %ld: shared string %s does not exist", s->row_no, idx));
            return;
        }
        const char *str = s->strings->text.data + s->strings->off[i];
        if (cdc_buf_append(&s->text, str, strlen(str)) != 0) {
            fail(s, cdc_printf("out of memory"));
            return;
        }
        len = s->text.len - s->c_start;
    } else if (strcmp(s->c_type, "b") == 0) {
        int t = len == 1 && s->text.data[s->c_start] == '1';
        s->text.len = s->c_start;
        cdc_buf_append(&s->text, t ? "TRUE" : "FALSE", t ? 4 : 5);
        len = s->text.len - s->c_start;
    } else if (strcmp(s->c_type, "n") == 0) {
        numeric = len > 0;
    }
    if (s->ncells == s->capcells) {
        size_t nc = s->capcells ? s->capcells * 2 : 32;
        cellrec *ncl = realloc(s->cells, nc * sizeof *ncl);
        if (!ncl) {
            fail(s, cdc_printf("out of memory"));
            return;
        }
        s->cells = ncl;
        s->capcells = nc;
    }
    s->cells[s->ncells++] = (cellrec){s->c_col, s->c_start, len, numeric};
    if (s->text.len > MAX_ROW) {
        fail(s, cdc_printf("row %ld: its cells hold more than %zu MiB", s->row_no, MAX_ROW >> 20));
        return;
    }
    /* each cell's text ends with a NUL in the row buffer */
    if (cdc_buf_append(&s->text, "", 1) != 0)
        fail(s, cdc_printf("out of memory"));
}

static void end_row(sheet_state *s)
{
    size_t ncol = 0;
    for (size_t i = 0; i < s->ncells; i++)
        if (s->cells[i].col + 1 > ncol)
            ncol = s->cells[i].col + 1;
    if (cdc_buf_append(&s->text, "", 1) != 0) { /* the shared empty string */
        fail(s, cdc_printf("out of memory"));
        return;
    }
    size_t empty = s->text.len - 1;
    if (ncol > s->capv) {
        const char **nv = realloc(s->v, ncol * sizeof *nv);
        size_t *nl = nv ? realloc(s->vlen, ncol * sizeof *nl) : NULL;
        unsigned char *nn = nl ? realloc(s->num, ncol) : NULL;
        if (nv)
            s->v = nv;
        if (nl)
            s->vlen = nl;
        if (nn)
            s->num = nn;
        if (!nv || !nl || !nn) {
            fail(s, cdc_printf("out of memory"));
            return;
        }
        s->capv = ncol;
    }
    for (size_t i = 0; i < ncol; i++) {
        s->v[i] = NULL;
        s->vlen[i] = 0;
        s->num[i] = 0;
    }
    for (size_t i = 0; i < s->ncells; i++) {
        size_t c = s->cells[i].col;
        s->v[c] = s->text.data + s->cells[i].off;
        s->vlen[c] = s->cells[i].len;
        s->num[c] = s->cells[i].numeric;
    }
    for (size_t i = 0; i < ncol; i++)
        if (!s->v[i])
            s->v[i] = s->text.data + empty;
    bs_row row = {ncol, s->v, s->vlen, s->num, s->row_no, s->date1904, 0};
    int rc = s->on_row(s->ud, &row);
    if (rc) {
        s->stop = rc;
        XML_StopParser(s->p, XML_FALSE);
    }
}

static void XMLCALL sh_end(void *ud, const char *el)
{
    sheet_state *s = ud;
    if (s->stop)
        return;
    const char *l = local(el);
    if (strcmp(l, "v") == 0) {
        s->in_v = 0;
    } else if (strcmp(l, "t") == 0) {
        s->in_t = 0;
    } else if (strcmp(l, "is") == 0) {
        s->in_is = 0;
    } else if (strcmp(l, "c") == 0 && s->in_c) {
        s->in_c = 0;
        end_cell(s);
    } else if (strcmp(l, "row") == 0) {
        end_row(s);
    }
}

static int read_zip(zip_t *z, const char *sheet, bs_row_fn on_row, void *ud, char **note,
                    char **why)
{
    int rc = -1, stop = 0;
    wb_state wb;
    memset(&wb, 0, sizeof wb);
    rel_state rel;
    memset(&rel, 0, sizeof rel);
    const char *target = NULL;
    sst strings;
    memset(&strings, 0, sizeof strings);
    sheet_state sh;
    memset(&sh, 0, sizeof sh);

    XML_Parser p = XML_ParserCreate(NULL);
    if (!p) {
        *why = cdc_printf("out of memory");
        goto out;
    }
    XML_SetUserData(p, &wb);
    XML_SetStartElementHandler(p, wb_start);
    if (parse_member(z, "xl/workbook.xml", p, &stop, why) != 0)
        goto out;
    XML_ParserFree(p);
    p = NULL;
    if (wb.oom) {
        *why = cdc_printf("out of memory reading xl/workbook.xml");
        goto out;
    }
    if (wb.n == 0 || (sheet && pick_sheet(&wb, &rel, sheet, NULL) < 0)) {
        *why = sheet ? cdc_printf("no sheet named \"%s\" (sheets: %s)", sheet,
                                  wb.names.data ? wb.names.data : "none")
                     : cdc_printf("the workbook has no sheet");
        goto out;
    }
    p = XML_ParserCreate(NULL);
    if (!p) {
        *why = cdc_printf("out of memory");
        goto out;
    }
    XML_SetUserData(p, &rel);
    XML_SetStartElementHandler(p, rel_start);
    if (parse_member(z, "xl/_rels/workbook.xml.rels", p, &stop, why) != 0)
        goto out;
    XML_ParserFree(p);
    p = NULL;
    if (rel.oom) {
        *why = cdc_printf("out of memory reading xl/_rels/workbook.xml.rels");
        goto out;
    }
    long pick = pick_sheet(&wb, &rel, sheet, note);
    const wb_rel *r = pick >= 0 ? rel_find(&rel, wb.sheets[pick].rid) : NULL;
    if (!r) {
        *why = cdc_printf("the relationship %s of sheet \"%s\" is missing",
                          pick >= 0 ? wb.sheets[pick].rid : "?",
                          pick >= 0 ? wb.sheets[pick].name : "?");
        goto out;
    }
    target = r->target;
    /* The shared strings: the part the relationships name, else the usual
     * name; either without regard to case. A workbook of numbers only, or
     * of inline strings, has none. */
    const char *sst_name = NULL;
    if (rel.sst && (zip_name_locate(z, rel.sst, 0) >= 0 ||
                    zip_name_locate(z, rel.sst, ZIP_FL_NOCASE) >= 0))
        sst_name = rel.sst;
    else if (zip_name_locate(z, "xl/sharedStrings.xml", ZIP_FL_NOCASE) >= 0)
        sst_name = "xl/sharedStrings.xml";
    if (sst_name) {
        p = XML_ParserCreate(NULL);
        if (!p) {
            *why = cdc_printf("out of memory");
            goto out;
        }
        XML_SetUserData(p, &strings);
        XML_SetElementHandler(p, sst_start, sst_end);
        XML_SetCharacterDataHandler(p, sst_text);
        if (parse_member(z, sst_name, p, &stop, why) != 0)
            goto out;
        XML_ParserFree(p);
        p = NULL;
        if (strings.oom || strings.too_long || strings.too_many) {
            *why = strings.oom        ? cdc_printf("out of memory reading the shared strings")
                   : strings.too_long ? cdc_printf("a shared string is longer than %zu bytes",
                                                   MAX_CELL)
                                      : cdc_printf("the shared strings are larger than %zu MiB",
                                                   MAX_SHARED_STRINGS >> 20);
            goto out;
        }
    }
    p = XML_ParserCreate(NULL);
    if (!p) {
        *why = cdc_printf("out of memory");
        goto out;
    }
    sh.p = p;
    sh.strings = &strings;
    sh.on_row = on_row;
    sh.ud = ud;
    sh.date1904 = wb.date1904;
    sh.next_row = 1;
    XML_SetUserData(p, &sh);
    XML_SetElementHandler(p, sh_start, sh_end);
    XML_SetCharacterDataHandler(p, sh_text);
    int prc = parse_member(z, target, p, &sh.stop, why);
    if (sh.stop == -1) {
        free(*why);
        *why = cdc_printf("%s: %s", target, sh.err ? sh.err : "unreadable");
        rc = -1;
    } else if (sh.stop) {
        rc = sh.stop;
    } else {
        rc = prc;
    }
out:
    if (p)
        XML_ParserFree(p);
    wb_free(&wb);
    rel_free(&rel);
    cdc_buf_free(&strings.text);
    free(strings.off);
    free(sh.cells);
    cdc_buf_free(&sh.text);
    free(sh.v);
    free(sh.vlen);
    free(sh.num);
    free(sh.err);
    return rc;
}

int bs_xlsx_read(const char *path, const char *sheet, bs_row_fn on_row, void *ud, char **why)
{
    return bs_xlsx_read_noted(path, sheet, on_row, ud, NULL, why);
}

int bs_xlsx_read_noted(const char *path, const char *sheet, bs_row_fn on_row, void *ud,
                       char **note, char **why)
{
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    if (!z) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        *why = cdc_printf("not an XLSX workbook (zip: %s)", zip_error_strerror(&e));
        zip_error_fini(&e);
        return -1;
    }
    int rc = read_zip(z, sheet, on_row, ud, note, why);
    zip_discard(z);
    return rc;
}

int bs_xlsx_read_mem(const void *data, size_t len, const char *sheet, bs_row_fn on_row, void *ud,
                     char **why)
{
    zip_error_t e;
    zip_error_init(&e);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &e);
    if (!src) {
        *why = cdc_printf("zip: %s", zip_error_strerror(&e));
        zip_error_fini(&e);
        return -1;
    }
    zip_t *z = zip_open_from_source(src, ZIP_RDONLY, &e);
    if (!z) {
        *why = cdc_printf("not an XLSX workbook (zip: %s)", zip_error_strerror(&e));
        zip_source_free(src);
        zip_error_fini(&e);
        return -1;
    }
    zip_error_fini(&e);
    int rc = read_zip(z, sheet, on_row, ud, NULL, why);
    zip_discard(z);
    return rc;
}
