/* jsonschema.c — see jsonschema.h. */
#include "jsonschema.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datetime.h"
#include "secrets.h"
#include "util.h"

/* Schemas come from drivers; a self-nesting one must not exhaust the
 * stack. Instances only go as deep as the schema does. */
#define MAX_DEPTH 64

typedef struct vctx {
    json_t *errors;
    int count;
    const json_t *root;   /* the whole schema: what a local "$ref" points into */
    long *steps;          /* schemas visited so far, shared with the branches */
} vctx;

/* Schemas a validation may visit: "$ref"s can form loops that consume none
 * of the instance ({"anyOf": [{"$ref": "#"}, {"$ref": "#"}]} doubles at
 * each of the 64 levels), which would hold the API's thread for ever. A
 * real driver's schema is visited about once per value of the config (a
 * 1 MiB body holds at most some 300,000 values). */
#define MAX_STEPS 500000

static void add_error(vctx *c, const char *path, const char *fmt, ...) CD_PRINTF(3, 4);
static void add_error(vctx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = cd_vsprintf(fmt, ap);
    va_end(ap);
    if (c->errors)
        json_array_append_new(c->errors, json_pack("{s:s, s:s}", "field", path && *path ? path : "(root)",
                                                   "message", msg));
    c->count++;
    free(msg);
}

static char *join_prop(const char *path, const char *name)
{
    return path && *path ? cd_sprintf("%s.%s", path, name) : cd_xstrdup(name);
}

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int type_matches(const char *t, const json_t *v)
{
    if (strcmp(t, "object") == 0) return json_is_object(v);
    if (strcmp(t, "array") == 0) return json_is_array(v);
    if (strcmp(t, "string") == 0) return json_is_string(v);
    if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(t, "null") == 0) return json_is_null(v);
    if (strcmp(t, "number") == 0) return json_is_number(v);
    /* 2.0 is an integer in JSON Schema, but not to a driver: it reads the
     * value with json_integer_value(), which gives 0 for a real, and 1e20
     * comes back from jsonb as digits no int64 holds. Only integers pass. */
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v);
    return 0;
}

/* Code points of a UTF-8 string (jansson guarantees valid UTF-8). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

static void append_class(cd_buf *b, char esc, int in_bracket)
{
    const char *cls = NULL;
    int neg = 0;
    switch (esc) {
    case 'd': cls = "[:digit:]"; break;
    case 'D': cls = "[:digit:]", neg = 1; break;
    case 's': cls = "[:space:]"; break;
    case 'S': cls = "[:space:]", neg = 1; break;
    case 'w': cls = "[:alnum:]_"; break;
    case 'W': cls = "[:alnum:]_", neg = 1; break;
    }
    if (in_bracket) {
        /* A negated class inside brackets cannot be written in POSIX;
         * approximate \S as "any printable non-space" and so on is
         * wrong, so keep the positive class (drivers do not use these). */
        cd_buf_puts(b, cls);
    } else {
        cd_buf_putc(b, '[');
        if (neg)
            cd_buf_putc(b, '^');
        cd_buf_puts(b, cls);
        cd_buf_putc(b, ']');
    }
}

/* glibc's regcomp copies a repeated subtree once per repetition ("x{n,m}"
 * becomes m copies of x, "x+" two, "x*" and "x?" one), so repeats nested in
 * groups multiply: "(((a{99}){99}){99}){99}" took over 3 GB. What is
 * limited is therefore what regcomp builds, measured as it builds it: the
 * product of the repeats around any one element, and the number of
 * elements once every repeat is unrolled (about 200 bytes each). Stacked
 * quantifiers ("a++") are refused outright: ECMA-262 has none but the lazy
 * "?", which matches the same strings. */
#define MAX_PATTERN 1024
#define MAX_REPEAT 100
#define MAX_NESTED_COPIES 1000
#define MAX_UNROLLED 20000
#define MAX_GROUP_DEPTH 64

/* What one atom or group costs regcomp: elements once unrolled, and the
 * largest product of repeats around any element inside it. */
typedef struct rx_cost {
    long unrolled;
    long copies;
} rx_cost;

/* Folds the atom waiting for a possible quantifier into its group. */
static const char *rx_commit(rx_cost *group, rx_cost *pending, int *have_pending)
{
    if (!*have_pending)
        return NULL;
    *have_pending = 0;
    group->unrolled += pending->unrolled;
    if (pending->copies > group->copies)
        group->copies = pending->copies;
    if (group->unrolled > MAX_UNROLLED)
        return "it unrolls to more than 20000 elements";
    return NULL;
}

char *cd_jsonschema_posix_pattern(const char *p, const char **why)
{
    const char *reason = NULL;
    if (strlen(p) > MAX_PATTERN) {
        if (why)
            *why = "it is longer than 1024 bytes";
        return NULL;
    }
    cd_buf b;
    cd_buf_init(&b);
    int in_bracket = 0, after_quant = 0;
    size_t bracket_body = 0; /* where the open bracket's members start in b */
    /* groups[0] is the whole pattern, groups[depth] the innermost open one. */
    rx_cost groups[MAX_GROUP_DEPTH + 1] = {{0, 1}};
    int depth = 0;
    rx_cost pending = {0, 1};
    int have_pending = 0;
#define RX_ATOM(u, c)                                                                    \
    do {                                                                                 \
        if ((reason = rx_commit(&groups[depth], &pending, &have_pending)))               \
            goto refuse;                                                                 \
        pending = (rx_cost){(u), (c)};                                                   \
        have_pending = 1;                                                                \
    } while (0)
    for (size_t i = 0; p[i]; i++) {
        char ch = p[i];
        if (ch == '\\' && p[i + 1]) {
            char e = p[++i];
            if (!in_bracket) {
                after_quant = 0;
                RX_ATOM(1, 1);
            }
            if (strchr("dDsSwW", e)) {
                append_class(&b, e, in_bracket);
            } else if (e == 'n' || e == 't' || e == 'r') {
                cd_buf_putc(&b, e == 'n' ? '\n' : e == 't' ? '\t' : '\r');
            } else if (in_bracket) {
                /* Backslash is literal in POSIX brackets: keep only the
                 * character it escaped. A "]" there would end the bracket
                 * where ECMA-262 does not (and what follows would escape the
                 * quantifier checks below), and a "-" would make a range:
                 * each is literal in POSIX only first (]) or last (-). */
                if ((e == ']' && b.len != bracket_body) || (e == '-' && p[i + 1] != ']')) {
                    reason = "an escaped ] or - inside brackets would mean something else in POSIX";
                    goto refuse;
                }
                cd_buf_putc(&b, e);
            } else {
                cd_buf_putc(&b, '\\');
                cd_buf_putc(&b, e);
            }
            continue;
        }
        if (in_bracket) {
            if (ch == ']')
                in_bracket = 0;
            cd_buf_putc(&b, ch);
            continue;
        }
        if (ch == '[') {
            in_bracket = 1;
            after_quant = 0;
            RX_ATOM(1, 1); /* a whole bracket is one element */
            cd_buf_putc(&b, ch);
            if (p[i + 1] == '^')
                cd_buf_putc(&b, p[++i]);
            bracket_body = b.len;
            if (p[i + 1] == ']')
                cd_buf_putc(&b, p[++i]);
            continue;
        }
        if (ch == '?' && after_quant) {
            after_quant = 0; /* lazy: same set of matching strings */
            continue;
        }
        if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
            if (after_quant) {
                reason = "it stacks one repeat on another";
                goto refuse;
            }
            after_quant = 1;
            long factor = ch == '+' ? 2 : 1;
            size_t len = 1;
            if (ch == '{') {
                /* {n}, {n,}, {n,m} with small counts only. */
                size_t j = i + 1;
                long lo = 0, hi = 0;
                int comma = 0, hi_digits = 0;
                for (; p[j] && p[j] != '}'; j++) {
                    if (p[j] >= '0' && p[j] <= '9') {
                        long *n = comma ? &hi : &lo;
                        *n = *n * 10 + (p[j] - '0');
                        hi_digits += comma;
                        if (*n > MAX_REPEAT) {
                            reason = "a repeat count is over 100";
                            goto refuse;
                        }
                    } else if (p[j] == ',' && !comma) {
                        comma = 1;
                    } else {
                        break;
                    }
                }
                if (p[j] != '}') {
                    reason = "a { does not start a {n}, {n,} or {n,m} count";
                    goto refuse;
                }
                /* {n,} is n copies and a starred one; {n,m}, m copies. */
                factor = !comma ? lo : !hi_digits ? lo + 1 : hi > lo ? hi : lo;
                len = j - i + 1;
            }
            if (have_pending) {
                /* "x{0}" still costs regcomp the parse of x. */
                if (factor > 1) {
                    pending.unrolled *= factor;
                    pending.copies *= factor;
                }
                if (pending.copies > MAX_NESTED_COPIES) {
                    reason = "repeats nested in groups multiply to more than 1000 copies";
                    goto refuse;
                }
                if (pending.unrolled > MAX_UNROLLED) {
                    reason = "it unrolls to more than 20000 elements";
                    goto refuse;
                }
            }
            cd_buf_append(&b, p + i, len);
            i += len - 1;
            continue;
        }
        after_quant = 0;
        if (ch == '(') {
            if ((reason = rx_commit(&groups[depth], &pending, &have_pending)))
                goto refuse;
            if (depth == MAX_GROUP_DEPTH) {
                reason = "its groups nest more than 64 deep";
                goto refuse;
            }
            groups[++depth] = (rx_cost){0, 1};
        } else if (ch == ')' && depth > 0) {
            if ((reason = rx_commit(&groups[depth], &pending, &have_pending)))
                goto refuse;
            /* The closed group is the atom a following quantifier repeats. */
            pending = groups[depth--];
            have_pending = 1;
        } else if (ch == '|') {
            /* Each alternative is built: their elements add up. */
            if ((reason = rx_commit(&groups[depth], &pending, &have_pending)))
                goto refuse;
        } else if (ch != '^' && ch != '$') {
            RX_ATOM(1, 1);
        }
        cd_buf_putc(&b, ch);
    }
#undef RX_ATOM
    if ((reason = rx_commit(&groups[depth], &pending, &have_pending)))
        goto refuse;
    cd_buf_putc(&b, '\0');
    b.len--;
    if (why)
        *why = NULL;
    return cd_buf_take(&b);
refuse:
    if (why)
        *why = reason;
    cd_buf_free(&b);
    return NULL;
}

/* 1 match, 0 no match, -1 the pattern is refused or does not compile, with
 * *why saying which (a static string). */
static int pattern_match(const char *pattern, const char *s, const char **why)
{
    char *posix = cd_jsonschema_posix_pattern(pattern, why);
    if (!posix)
        return -1;
    regex_t re;
    int rc = regcomp(&re, posix, REG_EXTENDED | REG_NOSUB);
    free(posix);
    if (rc != 0) {
        *why = "POSIX regcomp rejects it";
        return -1;
    }
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0 ? 1 : 0;
}

static int uri_valid(const char *s)
{
    /* scheme ":" then something without spaces (RFC 3986, loosely). */
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while (s[i] && s[i] != ':') {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '-' || ch == '.'))
            return 0;
        i++;
    }
    if (s[i] != ':' || !s[i + 1])
        return 0;
    for (i++; s[i]; i++)
        if ((unsigned char)s[i] <= ' ')
            return 0;
    return 1;
}

static void validate(vctx *c, const json_t *schema, const json_t *v, const char *path,
                     int depth);

/* Errors of a branch, collected apart so that oneOf/anyOf can choose. */
static int branch_errors(const json_t *c_root, long *steps, const json_t *schema,
                         const json_t *v, const char *path, int depth, json_t *into)
{
    vctx sub = {.errors = into, .count = 0, .root = c_root, .steps = steps};
    validate(&sub, schema, v, path, depth + 1);
    return sub.count;
}

static void join_types(cd_buf *b, const json_t *alts)
{
    size_t i;
    json_t *a;
    json_array_foreach(alts, i, a) {
        const json_t *t = json_object_get(a, "type");
        if (i)
            cd_buf_puts(b, " or ");
        cd_buf_puts(b, json_is_string(t) ? json_string_value(t) : "another form");
    }
}

static void check_alternatives(vctx *c, const json_t *alts, const json_t *v, const char *path,
                               int depth, int exactly_one)
{
    if (!json_is_array(alts) || json_array_size(alts) == 0)
        return;
    size_t i;
    json_t *a;
    int matches = 0;
    json_t *best = NULL; /* errors of the branch whose type fits */
    json_array_foreach(alts, i, a) {
        json_t *errs = json_array();
        if (branch_errors(c->root, c->steps, a, v, path, depth, errs) == 0) {
            matches++;
            json_decref(errs);
            continue;
        }
        const json_t *t = json_object_get(a, "type");
        if (!best && json_is_string(t) && type_matches(json_string_value(t), v))
            best = json_incref(errs);
        json_decref(errs);
    }
    if (matches == 0) {
        if (best) {
            /* The value has the right shape for one form: say what is wrong
             * with it in that form rather than "matches nothing". */
            size_t j;
            json_t *e;
            json_array_foreach(best, j, e) {
                if (c->errors)
                    json_array_append(c->errors, e);
                c->count++;
            }
        } else {
            cd_buf b;
            cd_buf_init(&b);
            join_types(&b, alts);
            cd_buf_putc(&b, '\0');
            add_error(c, path, "must be %s, not %s", b.data, type_of(v));
            cd_buf_free(&b);
        }
    } else if (exactly_one && matches > 1) {
        add_error(c, path, "matches more than one of the allowed forms");
    }
    json_decref(best);
}

static void enum_message(cd_buf *b, const json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (i)
            cd_buf_puts(b, ", ");
        char *t = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
        cd_buf_puts(b, t ? t : "?");
        free(t);
    }
}

static void validate_object(vctx *c, const json_t *schema, const json_t *v, const char *path,
                            int depth)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *req = json_object_get(schema, "required");
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) {
        const char *name = json_string_value(r);
        if (name && !json_object_get(v, name)) {
            char *p = join_prop(path, name);
            add_error(c, p, "is required");
            free(p);
        }
    }
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        char *p = join_prop(path, key);
        const json_t *ps = json_object_get(props, key);
        if (ps)
            validate(c, ps, val, p, depth + 1);
        else if (json_is_false(addl))
            add_error(c, p, "is not an allowed field");
        else if (json_is_object(addl))
            validate(c, addl, val, p, depth + 1);
        free(p);
    }
}

static void validate_array(vctx *c, const json_t *schema, const json_t *v, const char *path,
                           int depth)
{
    size_t n = json_array_size(v);
    const json_t *mn = json_object_get(schema, "minItems");
    const json_t *mx = json_object_get(schema, "maxItems");
    if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
        add_error(c, path, "must have at least %lld item%s", (long long)json_integer_value(mn),
                  json_integer_value(mn) == 1 ? "" : "s");
    if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
        add_error(c, path, "must have at most %lld items", (long long)json_integer_value(mx));
    const json_t *items = json_object_get(schema, "items");
    if (!json_is_object(items))
        return;
    for (size_t i = 0; i < n; i++) {
        char *p = cd_sprintf("%s[%zu]", path ? path : "", i);
        validate(c, items, json_array_get(v, i), p, depth + 1);
        free(p);
    }
}

static void validate_string(vctx *c, const json_t *schema, const json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    size_t len = utf8_len(s, json_string_length(v));
    const json_t *mn = json_object_get(schema, "minLength");
    const json_t *mx = json_object_get(schema, "maxLength");
    if (json_is_integer(mn) && (json_int_t)len < json_integer_value(mn)) {
        if (json_integer_value(mn) == 1)
            add_error(c, path, "must not be empty");
        else
            add_error(c, path, "must be at least %lld characters long",
                      (long long)json_integer_value(mn));
    }
    if (json_is_integer(mx) && (json_int_t)len > json_integer_value(mx))
        add_error(c, path, "must be at most %lld characters long",
                  (long long)json_integer_value(mx));
    const char *pat = json_string_value(json_object_get(schema, "pattern"));
    if (pat) {
        /* A string holding NUL cannot be matched by regexec; refuse it. */
        const char *why = NULL;
        int m = strlen(s) == json_string_length(v) ? pattern_match(pat, s, &why) : 0;
        if (m == 0)
            add_error(c, path, "does not match the pattern %s", pat);
        else if (m < 0)
            add_error(c, path,
                      "the driver's schema has a pattern this host refuses (%s): %s",
                      why ? why : "refused", pat);
    }
    const char *fmt = json_string_value(json_object_get(schema, "format"));
    if (fmt && (strcmp(fmt, "uri") == 0 || strcmp(fmt, "url") == 0) && !uri_valid(s))
        add_error(c, path, "must be an absolute URI (scheme:...)");
    if (fmt && strcmp(fmt, "date") == 0) {
        const char *why = NULL;
        if (cd_date_valid(s, json_string_length(v), &why) != 0)
            add_error(c, path, "must be a date YYYY-MM-DD");
    }
}

static void validate_number(vctx *c, const json_t *schema, const json_t *v, const char *path)
{
    double d = json_number_value(v);
    const json_t *k;
    if ((k = json_object_get(schema, "minimum")) && json_is_number(k) && d < json_number_value(k))
        add_error(c, path, "must be at least %g", json_number_value(k));
    if ((k = json_object_get(schema, "maximum")) && json_is_number(k) && d > json_number_value(k))
        add_error(c, path, "must be at most %g", json_number_value(k));
    if ((k = json_object_get(schema, "exclusiveMinimum")) && json_is_number(k) &&
        d <= json_number_value(k))
        add_error(c, path, "must be greater than %g", json_number_value(k));
    if ((k = json_object_get(schema, "exclusiveMaximum")) && json_is_number(k) &&
        d >= json_number_value(k))
        add_error(c, path, "must be less than %g", json_number_value(k));
}

static void validate(vctx *c, const json_t *schema, const json_t *v, const char *path, int depth)
{
    if (json_is_false(schema)) {
        add_error(c, path, "is not allowed");
        return;
    }
    if (!json_is_object(schema))
        return; /* true or junk: anything goes */
    if (depth > MAX_DEPTH) {
        add_error(c, path, "is nested too deeply to validate");
        return;
    }
    if (c->steps && ++*c->steps > MAX_STEPS) {
        c->count++; /* an error for the branch that met it; said once at the end */
        return;
    }
    /* connectord's rule (plugin.h): a field marked writeOnly may always hold
     * a secret reference instead of its value, whatever type it declares.
     * Whether the reference may be resolved is the API's check, made on
     * every reference of a connector wherever it stands (api_validate.c). */
    if (json_is_true(json_object_get(schema, "writeOnly")) && cd_secret_is_reference(v))
        return;
    /* A local "$ref" ("#/$defs/secret"): the schema it points at applies
     * as well (the masking follows it too, api_mask.c). Without this a
     * field declared through one took any value at all: a number where
     * the driver reads a string. A reference elsewhere (another document)
     * is not fetched and, as an unknown keyword, ignored. */
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    if (ref && ref[0] == '#') {
        const json_t *target = c->root ? cd_secrets_schema_ref(c->root, ref) : NULL;
        if (!target) {
            add_error(c, path, "the driver's schema has a $ref this host cannot resolve: %s", ref);
            return;
        }
        /* writeOnly given by the target: a reference is accepted there too */
        if (json_is_object(target) && json_is_true(json_object_get(target, "writeOnly")) &&
            cd_secret_is_reference(v))
            return;
        int before = c->count;
        validate(c, target, v, path, depth + 1);
        if (c->count > before)
            return; /* the siblings would mostly repeat it */
    }
    const json_t *type = json_object_get(schema, "type");
    if (json_is_string(type) && !type_matches(json_string_value(type), v)) {
        add_error(c, path, "must be %s %s, not %s",
                  strchr("aeiou", json_string_value(type)[0]) ? "an" : "a",
                  json_string_value(type), type_of(v));
        return; /* the other keywords would only repeat it */
    }
    if (json_is_array(type)) {
        size_t i;
        json_t *t;
        int ok = 0;
        json_array_foreach(type, i, t) {
            if (json_is_string(t) && type_matches(json_string_value(t), v))
                ok = 1;
        }
        if (!ok) {
            cd_buf b;
            cd_buf_init(&b);
            json_array_foreach(type, i, t) {
                cd_buf_puts(&b, i ? " or " : "");
                cd_buf_puts(&b, json_is_string(t) ? json_string_value(t) : "?");
            }
            cd_buf_putc(&b, '\0');
            add_error(c, path, "must be %s, not %s", b.data, type_of(v));
            cd_buf_free(&b);
            return;
        }
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        size_t i;
        json_t *e;
        int found = 0;
        json_array_foreach(en, i, e) {
            if (json_equal(e, (json_t *)v))
                found = 1;
        }
        if (!found) {
            cd_buf b;
            cd_buf_init(&b);
            enum_message(&b, en);
            cd_buf_putc(&b, '\0');
            add_error(c, path, "must be one of %s", b.data);
            cd_buf_free(&b);
        }
    }
    const json_t *cn = json_object_get(schema, "const");
    if (cn && !json_equal((json_t *)cn, (json_t *)v)) {
        char *t = json_dumps(cn, JSON_ENCODE_ANY | JSON_COMPACT);
        add_error(c, path, "must be %s", t ? t : "the constant value");
        free(t);
    }
    if (json_is_object(v))
        validate_object(c, schema, v, path, depth);
    else if (json_is_array(v))
        validate_array(c, schema, v, path, depth);
    else if (json_is_string(v))
        validate_string(c, schema, v, path);
    else if (json_is_number(v))
        validate_number(c, schema, v, path);

    check_alternatives(c, json_object_get(schema, "oneOf"), v, path, depth, 1);
    check_alternatives(c, json_object_get(schema, "anyOf"), v, path, depth, 0);
    const json_t *all = json_object_get(schema, "allOf");
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a) {
        validate(c, a, v, path, depth + 1);
    }
}

int cd_jsonschema_validate(const json_t *schema, const json_t *instance, const char *prefix,
                           json_t *errors)
{
    long steps = 0;
    vctx c = {.errors = errors, .count = 0, .root = schema, .steps = &steps};
    validate(&c, schema, instance, prefix ? prefix : "", 0);
    if (steps > MAX_STEPS)
        add_error(&c, prefix, "cannot be checked: the driver's schema is too complex (its $refs "
                              "loop without end)");
    return c.count;
}
