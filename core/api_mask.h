/*
 * api_mask.h — secrets in connection_config as the API shows them. A field
 * the driver's schema marks "writeOnly": true is shown as "********" when
 * it holds a plaintext value, and as itself when it holds a reference
 * ({"secret": "env:NAME"}). A PUT that sends "********" back keeps the
 * stored value, while the driver and the addresses stay (cd_api_unmask_update).
 * Without the driver's schema (driver not loaded), every value but
 * references, nulls and booleans is masked, so nothing leaks while a plugin
 * is missing.
 */
#ifndef CD_API_MASK_H
#define CD_API_MASK_H

#include <jansson.h>

/* Masks config in place. schema may be NULL (the driver not loaded):
 * every value but references, nulls and booleans is then masked, as
 * cd_api_mask_all does. */
void cd_api_mask_config(json_t *config, const json_t *schema);

/* Every value in node but secret references, nulls and booleans becomes
 * the mask. */
void cd_api_mask_all(json_t *node);

/* Masks a connector row object's connection_config in place, finding the
 * schema of its driver (or lower(connector_type)) in the registry
 * snapshot; without one (the driver not loaded) every value is masked. */
void cd_api_mask_connector(json_t *connector, json_t *snapshot);

/* The loaded driver's config schema (borrowed from snapshot), or NULL. */
const json_t *cd_api_driver_schema(json_t *snapshot, const char *driver);

/* In newcfg, replaces every "********" by the value at the same path in
 * oldcfg (oldcfg may be NULL). A mask with nothing stored behind it is an
 * error appended to errors as {"field": prefix.path, ...}. Returns the
 * number of errors appended. */
int cd_api_unmask_config(json_t *newcfg, const json_t *oldcfg, const char *prefix,
                         json_t *errors);

/* cd_api_unmask_config for an update of a connector: a mask may keep the
 * stored secret only while the connector keeps its driver and its
 * addresses. When the driver changes (old_driver to new_driver, as
 * cd_api_connector_driver names them) or an address field of the config
 * changes, every kept secret is an error naming its field: a secret kept
 * for one driver would reach another that may show or send it, and one
 * kept for one server would be sent to another. Address fields: a name
 * whose last word is url, uri, host, hostname, hostaddr, port, endpoint,
 * server, address, addr, domain, proxy, dsn or conninfo (or their plural),
 * a field naming the server's key or CAs (host_key_sha256, known_hosts_file,
 * ca_bundle, ... in api_mask.c), or a schema "format" of uri, url, uri-reference, iri, iri-reference,
 * hostname, idn-hostname, ipv4 or ipv6. schema (the driver's, may be NULL)
 * is followed for formats. A refused mask is left in newcfg as the mask
 * (nothing of the secret reaches a dry run's driver validate()). Returns
 * the number of errors appended. */
int cd_api_unmask_update(json_t *newcfg, const json_t *oldcfg, const char *prefix,
                         const char *old_driver, const char *new_driver, const json_t *schema,
                         json_t *errors);

/* 1 when a connection_config field name is an address by the name rule
 * above (base_url, sftp_host, baseURL, SFTPHost, host_name, ports), else 0. */
int cd_api_name_is_address(const char *key);

/* The driver a connector row runs: its "driver", else lower-case
 * connector_type. malloc'd; NULL when it has neither. */
char *cd_api_connector_driver(const json_t *connector);

#endif
