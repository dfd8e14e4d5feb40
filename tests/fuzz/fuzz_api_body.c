/*
 * fuzz_api_body.c — a request body as the API reads it: JSON parsing with
 * duplicate keys refused, the top-level field check, JSON Schema
 * validation of connection_config against a driver-like schema (every
 * keyword the validator knows, local $refs among them, one pointing at
 * itself), masking and unmasking of secrets.
 * Nothing may crash, leak or read out of bounds, whatever the bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "api_mask.h"
#include "api_validate.h"
#include "jsonschema.h"
#include "validate_child.h"

static const char schema_text[] =
    "{\"type\": \"object\", \"required\": [\"api_base_url\", \"merchant_codes\"],"
    "\"$defs\": {\"code\": {\"type\": \"string\", \"maxLength\": 8}, \"self\": {\"$ref\": \"#/$defs/self\"},"
    " \"tree\": {\"type\": \"object\", \"properties\": {\"kid\": {\"$ref\": \"#/$defs/tree\"}}}},"
    "\"additionalProperties\": false, \"properties\": {"
    "\"ref\": {\"$ref\": \"#/$defs/code\"}, \"dangling\": {\"$ref\": \"#/$defs/nope\"},"
    "\"loop\": {\"$ref\": \"#/$defs/self\"}, \"tree\": {\"$ref\": \"#/$defs/tree\"},"
    "\"api_base_url\": {\"type\": \"string\", \"pattern\": \"^https?://[^\\\\s]+$\", \"format\": \"uri\"},"
    "\"authentication_type\": {\"enum\": [\"IP_WHITELIST\", \"BEARER\"]},"
    "\"merchant_codes\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 50,"
    " \"items\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 20}},"
    "\"retry_count\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 20},"
    "\"ratio\": {\"type\": \"number\", \"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1},"
    "\"mode\": {\"const\": \"strict\"}, \"day\": {\"type\": \"string\", \"format\": \"date\"},"
    "\"either\": {\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\", \"pattern\": \"^[a-z]+$\"}]},"
    "\"map\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}},"
    "\"multi\": {\"type\": [\"string\", \"null\"]},"
    "\"password\": {\"writeOnly\": true, \"oneOf\": [{\"type\": \"string\", \"minLength\": 1},"
    " {\"type\": \"object\", \"required\": [\"secret\"], \"additionalProperties\": false,"
    "  \"properties\": {\"secret\": {\"type\": \"string\", \"pattern\": \"^(env|file|cred):.+\"}}}]},"
    "\"pgp\": {\"type\": \"object\", \"properties\": {\"passphrase\": {\"type\": \"string\", \"writeOnly\": true}}}"
    "}}";

/* The registry is empty here, so no driver is ever found and its
 * validate() child is never started: keep the process machinery out. */
int cd_validate_driver_run(const char *self_exe, const char *driver_path, const char *config,
                           const char *prefix, int timeout_ms, json_t *errors, char **err)
{
    (void)self_exe, (void)driver_path, (void)config, (void)prefix, (void)timeout_ms, (void)errors;
    *err = NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *schema;
    if (!schema)
        schema = json_loads(schema_text, 0, NULL);
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    json_t *errors = json_array();
    cd_api_check_connector_body(body, 1, errors);
    cd_api_check_connector_body(body, 0, errors);
    json_t *cfg = json_object_get(body, "connection_config");
    if (!cfg)
        cfg = body;
    cd_jsonschema_validate(schema, cfg, "connection_config", errors);
    /* Every error names a field and says something. */
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        if (!json_is_string(json_object_get(e, "field")) ||
            !json_is_string(json_object_get(e, "message")))
            __builtin_trap();
    }
    json_t *masked = json_deep_copy(cfg);
    cd_api_mask_config(masked, schema);
    cd_api_mask_config(masked, NULL);
    cd_api_unmask_config(masked, cfg, "connection_config", errors);
    json_decref(masked);
    /* Patterns straight from the input through the ECMA->POSIX translation. */
    json_t *pat = json_object_get(body, "pattern");
    if (json_is_string(pat)) {
        json_t *s = json_pack("{s:s, s:O}", "type", "string", "pattern", pat);
        json_t *v = json_string("sample text 123");
        cd_jsonschema_validate(s, v, "", errors);
        json_decref(v);
        json_decref(s);
    }
    json_decref(errors);
    json_decref(body);
    return 0;
}
