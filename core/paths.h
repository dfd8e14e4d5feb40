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

/* <exe dir>/../<rel> (malloc'd). */
char *cd_path_from_prefix(const char *rel);

/* Default configuration file: <prefix>/etc/connectord/connectord.yaml when
 * it exists, else /etc/connectord/connectord.yaml. */
char *cd_default_config_path(void);

#endif
