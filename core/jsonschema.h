/*
 * jsonschema.h — a JSON Schema validator for the subset connectord's drivers
 * use in describe_config(): type, properties, required,
 * additionalProperties (false or a schema), enum, const, minimum/maximum,
 * exclusiveMinimum/exclusiveMaximum, minLength/maxLength (in characters),
 * pattern, format (uri, date), items, minItems/maxItems, oneOf, anyOf,
 * allOf, and a local "$ref" ("#/$defs/name", a JSON pointer into the
 * schema; one that points nowhere is an error naming the field, one to
 * another document is ignored). "default", "description", "title", "writeOnly" are annotations and
 * do not affect validation, except that a field marked "writeOnly" accepts
 * a secret reference ({"secret": "env:NAME"}) whatever its declared type. Unknown keywords are ignored, as the
 * specification says.
 *
 * Patterns are ECMA-262 in JSON Schema; they are translated to POSIX
 * extended regular expressions (\d \s \w and their negations, inside and
 * outside brackets), which covers what drivers write.
 */
#ifndef CD_JSONSCHEMA_H
#define CD_JSONSCHEMA_H

#include <jansson.h>

/* Validates instance against schema and appends one
 * {"field": PATH, "message": TEXT} object to errors per problem. PATH is
 * prefix (may be "" or NULL) followed by ".name" for properties and "[i]"
 * for items: "connection_config.merchant_codes[2]". Messages never quote
 * the instance's string values (they may be secrets). Returns the number of
 * errors appended. */
int cd_jsonschema_validate(const json_t *schema, const json_t *instance, const char *prefix,
                           json_t *errors);

/* Translates an ECMA-262 pattern to a POSIX ERE (malloc'd), or NULL for a
 * pattern POSIX would read differently or refused as too costly for regcomp
 * (stacked quantifiers, counts over 100, nested repeats multiplying to more
 * than 1000 copies, more than 20000 elements once unrolled, over 1024
 * bytes). why, if not NULL, receives a static sentence saying which, for the
 * message shown to whoever wrote the schema. */
char *cd_jsonschema_posix_pattern(const char *ecma, const char **why);

#endif
