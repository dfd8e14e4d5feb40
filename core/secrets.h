/*
 * secrets.h — secret references in connection_config.
 *
 * A reference is a JSON object with exactly one member "secret" whose
 * string value is "env:NAME", "file:/ABS/PATH" or "cred:NAME" (a systemd
 * credential: $CREDENTIALS_DIRECTORY/NAME). References are resolved only
 * inside the runner; a resolved value is never stored, logged or returned.
 */
#ifndef CD_SECRETS_H
#define CD_SECRETS_H

#include <jansson.h>
#include <stddef.h>

/* 1 if node is a secret reference object, else 0. */
int cd_secret_is_reference(const json_t *node);

/* Resolves "env:NAME" / "file:PATH" / "cred:NAME". On success returns 0 and
 * sets *out (malloc'd, NUL-terminated; one trailing newline of a file is
 * dropped) and *out_len. On failure returns -1 and *err says which reference
 * failed and why, without any secret value ("secret env:PGPASS is not set").
 * Files larger than 64 KiB, empty names and relative file paths are refused. */
int cd_secret_resolve(const char *reference, char **out, size_t *out_len, char **err);
/* 0 when reference has the form cd_secret_resolve accepts (env:NAME
 * without '=', file:/ABSOLUTE/PATH, cred:NAME without '/'), else -1 with
 * *why (malloc'd): the API refuses at save time what every run would. */
int cd_secret_reference_check(const char *reference, char **why);

/* The set of resolved values of one run, used to scrub them from text. */
typedef struct cd_secret_set cd_secret_set;
cd_secret_set *cd_secret_set_new(void);
void cd_secret_set_free(cd_secret_set *set);
/* Values shorter than 4 bytes are not added (scrubbing them would mangle
 * ordinary text); the set keeps its own copy. */
void cd_secret_set_add(cd_secret_set *set, const char *value, size_t len);

/* Returns a malloc'd copy of text with every value in set replaced by
 * "********", also where it is written encoded: JSON-escaped (\" \\ \/
 * \n \u00e9 in either case, a surrogate pair, and escaped twice),
 * percent-encoded (either case, '+' or %20 for a space), JSON inside a
 * percent-encoding, and inside a base64 word (an HTTP Basic credential,
 * base64 of user:password, masks the whole word). Overlapping and adjacent
 * finds become one mask. Linear in the length of text for a given set.
 * set may be NULL. */
char *cd_secret_scrub(const cd_secret_set *set, const char *text);

/* How far the encoded form of a value in set can reach (0: none, or set
 * NULL): 8 bytes for each byte of the longest value (JSON inside a
 * percent-encoding, %5Cu001f). Text cut to a bound must be scrubbed with that much beyond
 * the bound, or a value crossing the cut escapes as its prefix. */
size_t cd_secret_longest(const cd_secret_set *set);

/* Replaces, in place and recursively, every reference inside config by a
 * JSON string holding its value, adding each value to set. Returns 0, or -1
 * with *err naming the JSON path of the reference that failed. */
int cd_secrets_resolve_tree(json_t *config, cd_secret_set *set, char **err);

/* Adds to set every plaintext string found at a field that schema marks
 * "writeOnly": true (so plaintext secrets are scrubbed too). schema may be
 * NULL. */
void cd_secrets_collect_marked(const json_t *config, const json_t *schema, cd_secret_set *set);

/* The schema a local "$ref" ("#/$defs/x", a JSON pointer into root)
 * points at, or NULL: remote references are not fetched. */
const json_t *cd_secrets_schema_ref(const json_t *root, const char *ref);

#endif
