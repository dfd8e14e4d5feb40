/*
 * plugin_generation.h — what a worker accepted from the plugin directory.
 *
 * Ops drop driver files into the live directory at any time: a file may be
 * half-copied, or overwritten in place while runs use it. So a worker never
 * runs drivers from the live directory. On start and on SIGHUP it copies
 * every file that may be loaded (regular, owned by root or the service,
 * not writable by others, in a directory that only they can rename files
 * in) into a new private generation directory, probes
 * the copies, and from then on its runners load only those copies. Nothing
 * that happens in the live directory between two SIGHUPs reaches a run.
 */
#ifndef CD_PLUGIN_GENERATION_H
#define CD_PLUGIN_GENERATION_H

#include <jansson.h>

/* Copies live_dir's acceptable .so files into base/plugins-GEN (created
 * 0700) and probes them there. Returns the probe result (as
 * cd_plugins_probe's, with "plugins_dir" = live_dir and the files refused
 * before copying added to "refused") and sets *gen_dir (malloc'd); NULL
 * with *err when the live directory or the generation cannot be read or
 * written. */
json_t *cd_plugins_accept(const char *self_exe, const char *live_dir, const char *base,
                          unsigned gen, char **gen_dir, char **err);

/* Deletes a generation directory and the files in it. */
void cd_plugins_generation_remove(const char *gen_dir);

#endif
