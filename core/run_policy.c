/* run_policy.c — see run_policy.h. */
#include "run_policy.h"

/* Defaults and bounds as connectord_max_attempts and connectord_days_back
 * (schema/014, 007) apply them to a config without the key: the ops page
 * leaves out a value equal to its default, so they must agree. */
static const char policy_properties[] =
    "{\"sync_days_back\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 366, \"default\": 1,"
    "  \"description\": \"a scheduled run fetches the day this many days before today, in the "
    "connector's time zone\"},"
    " \"auto_retry\": {\"type\": \"boolean\", \"default\": false,"
    "  \"description\": \"try a run again after a transient failure (never after a configuration "
    "error)\"},"
    " \"retry_count\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 10, \"default\": 3,"
    "  \"description\": \"how many times, with auto_retry, after the first attempt\"}}";

void cd_run_policy_schema_merge(json_t *schema)
{
    if (!json_is_object(schema))
        return;
    json_t *props = json_object_get(schema, "properties");
    if (!props) {
        props = json_object();
        json_object_set_new(schema, "properties", props);
    }
    if (!json_is_object(props))
        return;
    json_t *policy = json_loads(policy_properties, 0, NULL);
    if (!policy)
        return; /* out of memory: the driver's schema as it is */
    const char *key;
    json_t *value;
    json_object_foreach(policy, key, value)
        json_object_set(props, key, value);
    json_decref(policy);
}
