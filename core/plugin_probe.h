/*
 * plugin_probe.h — what the plugin directory holds, found without running
 * any driver code in the calling process: each file is loaded by a child
 * (`connectord probe-plugin FILE`), which prints its description as JSON.
 * A driver that crashes or hangs in init is refused with that reason.
 */
#ifndef CD_PLUGIN_PROBE_H
#define CD_PLUGIN_PROBE_H

#include <jansson.h>

/* {"plugins_dir": DIR, "loaded": [driver...], "refused": [{"file","reason"}]}
 * (new reference), or NULL with *err when the directory cannot be read. */
json_t *cd_plugins_probe(const char *self_exe, const char *dir, char **err);

/* The child side: loads path and prints one JSON object on stdout. */
int cd_plugin_probe_main(const char *path);

#endif
