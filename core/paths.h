/*
 * paths.h — where connectord finds its files. The build tree and every
 * install prefix share one layout (bin/, lib/connectord/plugins/,
 * share/connectord/schema/, etc/connectord/), so files are found relative
 * to the running executable: `cmake --install --prefix P` can pick any P.
 */
#ifndef CD_PATHS_H
#define CD_PATHS_H

/* Absolute path of the running executable (malloc'd), or NULL. */
char *cd_self_exe(void);

/* <prefix>/<rel> (malloc'd): the prefix is the executable's directory's
 * parent, resolved once per process. */
char *cd_path_from_prefix(const char *rel);

/* Resolves the prefix now (a process about to fork children that will ask
 * for it). */
void cd_paths_prepare(void);

/* <state directory>/<rel> (malloc'd): $STATE_DIRECTORY under systemd,
 * /var/lib/connectord for a /usr install, else <prefix>/var/lib/connectord. */
char *cd_path_state(const char *rel);

/* Default configuration file: <prefix>/etc/connectord/connectord.yaml when
 * it exists, else /etc/connectord/connectord.yaml. */
char *cd_default_config_path(void);

#endif
